// Host side of the bf16 GPU Doge forward (kernels/doge_forward_bf16.h): bf16 weight upload (q/k/v and gate/up
// concatenated, one GEMM each), the activation buffers, the launch sequence of one forward (the order of
// core/model/doge_forward.cpp), its capture as a CUDA graph, the non-finite check, and the downloads of the captures.
#include "kernels/doge_forward_bf16.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/model/forward_memory.h"
#include "core/model/rope.h"
#include "kernels/cdmoe_kernels.cuh"
#include "kernels/cublas_loader.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "kernels/doge_forward_bf16_kernels.cuh"
#include "kernels/forward_steps.h"
#include "kernels/tile_map.cuh"
#include "kernels/cuda_captures.h"

namespace dmascope::cuda {

namespace {

using detail::bf16_t;
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("GPU forward (bf16): cuBLAS error {} in {}", static_cast<int>(status), what);
}

using detail::kAttentionResidual, detail::kContext, detail::kDynBias, detail::kFinalNorm, detail::kInputNorm;
using detail::kKRope, detail::kLogits, detail::kMlpGate, detail::kMlpOut, detail::kOutput, detail::kPostNorm;
using detail::kQkNorm;
using detail::kQRope, detail::kValues;
constexpr int kSteps = detail::kForwardSteps;

// Concatenation along the output rows of fp32 weight tensors [rows_i, in] (or bias vectors), as bf16 on the device.
// `rows` gives each part's row count, so an absent part (an undefined bias) is filled with zeros.
DeviceBuffer upload_bf16(std::initializer_list<std::pair<const Tensor*, std::int64_t>> parts, std::int64_t width,
                         const std::string& name, const std::filesystem::path& dir, std::size_t& total_bytes) {
  std::int64_t rows = 0;
  for (const auto& [tensor, count] : parts) rows += count;
  std::vector<std::uint16_t> bits(static_cast<std::size_t>(rows * width), 0);
  std::int64_t row = 0;
  for (const auto& [tensor, count] : parts) {
    if (tensor->defined() && tensor->numel() > 0) {
      if (tensor->dtype() != DType::F32)
        fail("GPU forward (bf16): tensor {} of {} is {}, expected F32 (the loader converts weights to F32)", name,
             dir.string(), dtype_name(tensor->dtype()));
      if (tensor->numel() != count * width)
        fail("GPU forward (bf16): tensor {} of {} has {} values, expected {}", name, dir.string(), tensor->numel(),
             count * width);
      const float* values = tensor->data<float>();
      std::uint16_t* out = bits.data() + row * width;
      parallel_for(count * width, 1 << 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) out[i] = f32_to_bf16(values[i]).bits;
      });
    }
    row += count;
  }
  DeviceBuffer buffer(bits.size() * 2);
  buffer.upload(bits.data(), bits.size() * 2);
  total_bytes += buffer.bytes();
  return buffer;
}

bool present(const Tensor& tensor) { return tensor.defined() && tensor.numel() > 0; }

struct LayerWeightsBf16 {
  DeviceBuffer input_norm, qkv, qkv_bias, q_norm, k_norm, dt_proj, dt_bias, A, o_proj, o_bias, input_residual;
  DeviceBuffer post_norm, gate_up, gate_up_bias, down, down_bias, post_residual;
  DeviceBuffer router_gate, down_embed, up_embed;  // CDMoE only
};

void ensure_bytes(DeviceBuffer& buffer, std::size_t bytes) {
  if (buffer.bytes() >= bytes) return;
  buffer = DeviceBuffer();  // free first: the new size may not fit beside the old one
  buffer = DeviceBuffer(bytes);
}

// What fixes the launches of one forward: a graph captured for one key replays for the same key only.
struct PlanKey {
  std::int64_t length = 0, window = 0, logit_rows = 0;
  MaskVariant variant = MaskVariant::PerRowTopK;
  BiasFormula formula = BiasFormula::Exp;
  bool per_layer_inputs = false;  // q/k/v kept per layer for the captures
  ScoreRounding scores = ScoreRounding::Input;
  bool operator==(const PlanKey&) const = default;
};

constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

}  // namespace

std::string bf16_forward_unsupported_reason(const DogeModel& model) {
  if (std::string reason = gpu_forward_unsupported_reason(model); !reason.empty()) return reason;
  const DogeConfig& c = model.config;
  AttentionShape shape;
  shape.q_heads = c.num_attention_heads;
  shape.kv_heads = c.num_key_value_heads;
  shape.bias_heads = model.weights.bias_heads;
  shape.q_len = shape.key_len = 1;
  shape.head_dim = c.head_dim <= 64 ? 64 : 128;
  if (std::string reason = unsupported_reason(shape); !reason.empty())
    return fmt::format("{}: the bf16 attention kernels do not take its shape: {}", model.dir.string(), reason);
  return {};
}

