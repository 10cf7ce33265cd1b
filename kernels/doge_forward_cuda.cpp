// Host side of the GPU Doge forward (kernels/doge_forward_cuda.h): weight upload, activation buffers, the per-layer
// sequence of launches (the same order as core/model/doge_forward.cpp), per-layer downloads of the captures, tile maps.
#include "kernels/doge_forward_cuda.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/base/checked_math.h"
#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/model/forward_memory.h"
#include "core/model/rope.h"
#include "kernels/cdmoe_kernels.cuh"
#include "kernels/cublas_loader.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "kernels/doge_forward_bf16_kernels.cuh"  // launch_flag_non_finite
#include "kernels/doge_forward_kernels.cuh"
#include "kernels/forward_steps.h"
#include "kernels/mask_build.cuh"
#include "kernels/pinned_host_pool.h"
#include "kernels/tile_map.cuh"
#include "kernels/cuda_captures.h"

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
  DeviceBuffer router_gate, down_embed, up_embed;  // CDMoE only
};

// Grows a reusable buffer; never shrinks it (a shorter run reuses the longer run's memory).
void ensure_bytes(DeviceBuffer& buffer, std::size_t bytes) {
  if (buffer.bytes() >= bytes) return;
  buffer = DeviceBuffer();  // free first: the new size may not fit beside the old one
  buffer = DeviceBuffer(bytes);
}

// A captured tensor in a pinned block, filled by an async copy on `stream` (valid after the stream synchronizes).
Tensor download_pinned(PinnedHostPool& pool, const DeviceBuffer& source, Shape shape, cudaStream_t stream) {
  const std::size_t bytes = static_cast<std::size_t>(shape_numel(shape)) * sizeof(float);
  std::shared_ptr<std::byte> block = pool.take(bytes);
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(block.get(), source.get(), bytes, cudaMemcpyDeviceToHost, stream));
  const std::byte* pointer = block.get();
  return Tensor::borrow(std::move(block), pointer, DType::F32, std::move(shape));
}

// What one run works with, fixed from the ids, options and outputs before anything is allocated: every buffer size
// and launch shape of the run follows from it.
struct RunPlan {
  std::int64_t length = 0;         // L
  std::int64_t window = 0;         // the DMA budget w in use (ForwardResult::window)
  std::int64_t kept_window = 0;    // min(w, L): the keys any row can keep
  int gather_q_tiles = 0;          // query tiles of kGatherTileRows rows
  int gather_capacity = 0;         // keys per gather list: min(L, w + kGatherTileRows)
  detail::MaskBuildPlan mask;
  std::int64_t logit_rows = 0;     // L, 1 or 0 (GpuForwardOutputs::logits)
  bool gpu_tile_maps = false;      // tile maps asked for and built on the device
  std::int64_t map_q_tiles = 0, map_k_tiles = 0;  // of the tile maps in the options' tile shape (when asked for)
  std::size_t map_tiles = 0;       // per bias head
};

// One layer's device times from its events (valid once the layer has synchronized).
struct LayerTimes {
  float layer_ms = 0.0f;      // the whole layer, tile map excluded
  float attention_ms = 0.0f;  // mask build + gather lists + attention
  float tile_map_ms = 0.0f;
};

}  // namespace

