// Host side of the GPU Doge forward (kernels/doge_forward_cuda.h): weight upload, activation buffers, the per-layer
// sequence of launches (the same order as core/model/doge_forward.cpp), per-layer downloads of the captures, tile maps.
#include "kernels/doge_forward_cuda.h"

#include <cublas_v2.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "core/base/checked_math.h"
#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/model/forward_memory.h"
#include "core/model/rope.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "kernels/doge_forward_kernels.cuh"
#include "kernels/mask_build.cuh"
#include "kernels/tile_map.cuh"
#include "kernels/view_reduce_cuda.h"

namespace dmascope::cuda {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr int kGatherTileRows = 64;  // the gather lists' query tile (launch_gather_lists)

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("GPU forward: cuBLAS error {} in {}", static_cast<int>(status), what);
}

// A weight tensor on the device, fp32. Undefined or empty tensors (absent biases, q/k norms) stay empty.
DeviceBuffer upload_weight(const Tensor& tensor, const std::string& name, const std::filesystem::path& dir) {
  if (!tensor.defined() || tensor.numel() == 0) return {};
  if (tensor.dtype() != DType::F32)
    fail("GPU forward: tensor {} of {} is {}, expected F32 (the loader converts weights to F32)", name, dir.string(),
         dtype_name(tensor.dtype()));
  DeviceBuffer buffer(static_cast<std::size_t>(tensor.numel()) * sizeof(float));
  buffer.upload(tensor.data<float>(), buffer.bytes());
  return buffer;
}

struct DeviceLayerWeights {
  DeviceBuffer input_norm, q_proj, k_proj, v_proj, o_proj, q_proj_bias, k_proj_bias, v_proj_bias, o_proj_bias;
  DeviceBuffer dt_proj_bias, q_norm, k_norm, A, dt_proj, input_residual, post_norm, gate_proj, up_proj, down_proj;
  DeviceBuffer gate_proj_bias, up_proj_bias, down_proj_bias, post_residual;
};

// Grows a reusable buffer; never shrinks it (a shorter run reuses the longer run's memory).
void ensure_bytes(DeviceBuffer& buffer, std::size_t bytes) {
  if (buffer.bytes() >= bytes) return;
  buffer = DeviceBuffer();  // free first: the new size may not fit beside the old one
  buffer = DeviceBuffer(bytes);
}

// Page-locked host blocks for the q/k/v captures (megabytes per layer), reused across runs: copying into pageable,
// freshly allocated memory costs page faults plus a staged copy (~60 ms for 128 MB on the H100 box, most of the app's
// 100 ms recompute budget at 32K); into pinned memory the copy runs at PCIe speed. A block goes back to the pool when
// the last Tensor borrowing it is destroyed (the app's previous result, on the UI thread: hence the mutex), so the
// app keeps about two sets alive (the shown result and the one being computed). Free blocks beyond kMaxFreeBytes are
// released at once.
class PinnedPool : public std::enable_shared_from_this<PinnedPool> {
 public:
  ~PinnedPool() {
    for (const Block& block : free_) cudaFreeHost(block.pointer);
  }

  std::shared_ptr<std::byte> take(std::size_t bytes) {
    void* pointer = nullptr;
    std::size_t size = 0;
    {
      const std::lock_guard lock(mutex_);
      auto best = free_.end();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->bytes >= bytes && (best == free_.end() || it->bytes < best->bytes)) best = it;
      if (best != free_.end()) {
        pointer = best->pointer;
        size = best->bytes;
        free_bytes_ -= size;
        free_.erase(best);
      }
    }
    if (!pointer) {
      DMASCOPE_CUDA_CHECK(cudaMallocHost(&pointer, bytes));
      size = bytes;
    }
    return {static_cast<std::byte*>(pointer),
            [pool = shared_from_this(), size](std::byte* block) { pool->give_back(block, size); }};
  }

 private:
  static constexpr std::size_t kMaxFreeBytes = std::size_t{4} << 30;
  struct Block {
    void* pointer;
    std::size_t bytes;
  };

  void give_back(void* pointer, std::size_t bytes) {
    const std::lock_guard lock(mutex_);
    if (free_bytes_ + bytes > kMaxFreeBytes) {
      cudaFreeHost(pointer);
      return;
    }
    free_.push_back({pointer, bytes});
    free_bytes_ += bytes;
  }

  std::mutex mutex_;
  std::vector<Block> free_;
  std::size_t free_bytes_ = 0;
};