struct DogeForwardBf16::Impl {
  std::filesystem::path dir;
  DogeConfig config;
  std::int64_t bias_heads = 0, padded_dim = 0, qkv_width = 0;
  std::vector<LayerWeightsBf16> layers;
  DeviceBuffer embed, final_norm, lm_head_untied;
  const bf16_t* lm_head = nullptr;
  std::size_t weight_bytes = 0;
  bool use_graphs = true;
  ScoreRounding scores = ScoreRounding::Input;
  int captures = 0;

  cublasHandle_t cublas = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  DeviceBuffer cublas_workspace;

  detail::CdmoeRoutingPlan cdmoe;  // CDMoE models only

  // Activations (bf16 unless named): see reserve() for the shapes. router, expert_ids and routing_weights: CDMoE only.
  DeviceBuffer ids, x, h, qkv, q_heads, k_heads, v_heads, dt, beta, death, attn, context, attn_out, gate_up, act;
  DeviceBuffer mlp_out, logits, flags, inverse_frequencies, tile_status, tile_counters;
  DeviceBuffer router, expert_ids, routing_weights;
  std::unique_ptr<DmaRunner> runner;
  std::optional<PlanKey> key;  // of the buffers, the runner and the graph below
  cudaGraphExec_t graph = nullptr;

  ~Impl() {
    if (graph) cudaGraphExecDestroy(graph);
    runner.reset();  // it launches on `stream`
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (cublas) cublas::destroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }

  std::size_t activation_bytes() const {
    std::size_t bytes = 0;
    for (const DeviceBuffer* b : {&ids, &x, &h, &qkv, &q_heads, &k_heads, &v_heads, &dt, &beta, &death, &attn,
                                  &context, &attn_out, &gate_up, &act, &mlp_out, &logits, &router, &expert_ids,
                                  &routing_weights})
      bytes += b->bytes();
    return bytes;
  }

  // y [rows, out] = x [rows, in] (row stride ldx) · Wᵀ, bf16 inputs, fp32 accumulation, y in `y_type`.
  void gemm(const bf16_t* x_rows, std::int64_t rows, std::int64_t in, std::int64_t ldx, const bf16_t* weight,
            std::int64_t out, void* y, cudaDataType y_type, const char* what) {
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublas::gemm_ex(cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(rows),
                              static_cast<int>(in), &one, weight, CUDA_R_16BF, static_cast<int>(in), x_rows,
                              CUDA_R_16BF, static_cast<int>(ldx), &zero, y, y_type, static_cast<int>(out),
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 what);
  }
  void linear(const bf16_t* x_rows, std::int64_t rows, std::int64_t in, std::int64_t ldx, const DeviceBuffer& weight,
              std::int64_t out, const DeviceBuffer& bias, bf16_t* y, const char* what) {
    gemm(x_rows, rows, in, ldx, weight.as<bf16_t>(), out, y, CUDA_R_16BF, what);
    if (bias.get()) detail::launch_add_row_bias_bf16(y, rows, static_cast<int>(out), bias.as<bf16_t>(), stream);
  }
  int* flag(std::int64_t row, int step) const { return flags.as<int>() + row * kSteps + step; }

  void reserve(const PlanKey& plan, bool tile_maps_on_device, const ForwardOptions& options);
  void keep_layer_on_device(const CudaCaptures& kept, std::int64_t layer, std::int64_t L) const;
  void prepare(const PlanKey& plan);
  void launch_forward(const PlanKey& plan);
  void launch_layer(std::int64_t layer, const PlanKey& plan);
  std::vector<TileMap> tile_maps(std::int64_t layer, std::int64_t length, TileShape tiles);
};