std::string gpu_forward_unsupported_reason(const DogeModel& model) {
  const DogeConfig& c = model.config;
  if (std::string reason = detail::cdmoe_unsupported_reason(c); !reason.empty())
    return fmt::format("{} is a CDMoE model whose routing the GPU kernels cannot take: {}; use the CPU backend",
                       model.dir.string(), reason);
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
  std::shared_ptr<PinnedHostPool> pinned = std::make_shared<PinnedHostPool>();
  std::size_t weight_bytes = 0;

  cublasHandle_t cublas = nullptr;
  cudaStream_t stream = nullptr;
  // 6 per layer (begin, attention begin/end, end, tile map begin/end) + 2 for the head.
  std::vector<cudaEvent_t> events;

  detail::CdmoeRoutingPlan cdmoe;  // CDMoE models only

  // Activations of the last run, grown as needed; router, expert_ids and routing_weights for CDMoE models only.
  DeviceBuffer ids, x, h, q, k, v, q_rope, k_rope, dt, beta, death, context, attn_out, gate, up, mlp_out, logits;
  DeviceBuffer router, expert_ids, routing_weights;
  DeviceBuffer inverse_frequencies, mask_workspace, lists, counts, tile_status, tile_counters;
  // Non-finite flags per (layer, step) (kernels/forward_steps.h), zeroed per run, read once at its end.
  DeviceBuffer flags;
  std::int64_t current_layer = 0;  // the layer being launched: the row of its flags
  int* flag(std::int64_t row, int step) const { return flags.as<int>() + row * detail::kForwardSteps + step; }
  void flag_non_finite(const DeviceBuffer& values, std::int64_t count, int step, std::int64_t row = -1) {
    detail::launch_flag_non_finite(values.as<float>(), count, flag(row < 0 ? current_layer : row, step), stream);
  }

  std::size_t activation_bytes() const {  // what a run may free and reuse (require_memory_for_run)
    std::size_t bytes = 0;
    for (const DeviceBuffer* buffer : {&ids, &x, &h, &q, &k, &v, &q_rope, &k_rope, &dt, &beta, &death, &context,
                                       &attn_out, &gate, &up, &mlp_out, &logits, &router, &expert_ids,
                                       &routing_weights, &mask_workspace, &lists, &counts, &tile_status})
      bytes += buffer->bytes();
    return bytes;
  }

  ~Impl() {
    for (cudaEvent_t event : events) cudaEventDestroy(event);
    if (cublas) cublas::destroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }

  // y [rows, out] = x [rows, in] · Wᵀ (+ bias): cuBLAS is column-major, so this is C(out × rows) = Wᵀ(out × in) ·
  // X(in × rows) with W read as its column-major transpose.
  void linear(const float* x_rows, std::int64_t rows, std::int64_t in, const float* weight, std::int64_t out,
              const DeviceBuffer& bias, float* y, const char* what) {
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublas::sgemm(cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(rows),
                             static_cast<int>(in), &one, weight, static_cast<int>(in), x_rows, static_cast<int>(in),
                             &zero, y, static_cast<int>(out)),
                 what);
    if (bias.get()) detail::launch_add_row_bias(y, rows, static_cast<int>(out), bias.as<float>(), stream);
  }

  // The steps of DogeForwardCuda::run, in order. Device memory is allocated only in reserve_activations, after the
  // plan: a check that the run fits on the device belongs between plan_run and reserve_activations.
  void check_run_inputs(std::span<const std::int32_t> ids, const ForwardOptions& options,
                        const GpuForwardOutputs& outputs) const;
  RunPlan plan_run(std::int64_t length, const ForwardOptions& options, const GpuForwardOutputs& outputs) const;
  void reserve_activations(const RunPlan& plan, bool poison);
  void upload_inputs(std::span<const std::int32_t> ids, const RunPlan& plan);
  void launch_embedding(const RunPlan& plan);
  void launch_layer(std::int64_t layer, const RunPlan& plan, const ForwardOptions& options);
  void launch_attention_block(const DeviceLayerWeights& w, const RunPlan& plan, const ForwardOptions& options);
  void launch_masked_attention(const RunPlan& plan);
  void launch_mlp_block(const DeviceLayerWeights& w, const RunPlan& plan);
  void launch_routed_experts(const DeviceLayerWeights& w, const RunPlan& plan);
  void launch_tile_maps(const RunPlan& plan, const ForwardOptions& options);
  LayerTimes wait_for_layer(std::int64_t layer);
  LayerCapture download_layer(std::int64_t layer, const RunPlan& plan, const ForwardOptions& options,
                              const GpuForwardOutputs& outputs, GpuForwardResult& timings);
  std::vector<TileMap> download_tile_maps(const RunPlan& plan, const ForwardOptions& options);
  double run_head(const RunPlan& plan);  // final norm + lm_head on the logit rows; returns its device ms
  Tensor download_logits(const RunPlan& plan);
};