// A captured tensor in a pinned block, filled by an async copy on `stream` (valid after the stream synchronizes).
Tensor download_pinned(PinnedPool& pool, const DeviceBuffer& source, Shape shape, cudaStream_t stream) {
  const std::size_t bytes = static_cast<std::size_t>(shape_numel(shape)) * sizeof(float);
  std::shared_ptr<std::byte> block = pool.take(bytes);
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(block.get(), source.get(), bytes, cudaMemcpyDeviceToHost, stream));
  const std::byte* pointer = block.get();
  return Tensor::borrow(std::move(block), pointer, DType::F32, std::move(shape));
}

}  // namespace

std::string gpu_forward_unsupported_reason(const DogeModel& model) {
  const DogeConfig& c = model.config;
  if (c.is_moe)
    return fmt::format("{} is a CDMoE model (is_moe): the GPU forward does not implement the routed experts; use the "
                       "CPU backend", model.dir.string());
  if (c.head_dim < 2 || c.head_dim > 128 || c.head_dim % 2 != 0)
    return fmt::format("{} has head_dim {}: the GPU forward supports even head dims up to 128", model.dir.string(),
                       c.head_dim);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    return fmt::format("{} has {} query heads for {} kv heads (not a multiple)", model.dir.string(),
                       c.num_attention_heads, c.num_key_value_heads);
  return {};
}

struct DogeForwardCuda::Impl {
  std::filesystem::path dir;
  DogeConfig config;
  std::int64_t bias_heads = 0;
  std::vector<DeviceLayerWeights> layers;
  DeviceBuffer embed, final_norm, lm_head_untied;
  const float* lm_head = nullptr;  // embed when tied
  std::shared_ptr<PinnedPool> pinned = std::make_shared<PinnedPool>();
  std::size_t weight_bytes = 0;

  cublasHandle_t cublas = nullptr;
  cudaStream_t stream = nullptr;
  // 6 per layer (begin, attention begin/end, end, tile map begin/end) + 2 for the head.
  std::vector<cudaEvent_t> events;

  // Activations of the last run, grown as needed.
  DeviceBuffer ids, x, h, q, k, v, q_rope, k_rope, dt, beta, death, context, attn_out, gate, up, mlp_out, logits;
  DeviceBuffer inverse_frequencies, mask_workspace, lists, counts, tile_status, tile_counters;

  std::size_t activation_bytes() const {  // what a run may free and reuse (require_memory_for_run)
    std::size_t bytes = 0;
    for (const DeviceBuffer* buffer : {&ids, &x, &h, &q, &k, &v, &q_rope, &k_rope, &dt, &beta, &death, &context,
                                       &attn_out, &gate, &up, &mlp_out, &logits, &mask_workspace, &lists, &counts,
                                       &tile_status})
      bytes += buffer->bytes();
    return bytes;
  }

  ~Impl() {
    for (cudaEvent_t event : events) cudaEventDestroy(event);
    if (cublas) cublasDestroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }

  // y [rows, out] = x [rows, in] · Wᵀ (+ bias): cuBLAS is column-major, so this is C(out × rows) = Wᵀ(out × in) ·
  // X(in × rows) with W read as its column-major transpose.
  void linear(const float* x_rows, std::int64_t rows, std::int64_t in, const float* weight, std::int64_t out,
              const DeviceBuffer& bias, float* y, const char* what) {
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublasSgemm(cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(rows),
                             static_cast<int>(in), &one, weight, static_cast<int>(in), x_rows, static_cast<int>(in),
                             &zero, y, static_cast<int>(out)),
                 what);
    if (bias.get()) detail::launch_add_row_bias(y, rows, static_cast<int>(out), bias.as<float>(), stream);
  }
};