DogeForwardBf16::DogeForwardBf16(const DogeModel& model) : impl_(new Impl) {
  if (auto reason = bf16_forward_unsupported_reason(model); !reason.empty()) fail("GPU forward (bf16): {}", reason);
  detail::require_cdmoe_weights(model, "GPU forward (bf16)");
  if (!device_info().available) fail("GPU forward (bf16): no CUDA GPU (sm_80 or newer) found");
  Impl& m = *impl_;
  const DogeConfig& c = model.config;
  m.dir = model.dir;
  m.config = c;
  m.bias_heads = model.weights.bias_heads;
  m.padded_dim = c.head_dim <= 64 ? 64 : 128;
  const std::int64_t D = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim;
  const std::int64_t I = c.intermediate_size, Hb = m.bias_heads;
  m.qkv_width = (H + 2 * Hkv) * d;
  const auto& w = model.weights;
  std::size_t& bytes = m.weight_bytes;
  m.embed = upload_bf16({{&w.embed, c.vocab_size}}, D, "model.embed_tokens.weight", m.dir, bytes);
  m.final_norm = upload_bf16({{&w.final_norm, 1}}, D, "model.norm.weight", m.dir, bytes);
  if (w.lm_head_tied || w.lm_head.data<float>() == w.embed.data<float>()) {
    m.lm_head = m.embed.as<bf16_t>();
  } else {
    m.lm_head_untied = upload_bf16({{&w.lm_head, c.vocab_size}}, D, "lm_head.weight", m.dir, bytes);
    m.lm_head = m.lm_head_untied.as<bf16_t>();
  }
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const DogeLayerWeights& l = w.layers[i];
    const std::string p = fmt::format("model.layers.{}.", i);
    LayerWeightsBf16 b;
    b.input_norm = upload_bf16({{&l.input_norm, 1}}, D, p + "input_layernorm.weight", m.dir, bytes);
    b.qkv = upload_bf16({{&l.q_proj, H * d}, {&l.k_proj, Hkv * d}, {&l.v_proj, Hkv * d}}, D, p + "self_attn.q/k/v_proj",
                        m.dir, bytes);
    if (present(l.q_proj_bias) || present(l.k_proj_bias) || present(l.v_proj_bias))
      b.qkv_bias = upload_bf16({{&l.q_proj_bias, H * d}, {&l.k_proj_bias, Hkv * d}, {&l.v_proj_bias, Hkv * d}}, 1,
                               p + "self_attn.q/k/v_proj.bias", m.dir, bytes);
    if (present(l.q_norm)) {
      b.q_norm = upload_bf16({{&l.q_norm, 1}}, d, p + "self_attn.q_norm.weight", m.dir, bytes);
      b.k_norm = upload_bf16({{&l.k_norm, 1}}, d, p + "self_attn.k_norm.weight", m.dir, bytes);
    }
    b.dt_proj = upload_bf16({{&l.dt_proj, Hb}}, Hkv * d, p + "self_attn.dt_proj.weight", m.dir, bytes);
    if (present(l.dt_proj_bias)) b.dt_bias = upload_bf16({{&l.dt_proj_bias, Hb}}, 1, p + "dt_proj.bias", m.dir, bytes);
    b.A = upload_bf16({{&l.A, Hb}}, 1, p + "self_attn.A", m.dir, bytes);
    b.o_proj = upload_bf16({{&l.o_proj, D}}, H * d, p + "self_attn.o_proj.weight", m.dir, bytes);
    if (present(l.o_proj_bias)) b.o_bias = upload_bf16({{&l.o_proj_bias, D}}, 1, p + "o_proj.bias", m.dir, bytes);
    b.input_residual = upload_bf16({{&l.input_residual, 1}}, D, p + "input_residual", m.dir, bytes);
    b.post_norm = upload_bf16({{&l.post_norm, 1}}, D, p + "post_attention_layernorm.weight", m.dir, bytes);
    b.gate_up = upload_bf16({{&l.gate_proj, I}, {&l.up_proj, I}}, D, p + "mlp.gate/up_proj", m.dir, bytes);
    if (present(l.gate_proj_bias) || present(l.up_proj_bias))
      b.gate_up_bias = upload_bf16({{&l.gate_proj_bias, I}, {&l.up_proj_bias, I}}, 1, p + "mlp.gate/up_proj.bias",
                                   m.dir, bytes);
    b.down = upload_bf16({{&l.down_proj, D}}, I, p + "mlp.down_proj.weight", m.dir, bytes);
    if (present(l.down_proj_bias)) b.down_bias = upload_bf16({{&l.down_proj_bias, D}}, 1, p + "down_proj.bias", m.dir, bytes);
    b.post_residual = upload_bf16({{&l.post_residual, 1}}, D, p + "post_attention_residual", m.dir, bytes);
    if (c.is_moe) {
      b.router_gate =
          upload_bf16({{&l.router_gate, 2 * c.expert_keys()}}, D, p + "mlp.router_gate.weight", m.dir, bytes);
      b.down_embed = upload_bf16({{&l.down_embed, c.num_experts}}, D, p + "mlp.down_embed.weight", m.dir, bytes);
      b.up_embed = upload_bf16({{&l.up_embed, c.num_experts}}, D, p + "mlp.up_embed.weight", m.dir, bytes);
    }
    m.layers.push_back(std::move(b));
  }
  if (c.is_moe) {
    m.cdmoe = detail::cdmoe_routing_plan(c);
    detail::configure_cdmoe_kernels(m.cdmoe);  // here: it must not run while a graph is being captured
  }
  DMASCOPE_CUDA_CHECK(cudaStreamCreate(&m.stream));
  DMASCOPE_CUDA_CHECK(cudaEventCreate(&m.start));
  DMASCOPE_CUDA_CHECK(cudaEventCreate(&m.stop));
  check_cublas(cublas::create(&m.cublas), "cublasCreate");
  check_cublas(cublas::set_stream(m.cublas, m.stream), "cublasSetStream");
  // An explicit workspace: cuBLAS then allocates nothing while the stream is being captured into a graph.
  m.cublas_workspace = DeviceBuffer(kCublasWorkspaceBytes);
  check_cublas(cublas::set_workspace(m.cublas, m.cublas_workspace.get(), kCublasWorkspaceBytes), "cublasSetWorkspace");
}