DogeForwardCuda::DogeForwardCuda(const DogeModel& model) : impl_(new Impl) {
  if (auto reason = gpu_forward_unsupported_reason(model); !reason.empty()) fail("GPU forward: {}", reason);
  detail::require_cdmoe_weights(model, "GPU forward");
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
    if (m.config.is_moe) {
      d.router_gate = up(l.router_gate, p + "mlp.router_gate.weight");
      d.down_embed = up(l.down_embed, p + "mlp.down_embed.weight");
      d.up_embed = up(l.up_embed, p + "mlp.up_embed.weight");
    }
    m.layers.push_back(std::move(d));
  }
  if (m.config.is_moe) {
    m.cdmoe = detail::cdmoe_routing_plan(m.config);
    detail::configure_cdmoe_kernels(m.cdmoe);
  }
  // A blocking stream (orders with cudaMemcpy on the legacy stream); cuBLAS with TF32 off: the CPU twin is plain fp32.
  DMASCOPE_CUDA_CHECK(cudaStreamCreate(&m.stream));
  check_cublas(cublas::create(&m.cublas), "cublasCreate");
  check_cublas(cublas::set_stream(m.cublas, m.stream), "cublasSetStream");
  check_cublas(cublas::set_math_mode(m.cublas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  m.events.resize(static_cast<std::size_t>(6 * m.config.num_hidden_layers + 2));
  for (cudaEvent_t& event : m.events) DMASCOPE_CUDA_CHECK(cudaEventCreate(&event));
}

DogeForwardCuda::~DogeForwardCuda() = default;

std::size_t DogeForwardCuda::weight_bytes() const { return impl_->weight_bytes; }

// ---- run, step by step -----------------------------------------------------------------------------------------

void DogeForwardCuda::Impl::check_run_inputs(std::span<const std::int32_t> ids, const ForwardOptions& options,
                                             const GpuForwardOutputs& outputs) const {
  const std::int64_t L = static_cast<std::int64_t>(ids.size()), V = config.vocab_size;
  if (L == 0) fail("GPU forward: no input ids");
  if (L >= (std::int64_t{1} << 30)) fail("GPU forward: {} tokens are too many (the mask build indexes keys in int32)", L);
  for (std::int64_t p = 0; p < L; ++p)
    if (ids[p] < 0 || ids[p] >= V)
      fail("GPU forward: input id {} at position {} is outside the vocabulary [0, {})", ids[p], p, V);
  if (options.capture_probs)
    fail("GPU forward: attention probabilities are not materialized on the GPU (use the CPU forward for them)");
  if (outputs.tile_maps && (options.tiles.rows < 1 || options.tiles.cols < 1))
    fail("GPU forward: tile shape {}x{} must be positive", options.tiles.rows, options.tiles.cols);
  const CudaCaptures* const kept = outputs.captures.get();
  if (kept && (kept->layers() != config.num_hidden_layers || kept->bias_heads() != bias_heads || kept->length() != L))
    fail("GPU forward: the device captures hold {} layers × {} bias heads × {} tokens, the run needs {} × {} × {}",
         kept->layers(), kept->bias_heads(), kept->length(),
         config.num_hidden_layers, bias_heads, L);
}

RunPlan DogeForwardCuda::Impl::plan_run(std::int64_t length, const ForwardOptions& options,
                                        const GpuForwardOutputs& outputs) const {
  RunPlan plan;
  plan.length = length;
  plan.window = options.window > 0 ? options.window : config.keep_window_size;
  plan.kept_window = std::min(plan.window, length);
  plan.gather_capacity = static_cast<int>(std::min<std::int64_t>(length, plan.kept_window + kGatherTileRows));
  plan.gather_q_tiles = static_cast<int>((length + kGatherTileRows - 1) / kGatherTileRows);
  plan.mask = detail::make_mask_build_plan(static_cast<int>(bias_heads), static_cast<int>(length),
                                           static_cast<int>(plan.kept_window), options.mask_variant);
  plan.logit_rows = outputs.logits == LogitRows::All ? length : outputs.logits == LogitRows::Last ? 1 : 0;
  plan.gpu_tile_maps = outputs.tile_maps && outputs.tile_maps_on_gpu;
  if (outputs.tile_maps) {  // check_run_inputs has refused a non-positive tile shape
    plan.map_q_tiles = (length + options.tiles.rows - 1) / options.tiles.rows;
    plan.map_k_tiles = (length + options.tiles.cols - 1) / options.tiles.cols;
    plan.map_tiles = static_cast<std::size_t>(plan.map_q_tiles * plan.map_k_tiles);
  }
  return plan;
}

void DogeForwardCuda::Impl::reserve_activations(const RunPlan& plan, bool poison) {
  const DogeConfig& c = config;
  const std::int64_t L = plan.length, D = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  const std::int64_t d = c.head_dim, I = c.intermediate_size, Hb = bias_heads;
  constexpr std::size_t f = sizeof(float);
  const auto n = [](std::int64_t count) { return static_cast<std::size_t>(count); };
  ensure_bytes(ids, n(L) * 4);
  ensure_bytes(x, n(L * D) * f);
  ensure_bytes(h, n(L * D) * f);
  ensure_bytes(q, n(L * H * d) * f);
  ensure_bytes(k, n(L * Hkv * d) * f);
  ensure_bytes(v, n(L * Hkv * d) * f);
  ensure_bytes(q_rope, n(L * H * d) * f);
  ensure_bytes(k_rope, n(L * Hkv * d) * f);
  ensure_bytes(dt, n(L * Hb) * f);
  ensure_bytes(beta, n(L * Hb) * f);
  ensure_bytes(death, n(L * Hb) * 4);
  ensure_bytes(context, n(L * H * d) * f);
  ensure_bytes(attn_out, n(L * D) * f);
  ensure_bytes(gate, n(L * I) * f);
  ensure_bytes(up, n(L * I) * f);
  ensure_bytes(mlp_out, n(L * D) * f);
  ensure_bytes(logits, n(plan.logit_rows * c.vocab_size) * f);
  if (c.is_moe) {
    ensure_bytes(router, n(L * 2 * c.expert_keys()) * f);
    ensure_bytes(expert_ids, n(L * c.num_experts_per_tok) * 4);
    ensure_bytes(routing_weights, n(L * c.num_experts_per_tok) * f);
  }
  ensure_bytes(mask_workspace, detail::mask_build_workspace_bytes(plan.mask));
  ensure_bytes(flags, n(detail::forward_step_flags(c.num_hidden_layers)) * sizeof(int));
  ensure_bytes(lists, n(Hb) * plan.gather_q_tiles * plan.gather_capacity * 4);
  ensure_bytes(counts, n(Hb) * plan.gather_q_tiles * 4);
  if (plan.gpu_tile_maps) {
    ensure_bytes(tile_status, n(Hb) * plan.map_tiles);
    ensure_bytes(tile_counters, n(Hb) * detail::kTileMapCounters * sizeof(unsigned long long));
  }
  if (!poison) return;
  for (DeviceBuffer* buffer : {&x, &h, &q, &k, &v, &q_rope, &k_rope, &dt, &beta, &death, &context, &attn_out, &gate,
                               &up, &mlp_out, &logits, &router, &expert_ids, &routing_weights, &lists, &counts})
    if (buffer->get()) buffer->fill_bytes(0xFF);  // NaN as fp32, -1 as int32
  if (plan.gpu_tile_maps) tile_status.fill_bytes(0xEE);  // not a TileStatus
}

void DogeForwardCuda::Impl::upload_inputs(std::span<const std::int32_t> input_ids, const RunPlan& plan) {
  const std::vector<float> frequencies =
      rope_inverse_frequencies(config.rope, config.head_dim, config.max_position_embeddings, plan.length);
  ensure_bytes(inverse_frequencies, frequencies.size() * sizeof(float));
  inverse_frequencies.upload(frequencies.data(), frequencies.size() * sizeof(float));
  ids.upload(input_ids.data(), static_cast<std::size_t>(plan.length) * 4);
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(flags.get(), 0, flags.bytes(), stream));
}