DogeForwardCuda::DogeForwardCuda(const DogeModel& model) : impl_(new Impl) {
  if (auto reason = gpu_forward_unsupported_reason(model); !reason.empty()) fail("GPU forward: {}", reason);
  if (!device_info().available) fail("GPU forward: no CUDA GPU (sm_80 or newer) found");
  Impl& m = *impl_;
  m.dir = model.dir;
  m.config = model.config;
  m.bias_heads = model.weights.bias_heads;
  const auto& w = model.weights;
  auto up = [&](const Tensor& tensor, const std::string& name) {
    DeviceBuffer buffer = upload_weight(tensor, name, model.dir);
    m.weight_bytes += buffer.bytes();
    return buffer;
  };
  m.embed = up(w.embed, "model.embed_tokens.weight");
  m.final_norm = up(w.final_norm, "model.norm.weight");
  if (w.lm_head_tied || w.lm_head.data<float>() == w.embed.data<float>()) {
    m.lm_head = m.embed.as<float>();
  } else {
    m.lm_head_untied = up(w.lm_head, "lm_head.weight");
    m.lm_head = m.lm_head_untied.as<float>();
  }
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const DogeLayerWeights& l = w.layers[i];
    const std::string p = fmt::format("model.layers.{}.", i);
    DeviceLayerWeights d;
    d.input_norm = up(l.input_norm, p + "input_layernorm.weight");
    d.q_proj = up(l.q_proj, p + "self_attn.q_proj.weight");
    d.k_proj = up(l.k_proj, p + "self_attn.k_proj.weight");
    d.v_proj = up(l.v_proj, p + "self_attn.v_proj.weight");
    d.o_proj = up(l.o_proj, p + "self_attn.o_proj.weight");
    d.q_proj_bias = up(l.q_proj_bias, p + "self_attn.q_proj.bias");
    d.k_proj_bias = up(l.k_proj_bias, p + "self_attn.k_proj.bias");
    d.v_proj_bias = up(l.v_proj_bias, p + "self_attn.v_proj.bias");
    d.o_proj_bias = up(l.o_proj_bias, p + "self_attn.o_proj.bias");
    d.dt_proj_bias = up(l.dt_proj_bias, p + "self_attn.dt_proj.bias");
    d.q_norm = up(l.q_norm, p + "self_attn.q_norm.weight");
    d.k_norm = up(l.k_norm, p + "self_attn.k_norm.weight");
    d.A = up(l.A, p + "self_attn.A");
    d.dt_proj = up(l.dt_proj, p + "self_attn.dt_proj.weight");
    d.input_residual = up(l.input_residual, p + "input_residual");
    d.post_norm = up(l.post_norm, p + "post_attention_layernorm.weight");
    d.gate_proj = up(l.gate_proj, p + "mlp.gate_proj.weight");
    d.up_proj = up(l.up_proj, p + "mlp.up_proj.weight");
    d.down_proj = up(l.down_proj, p + "mlp.down_proj.weight");
    d.gate_proj_bias = up(l.gate_proj_bias, p + "mlp.gate_proj.bias");
    d.up_proj_bias = up(l.up_proj_bias, p + "mlp.up_proj.bias");
    d.down_proj_bias = up(l.down_proj_bias, p + "mlp.down_proj.bias");
    d.post_residual = up(l.post_residual, p + "post_attention_residual");
    m.layers.push_back(std::move(d));
  }
  // A blocking stream (orders with cudaMemcpy on the legacy stream); cuBLAS with TF32 off: the CPU twin is plain fp32.
  DMASCOPE_CUDA_CHECK(cudaStreamCreate(&m.stream));
  check_cublas(cublasCreate(&m.cublas), "cublasCreate");
  check_cublas(cublasSetStream(m.cublas, m.stream), "cublasSetStream");
  check_cublas(cublasSetMathMode(m.cublas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  m.events.resize(static_cast<std::size_t>(6 * m.config.num_hidden_layers + 2));
  for (cudaEvent_t& event : m.events) DMASCOPE_CUDA_CHECK(cudaEventCreate(&event));
}

DogeForwardCuda::~DogeForwardCuda() = default;

std::size_t DogeForwardCuda::weight_bytes() const { return impl_->weight_bytes; }

namespace {

// Refuses a run whose buffers cannot fit, before run() allocates any: the device buffers against what cudaMemGetInfo
// reports free plus what this forward already holds (ensure_bytes frees a buffer before growing it), and the tile
// maps that come back to the host against MemAvailable. The estimate is core's (core/model/forward_memory.h).
void require_memory_for_run(const DogeConfig& config, std::int64_t bias_heads, std::size_t held_bytes,
                            std::int64_t length, const ForwardOptions& options, const GpuForwardOutputs& outputs,
                            const detail::MaskBuildPlan& plan) {
  const std::int64_t logit_rows = outputs.logits == LogitRows::All ? length : outputs.logits == LogitRows::Last ? 1 : 0;
  const bool tiles_valid = options.tiles.rows >= 1 && options.tiles.cols >= 1;  // run() reports a bad shape itself
  const ForwardMemoryEstimate device = estimate_gpu_forward_device_memory(
      config, bias_heads, length, options, logit_rows, outputs.tile_maps && outputs.tile_maps_on_gpu && tiles_valid,
      static_cast<std::int64_t>(detail::mask_build_workspace_bytes(plan)));
  std::size_t free_bytes = 0, total_bytes = 0;
  DMASCOPE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  require_memory(device, static_cast<std::int64_t>(free_bytes + held_bytes),
                 fmt::format("GPU forward of {} tokens", length), "free device memory (cudaMemGetInfo)");
  if (outputs.tile_maps && tiles_valid) {
    ForwardMemoryEstimate host;
    const auto tiles = [&](std::int64_t size) { return (length + size - 1) / size; };
    host.tile_map_bytes =
        saturating_mul(saturating_mul(config.num_hidden_layers, bias_heads),
                       saturating_mul(tiles(options.tiles.rows), tiles(options.tiles.cols)));
    if (const auto available = available_host_memory_bytes())
      require_memory(host, *available,
                     fmt::format("GPU forward of {} tokens: tile maps {}x{}", length, options.tiles.rows,
                                 options.tiles.cols),
                     "MemAvailable in /proc/meminfo");
  }
}

}  // namespace

GpuForwardResult DogeForwardCuda::run(std::span<const std::int32_t> ids, const ForwardOptions& options,
                                      const GpuForwardOutputs& outputs) {
  const auto start = Clock::now();
  Impl& m = *impl_;
  const DogeConfig& c = m.config;
  const std::int64_t L = static_cast<std::int64_t>(ids.size());
  const std::int64_t D = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim;
  const std::int64_t V = c.vocab_size, I = c.intermediate_size, Hb = m.bias_heads;
  if (L == 0) fail("GPU forward: no input ids");
  if (L >= (std::int64_t{1} << 30)) fail("GPU forward: {} tokens are too many (the mask build indexes keys in int32)", L);
  for (std::int64_t p = 0; p < L; ++p)
    if (ids[p] < 0 || ids[p] >= V)
      fail("GPU forward: input id {} at position {} is outside the vocabulary [0, {})", ids[p], p, V);
  if (options.capture_probs)
    fail("GPU forward: attention probabilities are not materialized on the GPU (use the CPU forward for them)");
  if (outputs.device_masks && (outputs.device_masks->layers() != c.num_hidden_layers ||
                               outputs.device_masks->bias_heads() != Hb || outputs.device_masks->length() != L))
    fail("GPU forward: the device masks hold {} layers × {} bias heads × {} tokens, the run needs {} × {} × {}",
         outputs.device_masks->layers(), outputs.device_masks->bias_heads(), outputs.device_masks->length(),
         c.num_hidden_layers, Hb, L);

  GpuForwardResult out;
  ForwardResult& result = out.forward;
  result.window = options.window > 0 ? options.window : c.keep_window_size;
  const std::int64_t window = std::min(result.window, L);
  const int capacity = static_cast<int>(std::min<std::int64_t>(L, window + kGatherTileRows));
  const int q_tiles = static_cast<int>((L + kGatherTileRows - 1) / kGatherTileRows);
  const detail::MaskBuildPlan plan = detail::make_mask_build_plan(static_cast<int>(Hb), static_cast<int>(L),
                                                                  static_cast<int>(window), options.mask_variant);
  require_memory_for_run(c, Hb, m.activation_bytes(), L, options, outputs, plan);

  constexpr std::size_t f = sizeof(float);
  const auto n = [](std::int64_t count) { return static_cast<std::size_t>(count); };
  ensure_bytes(m.ids, n(L) * 4);
  ensure_bytes(m.x, n(L * D) * f);
  ensure_bytes(m.h, n(L * D) * f);
  ensure_bytes(m.q, n(L * H * d) * f);
  ensure_bytes(m.k, n(L * Hkv * d) * f);
  ensure_bytes(m.v, n(L * Hkv * d) * f);
  ensure_bytes(m.q_rope, n(L * H * d) * f);
  ensure_bytes(m.k_rope, n(L * Hkv * d) * f);
  ensure_bytes(m.dt, n(L * Hb) * f);
  ensure_bytes(m.beta, n(L * Hb) * f);
  ensure_bytes(m.death, n(L * Hb) * 4);
  ensure_bytes(m.context, n(L * H * d) * f);
  ensure_bytes(m.attn_out, n(L * D) * f);
  ensure_bytes(m.gate, n(L * I) * f);
  ensure_bytes(m.up, n(L * I) * f);
  ensure_bytes(m.mlp_out, n(L * D) * f);
  const std::int64_t logit_rows = outputs.logits == LogitRows::All ? L : outputs.logits == LogitRows::Last ? 1 : 0;
  ensure_bytes(m.logits, n(logit_rows * V) * f);
  ensure_bytes(m.mask_workspace, detail::mask_build_workspace_bytes(plan));
  ensure_bytes(m.lists, n(Hb) * q_tiles * capacity * 4);
  ensure_bytes(m.counts, n(Hb) * q_tiles * 4);
  const bool gpu_tile_maps = outputs.tile_maps && outputs.tile_maps_on_gpu;
  if (outputs.tile_maps && (options.tiles.rows < 1 || options.tiles.cols < 1))
    fail("GPU forward: tile shape {}x{} must be positive", options.tiles.rows, options.tiles.cols);
  const std::int64_t map_q_tiles = (L + options.tiles.rows - 1) / options.tiles.rows;
  const std::int64_t map_k_tiles = (L + options.tiles.cols - 1) / options.tiles.cols;
  const std::size_t map_tiles = n(map_q_tiles * map_k_tiles);
  if (gpu_tile_maps) {
    ensure_bytes(m.tile_status, n(Hb) * map_tiles);
    ensure_bytes(m.tile_counters, n(Hb) * detail::kTileMapCounters * sizeof(unsigned long long));
  }
  if (outputs.poison_activations)
    for (DeviceBuffer* buffer : {&m.x, &m.h, &m.q, &m.k, &m.v, &m.q_rope, &m.k_rope, &m.dt, &m.beta, &m.death,
                                 &m.context, &m.attn_out, &m.gate, &m.up, &m.mlp_out, &m.logits, &m.lists, &m.counts})
      if (buffer->get()) buffer->fill_bytes(0xFF);  // NaN as fp32, -1 as int32
  if (outputs.poison_activations && gpu_tile_maps) m.tile_status.fill_bytes(0xEE);  // not a TileStatus
  const std::vector<float> inverse_frequencies =
      rope_inverse_frequencies(c.rope, d, c.max_position_embeddings, L);
  ensure_bytes(m.inverse_frequencies, inverse_frequencies.size() * f);
  m.inverse_frequencies.upload(inverse_frequencies.data(), inverse_frequencies.size() * f);
  m.ids.upload(ids.data(), n(L) * 4);

  const float eps = static_cast<float>(c.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int length = static_cast<int>(L);
  float* x = m.x.as<float>();
  float* h = m.h.as<float>();
  detail::launch_embed_rows(m.embed.as<float>(), m.ids.as<std::int32_t>(), length, static_cast<int>(D), x, m.stream);

  for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    if (options.cancel && options.cancel->load()) throw ForwardCancelled{};
    const DeviceLayerWeights& w = m.layers[static_cast<std::size_t>(layer)];
    cudaEvent_t* events = m.events.data() + 6 * layer;
    DMASCOPE_CUDA_CHECK(cudaEventRecord(events[0], m.stream));
    detail::launch_rms_norm(x, L, static_cast<int>(D), w.input_norm.as<float>(), eps, h, m.stream);
    m.linear(h, L, D, w.q_proj.as<float>(), H * d, w.q_proj_bias, m.q.as<float>(), "q_proj");
    m.linear(h, L, D, w.k_proj.as<float>(), Hkv * d, w.k_proj_bias, m.k.as<float>(), "k_proj");
    m.linear(h, L, D, w.v_proj.as<float>(), Hkv * d, w.v_proj_bias, m.v.as<float>(), "v_proj");
    if (w.q_norm.get()) {  // per-head RMSNorm over d, before RoPE (Transformers layout)
      detail::launch_rms_norm(m.q.as<float>(), L * H, static_cast<int>(d), w.q_norm.as<float>(), eps, m.q.as<float>(),
                              m.stream);
      detail::launch_rms_norm(m.k.as<float>(), L * Hkv, static_cast<int>(d), w.k_norm.as<float>(), eps,
                              m.k.as<float>(), m.stream);
    }
    detail::launch_rope_heads_first(m.q.as<float>(), length, static_cast<int>(H), static_cast<int>(d),
                                    m.inverse_frequencies.as<float>(), m.q_rope.as<float>(), m.stream);
    detail::launch_rope_heads_first(m.k.as<float>(), length, static_cast<int>(Hkv), static_cast<int>(d),
                                    m.inverse_frequencies.as<float>(), m.k_rope.as<float>(), m.stream);
    m.linear(m.v.as<float>(), L, Hkv * d, w.dt_proj.as<float>(), Hb, w.dt_proj_bias, m.dt.as<float>(), "dt_proj");
    detail::launch_dynamic_bias(m.dt.as<float>(), length, static_cast<int>(Hb), w.A.as<float>(),
                                options.bias_formula == BiasFormula::Exp, m.beta.as<float>(), m.stream);

    DMASCOPE_CUDA_CHECK(cudaEventRecord(events[1], m.stream));
    detail::launch_mask_build(plan, m.beta.as<float>(), m.death.as<std::int32_t>(), m.mask_workspace.get(), m.stream);
    detail::launch_gather_lists(m.death.as<std::int32_t>(), static_cast<int>(Hb), length, length, q_tiles, capacity,
                                m.lists.as<std::int32_t>(), m.counts.as<std::int32_t>(), m.stream);
    detail::AttentionF32Params p;
    p.q = m.q_rope.as<float>();
    p.k = m.k_rope.as<float>();
    p.v = m.v.as<float>();  // token-major [L, Hkv, d]: no transpose needed
    p.beta = m.beta.as<float>();
    p.death = m.death.as<std::int32_t>();
    p.lists = m.lists.as<std::int32_t>();
    p.counts = m.counts.as<std::int32_t>();
    p.out = m.context.as<float>();  // [L, H, d]: o_proj's input
    p.q_head_stride = L * d;
    p.q_row_stride = d;
    p.k_head_stride = L * d;
    p.k_row_stride = d;
    p.v_head_stride = d;
    p.v_row_stride = Hkv * d;
    p.out_head_stride = d;
    p.out_row_stride = H * d;
    p.q_heads = static_cast<int>(H);
    p.kv_heads = static_cast<int>(Hkv);
    p.bias_heads = static_cast<int>(Hb);
    p.length = length;
    p.head_dim = static_cast<int>(d);
    p.q_tiles = q_tiles;
    p.capacity = capacity;
    p.scale = scale;
    detail::launch_attention_f32(p, m.stream);
    DMASCOPE_CUDA_CHECK(cudaEventRecord(events[2], m.stream));

    m.linear(m.context.as<float>(), L, H * d, w.o_proj.as<float>(), D, w.o_proj_bias, m.attn_out.as<float>(), "o_proj");
    detail::launch_residual(x, w.input_residual.as<float>(), m.attn_out.as<float>(), L, static_cast<int>(D), m.stream);
    detail::launch_rms_norm(x, L, static_cast<int>(D), w.post_norm.as<float>(), eps, h, m.stream);
    m.linear(h, L, D, w.gate_proj.as<float>(), I, w.gate_proj_bias, m.gate.as<float>(), "gate_proj");
    m.linear(h, L, D, w.up_proj.as<float>(), I, w.up_proj_bias, m.up.as<float>(), "up_proj");
    detail::launch_silu_gate(m.gate.as<float>(), m.up.as<float>(), L * I, m.stream);
    m.linear(m.gate.as<float>(), L, I, w.down_proj.as<float>(), D, w.down_proj_bias, m.mlp_out.as<float>(),
             "down_proj");
    detail::launch_residual(x, w.post_residual.as<float>(), m.mlp_out.as<float>(), L, static_cast<int>(D), m.stream);
    DMASCOPE_CUDA_CHECK(cudaEventRecord(events[3], m.stream));
    DMASCOPE_CUDA_CHECK(cudaEventRecord(events[4], m.stream));
    if (gpu_tile_maps) {
      DMASCOPE_CUDA_CHECK(cudaMemsetAsync(m.tile_counters.get(), 0, m.tile_counters.bytes(), m.stream));
      detail::launch_tile_map(m.death.as<std::int32_t>(), static_cast<int>(Hb), length,
                              static_cast<int>(options.tiles.rows), static_cast<int>(options.tiles.cols),
                              m.tile_status.as<std::uint8_t>(), m.tile_counters.as<unsigned long long>(), m.stream);
    }
    DMASCOPE_CUDA_CHECK(cudaEventRecord(events[5], m.stream));
    DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));  // surfaces execution errors of this layer here
    float layer_ms = 0.0f, attention_ms = 0.0f, tile_map_ms = 0.0f;
    DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&layer_ms, events[0], events[3]));
    DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&attention_ms, events[1], events[2]));
    DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&tile_map_ms, events[4], events[5]));
    out.gpu_ms += layer_ms + tile_map_ms;
    result.attention_ms += attention_ms;
    out.tile_map_ms += tile_map_ms;

    if (outputs.device_masks)  // before the next layer reuses the buffer; same stream, so in order
      DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(outputs.device_masks->layer_data(layer), m.death.get(),
                                          n(Hb * L) * 4, cudaMemcpyDeviceToDevice, m.stream));
    // The layer's captures, while the device waits (per-layer buffers are reused by the next layer).
    const auto download_start = Clock::now();
    LayerCapture capture;
    capture.dyn_bias = Tensor::zeros(DType::F32, {1, Hb, L});
    m.beta.download(capture.dyn_bias.mutable_data<float>(), n(Hb * L) * f);
    capture.death = Tensor::zeros(DType::I32, {1, Hb, L});
    m.death.download(capture.death.mutable_data<std::int32_t>(), n(Hb * L) * 4);
    if (outputs.attention_inputs) {
      capture.q_rope = download_pinned(*m.pinned, m.q_rope, {1, H, L, d}, m.stream);
      capture.k_rope = download_pinned(*m.pinned, m.k_rope, {1, Hkv, L, d}, m.stream);
      capture.v = download_pinned(*m.pinned, m.v, {1, L, Hkv * d}, m.stream);
      DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
    }
    out.download_ms += ms_since(download_start);
    if (gpu_tile_maps) {
      const auto tiles_start = Clock::now();
      std::vector<unsigned long long> counters(n(Hb) * detail::kTileMapCounters);
      m.tile_counters.download(counters.data(), counters.size() * sizeof(unsigned long long));
      for (std::int64_t head = 0; head < Hb; ++head) {
        TileMap map;
        map.shape = options.tiles;
        map.q_tiles = map_q_tiles;
        map.k_tiles = map_k_tiles;
        map.status.resize(map_tiles);
        DMASCOPE_CUDA_CHECK(cudaMemcpy(map.status.data(), m.tile_status.as<std::uint8_t>() + head * map_tiles,
                                       map_tiles, cudaMemcpyDeviceToHost));
        const unsigned long long* value = counters.data() + head * detail::kTileMapCounters;
        map.skipped = static_cast<std::int64_t>(value[0]);
        map.partial = static_cast<std::int64_t>(value[1]);
        map.full = static_cast<std::int64_t>(value[2]);
        map.causal_tiles = static_cast<std::int64_t>(value[3]);
        map.kept_entries = static_cast<std::int64_t>(value[4]);
        map.causal_entries = static_cast<std::int64_t>(value[5]);
        capture.tile_maps.push_back(std::move(map));
      }
      out.tile_map_ms += ms_since(tiles_start);
    }
    result.layers.push_back(std::move(capture));
    if (options.on_progress) options.on_progress(layer + 1, c.num_hidden_layers);
  }
  if (options.cancel && options.cancel->load()) throw ForwardCancelled{};

  cudaEvent_t* head_events = m.events.data() + 6 * c.num_hidden_layers;
  DMASCOPE_CUDA_CHECK(cudaEventRecord(head_events[0], m.stream));
  if (logit_rows > 0) {
    const float* last_rows = x + (L - logit_rows) * D;
    detail::launch_rms_norm(last_rows, logit_rows, static_cast<int>(D), m.final_norm.as<float>(), eps, h, m.stream);
    m.linear(h, logit_rows, D, m.lm_head, V, DeviceBuffer{}, m.logits.as<float>(), "lm_head");
  }
  DMASCOPE_CUDA_CHECK(cudaEventRecord(head_events[1], m.stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  float head_ms = 0.0f;
  DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&head_ms, head_events[0], head_events[1]));
  out.gpu_ms += head_ms;
  if (logit_rows > 0) {
    const auto download_start = Clock::now();
    result.logits = Tensor::zeros(DType::F32, {1, logit_rows, V});
    m.logits.download(result.logits.mutable_data<float>(), n(logit_rows * V) * f);
    out.download_ms += ms_since(download_start);
  }

  if (outputs.tile_maps && !gpu_tile_maps) {  // on the CPU from the death arrays, every (layer, head) map in parallel
    const auto tiles_start = Clock::now();
    for (auto& capture : result.layers) capture.tile_maps.resize(static_cast<std::size_t>(Hb));
    const std::int64_t maps = c.num_hidden_layers * Hb;
    parallel_for(maps, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        LayerCapture& capture = result.layers[static_cast<std::size_t>(i / Hb)];
        capture.tile_maps[static_cast<std::size_t>(i % Hb)] =
            build_tile_map(capture.death.data<std::int32_t>() + (i % Hb) * L, L, L, options.tiles);
      }
    });
    out.tile_map_ms = ms_since(tiles_start);
  }
  result.elapsed_ms = ms_since(start);
  return out;
}

}  // namespace dmascope::cuda