DogeForwardBf16::~DogeForwardBf16() = default;

std::size_t DogeForwardBf16::weight_bytes() const { return impl_->weight_bytes; }
int DogeForwardBf16::graph_captures() const { return impl_->captures; }
void DogeForwardBf16::set_use_graphs(bool use_graphs) { impl_->use_graphs = use_graphs; }

void DogeForwardBf16::set_score_rounding(ScoreRounding scores) { impl_->scores = scores; }

void DogeForwardBf16::Impl::reserve(const PlanKey& plan, bool tile_maps_on_device, const ForwardOptions& options) {
  const DogeConfig& c = config;
  const std::int64_t L = plan.length, D = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  const std::int64_t I = c.intermediate_size, Hb = bias_heads, dp = padded_dim, layer_count = c.num_hidden_layers;
  const std::int64_t input_copies = plan.per_layer_inputs ? layer_count : 1;
  const auto n = [](std::int64_t count) { return static_cast<std::size_t>(count); };
  ensure_bytes(ids, n(L) * 4);
  ensure_bytes(x, n(L * D) * 2);
  ensure_bytes(h, n(L * D) * 2);
  ensure_bytes(qkv, n(L * qkv_width) * 2);
  ensure_bytes(q_heads, n(input_copies * H * L * dp) * 2);
  ensure_bytes(k_heads, n(input_copies * Hkv * L * dp) * 2);
  ensure_bytes(v_heads, n(input_copies * Hkv * L * dp) * 2);
  ensure_bytes(dt, n(L * Hb) * 2);
  ensure_bytes(beta, n(layer_count * Hb * L) * 4);
  ensure_bytes(death, n(layer_count * Hb * L) * 4);
  ensure_bytes(attn, n(H * L * dp) * 2);
  ensure_bytes(context, n(L * H * c.head_dim) * 2);
  ensure_bytes(attn_out, n(L * D) * 2);
  ensure_bytes(gate_up, n(L * 2 * I) * 2);
  ensure_bytes(act, n(L * I) * 2);
  ensure_bytes(mlp_out, n(L * D) * 2);
  ensure_bytes(logits, n(plan.logit_rows * c.vocab_size) * 4);
  if (c.is_moe) {
    ensure_bytes(router, n(L * 2 * c.expert_keys()) * 2);
    ensure_bytes(expert_ids, n(L * c.num_experts_per_tok) * 4);
    ensure_bytes(routing_weights, n(L * c.num_experts_per_tok) * 4);
  }
  ensure_bytes(flags, n((layer_count + 1) * kSteps) * 4);
  if (tile_maps_on_device && options.tiles.rows >= 1 && options.tiles.cols >= 1) {
    const std::int64_t tiles = ((L + options.tiles.rows - 1) / options.tiles.rows) *
                               ((L + options.tiles.cols - 1) / options.tiles.cols);
    ensure_bytes(tile_status, n(Hb * tiles));
    ensure_bytes(tile_counters, n(Hb) * detail::kTileMapCounters * sizeof(unsigned long long));
  }
}

// Buffers, the attention runner, RoPE's frequencies (they depend on L: dynamic NTK) and the graph for a new key.
void DogeForwardBf16::Impl::prepare(const PlanKey& plan) {
  if (graph) {
    DMASCOPE_CUDA_CHECK(cudaGraphExecDestroy(graph));
    graph = nullptr;
  }
  runner.reset();
  key.reset();
  const DogeConfig& c = config;
  AttentionShape shape;
  shape.q_heads = c.num_attention_heads;
  shape.kv_heads = c.num_key_value_heads;
  shape.bias_heads = bias_heads;
  shape.q_len = shape.key_len = plan.length;
  shape.head_dim = padded_dim;
  shape.precision = Precision::BF16;
  shape.scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  // By default scores rounded like transformers' eager attention in a bf16 model, so that every later layer's input,
  // β and mask follow transformers' bf16 forward (tests/gpu/doge_forward_bf16_transformers_test.cpp).
  KernelChoice kernels;
  kernels.scores = plan.scores;
  runner = std::make_unique<DmaRunner>(shape, plan.window, plan.variant, kernels);
  runner->use_stream(stream);
  const std::vector<float> frequencies =
      rope_inverse_frequencies(c.rope, c.head_dim, c.max_position_embeddings, plan.length);
  ensure_bytes(inverse_frequencies, frequencies.size() * sizeof(float));
  inverse_frequencies.upload(frequencies.data(), frequencies.size() * sizeof(float));
  if (use_graphs) {
    DMASCOPE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t captured = nullptr;
    try {
      launch_forward(plan);
    } catch (...) {
      cudaStreamEndCapture(stream, &captured);  // leave the stream usable, then report the first error
      if (captured) cudaGraphDestroy(captured);
      throw;
    }
    DMASCOPE_CUDA_CHECK(cudaStreamEndCapture(stream, &captured));
    const cudaError_t instantiated = cudaGraphInstantiate(&graph, captured, 0);
    cudaGraphDestroy(captured);
    DMASCOPE_CUDA_CHECK(instantiated);
    ++captures;
  }
  key = plan;
}