void DogeForwardCuda::Impl::launch_embedding(const RunPlan& plan) {
  detail::launch_embed_rows(embed.as<float>(), ids.as<std::int32_t>(), static_cast<int>(plan.length),
                            static_cast<int>(config.hidden_size), x.as<float>(), stream);
}

// One layer's launches, bracketed by its events (see `events`): [0] begin, [1]..[2] the masked attention, [3] end of
// the layer's arithmetic, [4]..[5] the tile maps (empty when they are not built on the device).
void DogeForwardCuda::Impl::launch_layer(std::int64_t layer, const RunPlan& plan, const ForwardOptions& options) {
  const DeviceLayerWeights& w = layers[static_cast<std::size_t>(layer)];
  cudaEvent_t* layer_events = events.data() + 6 * layer;
  current_layer = layer;
  DMASCOPE_CUDA_CHECK(cudaEventRecord(layer_events[0], stream));
  launch_attention_block(w, plan, options);
  DMASCOPE_CUDA_CHECK(cudaEventRecord(layer_events[1], stream));
  launch_masked_attention(plan);
  DMASCOPE_CUDA_CHECK(cudaEventRecord(layer_events[2], stream));
  launch_mlp_block(w, plan);
  DMASCOPE_CUDA_CHECK(cudaEventRecord(layer_events[3], stream));
  DMASCOPE_CUDA_CHECK(cudaEventRecord(layer_events[4], stream));
  if (plan.gpu_tile_maps) launch_tile_maps(plan, options);
  DMASCOPE_CUDA_CHECK(cudaEventRecord(layer_events[5], stream));
}