// The whole forward from the uploaded ids to the logits, on `stream` (captured by prepare, or run eagerly).
void DogeForwardBf16::Impl::launch_forward(const PlanKey& plan) {
  const DogeConfig& c = config;
  const std::int64_t L = plan.length, D = c.hidden_size;
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(flags.get(), 0, flags.bytes(), stream));
  detail::launch_embed_rows_bf16(embed.as<bf16_t>(), ids.as<std::int32_t>(), static_cast<int>(L), static_cast<int>(D),
                                 x.as<bf16_t>(), stream);
  for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) launch_layer(layer, plan);
  if (plan.logit_rows == 0) return;
  const std::int64_t final_row = c.num_hidden_layers;
  detail::launch_rms_norm_bf16(x.as<bf16_t>() + (L - plan.logit_rows) * D, plan.logit_rows, static_cast<int>(D), 1, D,
                               final_norm.as<bf16_t>(), static_cast<float>(c.rms_norm_eps), h.as<bf16_t>(),
                               flag(final_row, kFinalNorm), stream);
  gemm(h.as<bf16_t>(), plan.logit_rows, D, D, lm_head, c.vocab_size, logits.get(), CUDA_R_32F, "lm_head");
  detail::launch_flag_non_finite(logits.as<float>(), plan.logit_rows * c.vocab_size, flag(final_row, kLogits), stream);
}

void DogeForwardBf16::Impl::launch_layer(std::int64_t layer, const PlanKey& plan) {
  const DogeConfig& c = config;
  const LayerWeightsBf16& w = layers[static_cast<std::size_t>(layer)];
  const std::int64_t L = plan.length, D = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  const std::int64_t d = c.head_dim, I = c.intermediate_size, Hb = bias_heads, dp = padded_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int length = static_cast<int>(L);
  const std::int64_t copy = plan.per_layer_inputs ? layer : 0;
  bf16_t* q_layer = q_heads.as<bf16_t>() + copy * H * L * dp;
  bf16_t* k_layer = k_heads.as<bf16_t>() + copy * Hkv * L * dp;
  bf16_t* v_layer = v_heads.as<bf16_t>() + copy * Hkv * L * dp;
  float* beta_layer = beta.as<float>() + layer * Hb * L;
  std::int32_t* death_layer = death.as<std::int32_t>() + layer * Hb * L;

  detail::launch_rms_norm_bf16(x.as<bf16_t>(), L, static_cast<int>(D), 1, D, w.input_norm.as<bf16_t>(), eps,
                               h.as<bf16_t>(), flag(layer, kInputNorm), stream);
  linear(h.as<bf16_t>(), L, D, D, w.qkv, qkv_width, w.qkv_bias, qkv.as<bf16_t>(), "q/k/v_proj");
  bf16_t* q = qkv.as<bf16_t>();
  bf16_t* k = q + H * d;
  bf16_t* v = k + Hkv * d;
  if (w.q_norm.get()) {  // per-head RMSNorm over d, in place in the fused projection, before RoPE
    detail::launch_rms_norm_bf16(q, L * H, static_cast<int>(d), static_cast<int>(H), qkv_width, w.q_norm.as<bf16_t>(),
                                 eps, q, flag(layer, kQkNorm), stream);
    detail::launch_rms_norm_bf16(k, L * Hkv, static_cast<int>(d), static_cast<int>(Hkv), qkv_width,
                                 w.k_norm.as<bf16_t>(), eps, k, flag(layer, kQkNorm), stream);
  }
  const float* frequencies = inverse_frequencies.as<float>();
  detail::launch_heads_first_bf16(q, length, static_cast<int>(H), qkv_width, static_cast<int>(d), static_cast<int>(dp),
                                  frequencies, true, q_layer, flag(layer, kQRope), stream);
  detail::launch_heads_first_bf16(k, length, static_cast<int>(Hkv), qkv_width, static_cast<int>(d),
                                  static_cast<int>(dp), frequencies, true, k_layer, flag(layer, kKRope), stream);
  detail::launch_heads_first_bf16(v, length, static_cast<int>(Hkv), qkv_width, static_cast<int>(d),
                                  static_cast<int>(dp), frequencies, false, v_layer, flag(layer, kValues), stream);
  linear(v, L, Hkv * d, qkv_width, w.dt_proj, Hb, w.dt_bias, dt.as<bf16_t>(), "dt_proj");
  detail::launch_dynamic_bias_bf16(dt.as<bf16_t>(), length, static_cast<int>(Hb), w.A.as<bf16_t>(),
                                   plan.formula == BiasFormula::Exp, beta_layer, flag(layer, kDynBias), stream);

  runner->launch_mask_and_forward(q_layer, k_layer, v_layer, beta_layer, death_layer, attn.get());
  detail::launch_heads_to_tokens_bf16(attn.as<bf16_t>(), length, static_cast<int>(H), static_cast<int>(d),
                                      static_cast<int>(dp), context.as<bf16_t>(), flag(layer, kContext), stream);
  linear(context.as<bf16_t>(), L, H * d, H * d, w.o_proj, D, w.o_bias, attn_out.as<bf16_t>(), "o_proj");
  detail::launch_residual_bf16(x.as<bf16_t>(), w.input_residual.as<bf16_t>(), attn_out.as<bf16_t>(), L,
                               static_cast<int>(D), flag(layer, kAttentionResidual), stream);
  detail::launch_rms_norm_bf16(x.as<bf16_t>(), L, static_cast<int>(D), 1, D, w.post_norm.as<bf16_t>(), eps,
                               h.as<bf16_t>(), flag(layer, kPostNorm), stream);
  linear(h.as<bf16_t>(), L, D, D, w.gate_up, 2 * I, w.gate_up_bias, gate_up.as<bf16_t>(), "gate/up_proj");
  detail::launch_silu_gate_bf16(gate_up.as<bf16_t>(), L, static_cast<int>(I), act.as<bf16_t>(), flag(layer, kMlpGate),
                                stream);
  linear(act.as<bf16_t>(), L, I, I, w.down, D, w.down_bias, mlp_out.as<bf16_t>(), "down_proj");
  if (c.is_moe) {  // the router on h (still the post-attention norm), then the routed experts added into mlp_out
    linear(h.as<bf16_t>(), L, D, D, w.router_gate, 2 * cdmoe.keys, DeviceBuffer{}, router.as<bf16_t>(), "router_gate");
    detail::launch_cdmoe_route(cdmoe, router.as<bf16_t>(), length, expert_ids.as<std::int32_t>(),
                               routing_weights.as<float>(), stream);
    detail::launch_cdmoe_add_experts(cdmoe, h.as<bf16_t>(), length, static_cast<int>(D), w.down_embed.as<bf16_t>(),
                                     w.up_embed.as<bf16_t>(), expert_ids.as<std::int32_t>(),
                                     routing_weights.as<float>(), mlp_out.as<bf16_t>(), flag(layer, kMlpOut), stream);
  }
  detail::launch_residual_bf16(x.as<bf16_t>(), w.post_residual.as<bf16_t>(), mlp_out.as<bf16_t>(), L,
                               static_cast<int>(D), flag(layer, kOutput), stream);
}

// One layer's tile maps from its death indices, on the device (as DogeForwardCuda builds them).
std::vector<TileMap> DogeForwardBf16::Impl::tile_maps(std::int64_t layer, std::int64_t length, TileShape tiles) {
  const std::int64_t q_tiles = (length + tiles.rows - 1) / tiles.rows, k_tiles = (length + tiles.cols - 1) / tiles.cols;
  const auto map_tiles = static_cast<std::size_t>(q_tiles * k_tiles);
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(tile_counters.get(), 0, tile_counters.bytes(), stream));
  detail::launch_tile_map(death.as<std::int32_t>() + layer * bias_heads * length, static_cast<int>(bias_heads),
                          static_cast<int>(length), static_cast<int>(tiles.rows), static_cast<int>(tiles.cols),
                          tile_status.as<std::uint8_t>(), tile_counters.as<unsigned long long>(), stream);
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<unsigned long long> counters(static_cast<std::size_t>(bias_heads) * detail::kTileMapCounters);
  tile_counters.download(counters.data(), counters.size() * sizeof(unsigned long long));
  std::vector<TileMap> maps;
  for (std::int64_t head = 0; head < bias_heads; ++head) {
    TileMap map;
    map.shape = tiles;
    map.q_tiles = q_tiles;
    map.k_tiles = k_tiles;
    map.status.resize(map_tiles);
    DMASCOPE_CUDA_CHECK(cudaMemcpy(map.status.data(), tile_status.as<std::uint8_t>() + head * map_tiles, map_tiles,
                                   cudaMemcpyDeviceToHost));
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

namespace {

// [heads, L, padded] bf16 on the device → [1, heads, L, d] fp32 (token_major: [1, L, heads·d]).
Tensor download_heads(const bf16_t* source, std::int64_t heads, std::int64_t length, std::int64_t head_dim,
                      std::int64_t padded, bool token_major) {
  std::vector<std::uint16_t> bits(static_cast<std::size_t>(heads * length * padded));
  DMASCOPE_CUDA_CHECK(cudaMemcpy(bits.data(), source, bits.size() * 2, cudaMemcpyDeviceToHost));
  Tensor out = token_major ? Tensor::zeros(DType::F32, {1, length, heads * head_dim})
                           : Tensor::zeros(DType::F32, {1, heads, length, head_dim});
  float* values = out.mutable_data<float>();
  parallel_for(heads * length, 256, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) {
      const std::int64_t head = row / length, p = row % length;
      float* target = token_major ? values + (p * heads + head) * head_dim : values + row * head_dim;
      for (std::int64_t e = 0; e < head_dim; ++e) target[e] = bf16_to_f32(bf16{bits[row * padded + e]});
    }
  });
  return out;
}

}  // namespace