// Everything the mask needs: norm, q/k/v projections, q/k norms, RoPE into heads-first q_rope/k_rope, dt → β.
void DogeForwardCuda::Impl::launch_attention_block(const DeviceLayerWeights& w, const RunPlan& plan,
                                                   const ForwardOptions& options) {
  const DogeConfig& c = config;
  const std::int64_t L = plan.length, D = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  const std::int64_t d = c.head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  detail::launch_rms_norm(x.as<float>(), L, static_cast<int>(D), w.input_norm.as<float>(), eps, h.as<float>(), stream);
  flag_non_finite(h, L * D, detail::kInputNorm);
  linear(h.as<float>(), L, D, w.q_proj.as<float>(), H * d, w.q_proj_bias, q.as<float>(), "q_proj");
  linear(h.as<float>(), L, D, w.k_proj.as<float>(), Hkv * d, w.k_proj_bias, k.as<float>(), "k_proj");
  linear(h.as<float>(), L, D, w.v_proj.as<float>(), Hkv * d, w.v_proj_bias, v.as<float>(), "v_proj");
  if (w.q_norm.get()) {  // per-head RMSNorm over d, before RoPE (Transformers layout)
    detail::launch_rms_norm(q.as<float>(), L * H, static_cast<int>(d), w.q_norm.as<float>(), eps, q.as<float>(),
                            stream);
    detail::launch_rms_norm(k.as<float>(), L * Hkv, static_cast<int>(d), w.k_norm.as<float>(), eps, k.as<float>(),
                            stream);
    flag_non_finite(q, L * H * d, detail::kQkNorm);
    flag_non_finite(k, L * Hkv * d, detail::kQkNorm);
  }
  detail::launch_rope_heads_first(q.as<float>(), static_cast<int>(L), static_cast<int>(H), static_cast<int>(d),
                                  inverse_frequencies.as<float>(), q_rope.as<float>(), stream);
  detail::launch_rope_heads_first(k.as<float>(), static_cast<int>(L), static_cast<int>(Hkv), static_cast<int>(d),
                                  inverse_frequencies.as<float>(), k_rope.as<float>(), stream);
  flag_non_finite(q_rope, L * H * d, detail::kQRope);
  flag_non_finite(k_rope, L * Hkv * d, detail::kKRope);
  flag_non_finite(v, L * Hkv * d, detail::kValues);
  linear(v.as<float>(), L, Hkv * d, w.dt_proj.as<float>(), bias_heads, w.dt_proj_bias, dt.as<float>(), "dt_proj");
  detail::launch_dynamic_bias(dt.as<float>(), static_cast<int>(L), static_cast<int>(bias_heads), w.A.as<float>(),
                              options.bias_formula == BiasFormula::Exp, beta.as<float>(), stream);
  flag_non_finite(beta, L * bias_heads, detail::kDynBias);
}

// β → death indices (the mask) → per query tile the kept keys → attention over them into `context` [L, H, d].
void DogeForwardCuda::Impl::launch_masked_attention(const RunPlan& plan) {
  const DogeConfig& c = config;
  const std::int64_t L = plan.length, H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim;
  const int length = static_cast<int>(L);
  detail::launch_mask_build(plan.mask, beta.as<float>(), death.as<std::int32_t>(), mask_workspace.get(), stream);
  detail::launch_gather_lists(death.as<std::int32_t>(), static_cast<int>(bias_heads), length, length,
                              plan.gather_q_tiles, plan.gather_capacity, lists.as<std::int32_t>(),
                              counts.as<std::int32_t>(), stream);
  detail::AttentionF32Params p;
  p.q = q_rope.as<float>();
  p.k = k_rope.as<float>();
  p.v = v.as<float>();  // token-major [L, Hkv, d]: no transpose needed
  p.beta = beta.as<float>();
  p.death = death.as<std::int32_t>();
  p.lists = lists.as<std::int32_t>();
  p.counts = counts.as<std::int32_t>();
  p.out = context.as<float>();  // [L, H, d]: o_proj's input
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
  p.bias_heads = static_cast<int>(bias_heads);
  p.length = length;
  p.head_dim = static_cast<int>(d);
  p.q_tiles = plan.gather_q_tiles;
  p.capacity = plan.gather_capacity;
  p.scale = 1.0f / std::sqrt(static_cast<float>(d));
  detail::launch_attention_f32(p, stream);
  flag_non_finite(context, L * H * d, detail::kContext);
}

// o_proj and the first residual, then the SiLU-gated MLP and the second residual, into x.
void DogeForwardCuda::Impl::launch_mlp_block(const DeviceLayerWeights& w, const RunPlan& plan) {
  const DogeConfig& c = config;
  const std::int64_t L = plan.length, D = c.hidden_size, H = c.num_attention_heads, d = c.head_dim;
  const std::int64_t I = c.intermediate_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  float* residual_stream = x.as<float>();
  linear(context.as<float>(), L, H * d, w.o_proj.as<float>(), D, w.o_proj_bias, attn_out.as<float>(), "o_proj");
  detail::launch_residual(residual_stream, w.input_residual.as<float>(), attn_out.as<float>(), L, static_cast<int>(D),
                          stream);
  flag_non_finite(x, L * D, detail::kAttentionResidual);
  detail::launch_rms_norm(residual_stream, L, static_cast<int>(D), w.post_norm.as<float>(), eps, h.as<float>(),
                          stream);
  flag_non_finite(h, L * D, detail::kPostNorm);
  linear(h.as<float>(), L, D, w.gate_proj.as<float>(), I, w.gate_proj_bias, gate.as<float>(), "gate_proj");
  linear(h.as<float>(), L, D, w.up_proj.as<float>(), I, w.up_proj_bias, up.as<float>(), "up_proj");
  detail::launch_silu_gate(gate.as<float>(), up.as<float>(), L * I, stream);
  flag_non_finite(gate, L * I, detail::kMlpGate);
  linear(gate.as<float>(), L, I, w.down_proj.as<float>(), D, w.down_proj_bias, mlp_out.as<float>(), "down_proj");
  if (c.is_moe) launch_routed_experts(w, plan);
  detail::launch_residual(residual_stream, w.post_residual.as<float>(), mlp_out.as<float>(), L, static_cast<int>(D),
                          stream);
  flag_non_finite(x, L * D, detail::kOutput);
}

// CDMoE: the router projection of h (still the post-attention norm), then the routing and the routed experts added
// into mlp_out, which holds the shared expert's output.
void DogeForwardCuda::Impl::launch_routed_experts(const DeviceLayerWeights& w, const RunPlan& plan) {
  const std::int64_t L = plan.length, D = config.hidden_size;
  linear(h.as<float>(), L, D, w.router_gate.as<float>(), 2 * cdmoe.keys, DeviceBuffer{}, router.as<float>(),
         "router_gate");
  detail::launch_cdmoe_route(cdmoe, router.as<float>(), static_cast<int>(L), expert_ids.as<std::int32_t>(),
                             routing_weights.as<float>(), stream);
  detail::launch_cdmoe_add_experts(cdmoe, h.as<float>(), static_cast<int>(L), static_cast<int>(D),
                                   w.down_embed.as<float>(), w.up_embed.as<float>(), expert_ids.as<std::int32_t>(),
                                   routing_weights.as<float>(), mlp_out.as<float>(), stream);
  flag_non_finite(mlp_out, L * D, detail::kMlpOut);
}

void DogeForwardCuda::Impl::launch_tile_maps(const RunPlan& plan, const ForwardOptions& options) {
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(tile_counters.get(), 0, tile_counters.bytes(), stream));
  detail::launch_tile_map(death.as<std::int32_t>(), static_cast<int>(bias_heads), static_cast<int>(plan.length),
                          static_cast<int>(options.tiles.rows), static_cast<int>(options.tiles.cols),
                          tile_status.as<std::uint8_t>(), tile_counters.as<unsigned long long>(), stream);
}

LayerTimes DogeForwardCuda::Impl::wait_for_layer(std::int64_t layer) {
  const cudaEvent_t* layer_events = events.data() + 6 * layer;
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));  // surfaces execution errors of this layer here
  LayerTimes times;
  DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&times.layer_ms, layer_events[0], layer_events[3]));
  DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&times.attention_ms, layer_events[1], layer_events[2]));
  DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&times.tile_map_ms, layer_events[4], layer_events[5]));
  return times;
}