// One layer's death indices and β, and its q/k/v when the captures keep them ([heads, L, padded] bf16 → [heads, L, d]),
// copied on the device after the run, on the forward's stream (the next run reuses these buffers).
void DogeForwardBf16::Impl::keep_layer_on_device(const CudaCaptures& kept, std::int64_t layer, std::int64_t L) const {
  const Impl& m = *this;
  const DogeConfig& c = m.config;
  const std::int64_t Hb = m.bias_heads, H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim;
  const std::int64_t dp = m.padded_dim;
  const std::size_t mask_bytes = static_cast<std::size_t>(Hb * L) * 4;
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(kept.death_data(layer), m.death.as<std::int32_t>() + layer * Hb * L, mask_bytes,
                                      cudaMemcpyDeviceToDevice, m.stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(kept.beta_data(layer), m.beta.as<float>() + layer * Hb * L, mask_bytes,
                                      cudaMemcpyDeviceToDevice, m.stream));
  if (!kept.keeps_inputs()) return;
  auto rows = [&](void* target, const bf16_t* source, std::int64_t heads) {
    DMASCOPE_CUDA_CHECK(cudaMemcpy2DAsync(target, static_cast<std::size_t>(d) * 2, source,
                                          static_cast<std::size_t>(dp) * 2, static_cast<std::size_t>(d) * 2,
                                          static_cast<std::size_t>(heads * L), cudaMemcpyDeviceToDevice, m.stream));
  };
  rows(kept.q_data(layer), m.q_heads.as<bf16_t>() + layer * H * L * dp, H);
  rows(kept.k_data(layer), m.k_heads.as<bf16_t>() + layer * Hkv * L * dp, Hkv);
  rows(kept.v_data(layer), m.v_heads.as<bf16_t>() + layer * Hkv * L * dp, Hkv);
}