// The layer's captures, while the device waits: the per-layer buffers are reused by the next layer. Adds the copy
// time to timings.download_ms and the tile maps' download to timings.tile_map_ms.
LayerCapture DogeForwardCuda::Impl::download_layer(std::int64_t layer, const RunPlan& plan,
                                                   const ForwardOptions& options, const GpuForwardOutputs& outputs,
                                                   GpuForwardResult& timings) {
  const DogeConfig& c = config;
  const std::int64_t L = plan.length, H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim;
  const std::int64_t Hb = bias_heads;
  const std::size_t mask_entries = static_cast<std::size_t>(Hb * L);
  if (const CudaCaptures* kept = outputs.captures.get()) {
    // Before the next layer reuses the buffers; same stream, so in order. v is [L, Hkv·d]: one strided copy per head.
    DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(kept->death_data(layer), death.get(), mask_entries * 4,
                                        cudaMemcpyDeviceToDevice, stream));
    DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(kept->beta_data(layer), beta.get(), mask_entries * 4,
                                        cudaMemcpyDeviceToDevice, stream));
    if (kept->keeps_inputs()) {
      DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(kept->q_data(layer), q_rope.get(), static_cast<std::size_t>(H * L * d) * 4,
                                          cudaMemcpyDeviceToDevice, stream));
      DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(kept->k_data(layer), k_rope.get(), static_cast<std::size_t>(Hkv * L * d) * 4,
                                          cudaMemcpyDeviceToDevice, stream));
      for (std::int64_t g = 0; g < Hkv; ++g)
        DMASCOPE_CUDA_CHECK(cudaMemcpy2DAsync(static_cast<float*>(kept->v_data(layer)) + g * L * d,
                                              static_cast<std::size_t>(d) * 4, v.as<float>() + g * d,
                                              static_cast<std::size_t>(Hkv * d) * 4, static_cast<std::size_t>(d) * 4,
                                              static_cast<std::size_t>(L), cudaMemcpyDeviceToDevice, stream));
    }
  }
  const auto download_start = Clock::now();
  LayerCapture capture;
  capture.dyn_bias = Tensor::zeros(DType::F32, {1, Hb, L});
  beta.download(capture.dyn_bias.mutable_data<float>(), mask_entries * sizeof(float));
  capture.death = Tensor::zeros(DType::I32, {1, Hb, L});
  death.download(capture.death.mutable_data<std::int32_t>(), mask_entries * 4);
  if (outputs.attention_inputs) {
    capture.q_rope = download_pinned(*pinned, q_rope, {1, H, L, d}, stream);
    capture.k_rope = download_pinned(*pinned, k_rope, {1, Hkv, L, d}, stream);
    capture.v = download_pinned(*pinned, v, {1, L, Hkv * d}, stream);
    DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  timings.download_ms += ms_since(download_start);
  if (plan.gpu_tile_maps) {
    const auto tiles_start = Clock::now();
    capture.tile_maps = download_tile_maps(plan, options);
    timings.tile_map_ms += ms_since(tiles_start);
  }
  return capture;
}

// The statuses and counters launch_tile_maps left on the device, one TileMap per bias head.
std::vector<TileMap> DogeForwardCuda::Impl::download_tile_maps(const RunPlan& plan, const ForwardOptions& options) {
  std::vector<unsigned long long> counters(static_cast<std::size_t>(bias_heads) * detail::kTileMapCounters);
  tile_counters.download(counters.data(), counters.size() * sizeof(unsigned long long));
  std::vector<TileMap> maps;
  for (std::int64_t head = 0; head < bias_heads; ++head) {
    TileMap map;
    map.shape = options.tiles;
    map.q_tiles = plan.map_q_tiles;
    map.k_tiles = plan.map_k_tiles;
    map.status.resize(plan.map_tiles);
    DMASCOPE_CUDA_CHECK(cudaMemcpy(map.status.data(), tile_status.as<std::uint8_t>() + head * plan.map_tiles,
                                   plan.map_tiles, cudaMemcpyDeviceToHost));
    const unsigned long long* value = counters.data() + head * detail::kTileMapCounters;
    map.skipped = static_cast<std::int64_t>(value[0]);
    map.partial = static_cast<std::int64_t>(value[1]);
    map.full = static_cast<std::int64_t>(value[2]);
    map.causal_tiles = static_cast<std::int64_t>(value[3]);
    map.kept_entries = static_cast<std::int64_t>(value[4]);
    map.causal_entries = static_cast<std::int64_t>(value[5]);
    maps.push_back(std::move(map));
  }
  return maps;
}

double DogeForwardCuda::Impl::run_head(const RunPlan& plan) {
  const std::int64_t D = config.hidden_size;
  cudaEvent_t* head_events = events.data() + 6 * config.num_hidden_layers;
  DMASCOPE_CUDA_CHECK(cudaEventRecord(head_events[0], stream));
  if (plan.logit_rows > 0) {
    const float* last_rows = x.as<float>() + (plan.length - plan.logit_rows) * D;
    detail::launch_rms_norm(last_rows, plan.logit_rows, static_cast<int>(D), final_norm.as<float>(),
                            static_cast<float>(config.rms_norm_eps), h.as<float>(), stream);
    linear(h.as<float>(), plan.logit_rows, D, lm_head, config.vocab_size, DeviceBuffer{}, logits.as<float>(),
           "lm_head");
    const std::int64_t final_row = config.num_hidden_layers;
    flag_non_finite(h, plan.logit_rows * D, detail::kFinalNorm, final_row);
    flag_non_finite(logits, plan.logit_rows * config.vocab_size, detail::kLogits, final_row);
  }
  DMASCOPE_CUDA_CHECK(cudaEventRecord(head_events[1], stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
  float head_ms = 0.0f;
  DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&head_ms, head_events[0], head_events[1]));
  return head_ms;
}

Tensor DogeForwardCuda::Impl::download_logits(const RunPlan& plan) {
  Tensor rows = Tensor::zeros(DType::F32, {1, plan.logit_rows, config.vocab_size});
  logits.download(rows.mutable_data<float>(), static_cast<std::size_t>(plan.logit_rows * config.vocab_size) *
                                                  sizeof(float));
  return rows;
}

namespace {

// The tile maps on the CPU from the downloaded death arrays, every (layer, head) map in parallel. Returns the wall ms.
double build_tile_maps_on_cpu(ForwardResult& result, std::int64_t bias_heads, std::int64_t length, TileShape tiles) {
  const auto start = Clock::now();
  for (auto& capture : result.layers) capture.tile_maps.resize(static_cast<std::size_t>(bias_heads));
  const std::int64_t maps = static_cast<std::int64_t>(result.layers.size()) * bias_heads;
  parallel_for(maps, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      LayerCapture& capture = result.layers[static_cast<std::size_t>(i / bias_heads)];
      capture.tile_maps[static_cast<std::size_t>(i % bias_heads)] =
          build_tile_map(capture.death.data<std::int32_t>() + (i % bias_heads) * length, length, length, tiles);
    }
  });
  return ms_since(start);
}

}  // namespace

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
  m.check_run_inputs(ids, options, outputs);
  const RunPlan plan = m.plan_run(static_cast<std::int64_t>(ids.size()), options, outputs);
  require_memory_for_run(m.config, m.bias_heads, m.activation_bytes(), plan.length, options, outputs, plan.mask);
  m.reserve_activations(plan, outputs.poison_activations);
  m.upload_inputs(ids, plan);

  GpuForwardResult out;
  ForwardResult& result = out.forward;
  result.window = plan.window;
  m.launch_embedding(plan);
  const std::int64_t layers = m.config.num_hidden_layers;
  for (std::int64_t layer = 0; layer < layers; ++layer) {
    if (options.cancel && options.cancel->load()) throw ForwardCancelled{};
    m.launch_layer(layer, plan, options);
    const LayerTimes times = m.wait_for_layer(layer);
    out.gpu_ms += times.layer_ms + times.tile_map_ms;
    result.attention_ms += times.attention_ms;
    out.tile_map_ms += times.tile_map_ms;
    result.layers.push_back(m.download_layer(layer, plan, options, outputs, out));
    if (options.on_progress) options.on_progress(layer + 1, layers);
  }
  if (options.cancel && options.cancel->load()) throw ForwardCancelled{};

  out.gpu_ms += m.run_head(plan);
  detail::require_finite_steps(m.flags.as<int>(), layers, "fp32");
  if (plan.logit_rows > 0) {
    const auto download_start = Clock::now();
    result.logits = m.download_logits(plan);
    out.download_ms += ms_since(download_start);
  }
  if (outputs.tile_maps && !plan.gpu_tile_maps)
    out.tile_map_ms = build_tile_maps_on_cpu(result, m.bias_heads, plan.length, options.tiles);
  // The captures' copies are on the forward's stream; their views run on another.
  if (outputs.captures) DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  result.elapsed_ms = ms_since(start);
  return out;
}

}  // namespace dmascope::cuda