GpuForwardResult DogeForwardBf16::run(std::span<const std::int32_t> input_ids, const ForwardOptions& options,
                                      const GpuForwardOutputs& outputs) {
  const auto wall_start = Clock::now();
  Impl& m = *impl_;
  const DogeConfig& c = m.config;
  const std::int64_t L = static_cast<std::int64_t>(input_ids.size()), Hb = m.bias_heads;
  if (L == 0) fail("GPU forward (bf16): no input ids");
  if (L >= (std::int64_t{1} << 30)) fail("GPU forward (bf16): {} tokens are too many", L);
  for (std::int64_t p = 0; p < L; ++p)
    if (input_ids[p] < 0 || input_ids[p] >= c.vocab_size)
      fail("GPU forward: input id {} at position {} is outside the vocabulary [0, {})", input_ids[p], p, c.vocab_size);
  if (options.capture_probs)
    fail("GPU forward: attention probabilities are not materialized on the GPU (use the CPU forward for them)");
  if (outputs.tile_maps && (options.tiles.rows < 1 || options.tiles.cols < 1))
    fail("GPU forward: tile shape {}x{} must be positive", options.tiles.rows, options.tiles.cols);
  const CudaCaptures* const kept = outputs.captures.get();
  if (kept && (kept->layers() != c.num_hidden_layers || kept->bias_heads() != Hb || kept->length() != L))
    fail("GPU forward: the device captures hold {} layers × {} bias heads × {} tokens, the run needs {} × {} × {}",
         kept->layers(), kept->bias_heads(), kept->length(),
         c.num_hidden_layers, Hb, L);
  if (options.cancel && options.cancel->load()) throw ForwardCancelled{};

  PlanKey plan;
  plan.length = L;
  plan.window = options.window > 0 ? options.window : c.keep_window_size;
  plan.logit_rows = outputs.logits == LogitRows::All ? L : outputs.logits == LogitRows::Last ? 1 : 0;
  plan.variant = options.mask_variant;
  plan.formula = options.bias_formula;
  plan.per_layer_inputs = outputs.attention_inputs || (kept && kept->keeps_inputs());
  plan.scores = m.scores;
  const bool gpu_tile_maps = outputs.tile_maps && outputs.tile_maps_on_gpu;
  if (!m.key || !(*m.key == plan)) {
    // The fp32 forward's estimate: an upper bound of this one's (bf16 activations are half as large).
    std::size_t free_bytes = 0, total_bytes = 0;
    DMASCOPE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    require_memory(estimate_gpu_forward_device_memory(c, Hb, L, options, plan.logit_rows, gpu_tile_maps, 0),
                   static_cast<std::int64_t>(free_bytes + m.activation_bytes()),
                   fmt::format("GPU forward (bf16) of {} tokens", L), "free device memory (cudaMemGetInfo)");
  }
  m.reserve(plan, gpu_tile_maps, options);  // grows only: the graph's buffers stay where they are for the same key
  if (!m.key || !(*m.key == plan) || (m.use_graphs && !m.graph)) m.prepare(plan);
  if (outputs.poison_activations)
    for (DeviceBuffer* buffer : {&m.x, &m.h, &m.qkv, &m.q_heads, &m.k_heads, &m.v_heads, &m.dt, &m.beta, &m.death,
                                 &m.attn, &m.context, &m.attn_out, &m.gate_up, &m.act, &m.mlp_out, &m.logits,
                                 &m.router, &m.expert_ids, &m.routing_weights})
      if (buffer->get()) buffer->fill_bytes(0xFF);  // NaN as bf16 and fp32, −1 as int32

  GpuForwardResult out;
  ForwardResult& result = out.forward;
  result.window = plan.window;
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(m.ids.get(), input_ids.data(), static_cast<std::size_t>(L) * 4,
                                      cudaMemcpyHostToDevice, m.stream));
  DMASCOPE_CUDA_CHECK(cudaEventRecord(m.start, m.stream));
  if (m.use_graphs)
    DMASCOPE_CUDA_CHECK(cudaGraphLaunch(m.graph, m.stream));
  else
    m.launch_forward(plan);
  DMASCOPE_CUDA_CHECK(cudaEventRecord(m.stop, m.stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  float device_ms = 0.0f;
  DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&device_ms, m.start, m.stop));
  out.gpu_ms = device_ms;
  detail::require_finite_steps(m.flags.as<int>(), c.num_hidden_layers, "bf16");

  const std::int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim, dp = m.padded_dim;
  const std::size_t mask_entries = static_cast<std::size_t>(Hb * L);
  for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    if (options.cancel && options.cancel->load()) throw ForwardCancelled{};
    const std::int32_t* death_layer = m.death.as<std::int32_t>() + layer * Hb * L;
    if (kept) m.keep_layer_on_device(*kept, layer, L);
    const auto download_start = Clock::now();
    LayerCapture capture;
    capture.dyn_bias = Tensor::zeros(DType::F32, {1, Hb, L});
    DMASCOPE_CUDA_CHECK(cudaMemcpy(capture.dyn_bias.mutable_data<float>(), m.beta.as<float>() + layer * Hb * L,
                                   mask_entries * 4, cudaMemcpyDeviceToHost));
    capture.death = Tensor::zeros(DType::I32, {1, Hb, L});
    DMASCOPE_CUDA_CHECK(cudaMemcpy(capture.death.mutable_data<std::int32_t>(), death_layer, mask_entries * 4,
                                   cudaMemcpyDeviceToHost));
    if (outputs.attention_inputs) {
      capture.q_rope = download_heads(m.q_heads.as<bf16_t>() + layer * H * L * dp, H, L, d, dp, false);
      capture.k_rope = download_heads(m.k_heads.as<bf16_t>() + layer * Hkv * L * dp, Hkv, L, d, dp, false);
      capture.v = download_heads(m.v_heads.as<bf16_t>() + layer * Hkv * L * dp, Hkv, L, d, dp, true);
    }
    out.download_ms += ms_since(download_start);
    if (outputs.tile_maps) {
      const auto tiles_start = Clock::now();
      if (gpu_tile_maps) {
        capture.tile_maps = m.tile_maps(layer, L, options.tiles);
      } else {
        for (std::int64_t head = 0; head < Hb; ++head)
          capture.tile_maps.push_back(
              build_tile_map(capture.death.data<std::int32_t>() + head * L, L, L, options.tiles));
      }
      out.tile_map_ms += ms_since(tiles_start);
    }
    result.layers.push_back(std::move(capture));
    if (options.on_progress) options.on_progress(layer + 1, c.num_hidden_layers);
  }
  if (kept) DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  if (plan.logit_rows > 0) {
    const auto download_start = Clock::now();
    result.logits = Tensor::zeros(DType::F32, {1, plan.logit_rows, c.vocab_size});
    m.logits.download(result.logits.mutable_data<float>(),
                      static_cast<std::size_t>(plan.logit_rows * c.vocab_size) * sizeof(float));
    out.download_ms += ms_since(download_start);
  }
  result.elapsed_ms = ms_since(wall_start);
  return out;
}

}  // namespace dmascope::cuda
