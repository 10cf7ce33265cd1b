// The GPU Doge forward (kernels/doge_forward_cuda.h) against the CPU forward (core/model/doge_forward.h), and each of its
// kernels against its CPU twin, on fresh random inputs. Skipped without a GPU. Device activations are poisoned with
// NaN before every run (GpuForwardOutputs::poison_activations), kernel outputs likewise; NaN never passes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "core/attention/attention_cpu.h"
#include "core/mask/dma_mask.h"
#include "core/model/doge_forward.h"
#include "core/model/forward_elementwise.h"
#include "core/model/linear.h"
#include "core/model/random_model.h"
#include "core/model/rope.h"
#include "core/tokenizer/tokenizer.h"
#include "kernels/dma_cuda.h"
#include "tests/gpu/gpu_test_support.h"
#include "kernels/doge_forward_cuda.h"
#include "tests/support/doge_forward_kernel_checks.h"
#include "tests/test_paths.h"

namespace dmascope::cuda {
namespace {

// Error metric: max |gpu − cpu| over the tensor, divided by max |cpu| (a normwise bound, like ggml's NMSE but in the
// max norm, so one wrong element shows). NaN or Inf anywhere in the GPU output fails.
//
// Single kernels: both sides compute the same fp32 expression; the GPU reduces in another order (warp butterfly vs a
// serial sum) and uses CUDA's expf/cosf/log1pf (≤ 2 ulp). 1e-5 is ~100 ulp of the largest element: room for the
// reordering over ≤ 1024 terms, far below any indexing mistake (which shows as O(1)).
constexpr double kKernelTolerance = 1e-5;
// Attention: exp and a softmax over ≤ w + 64 keys with a different summation order than the reference (which
// accumulates in double): a few ulp per term. 1e-5 again.
constexpr double kAttentionTolerance = 1e-5;
// Whole forward, β per layer and logits: cuBLAS SGEMM (TF32 off) sums K ≤ 512 products in another order than the
// CPU's blocked kernel (~sqrt(K)·2⁻²⁴ ≈ 1e-6 relative per projection); the error passes through RMSNorm, RoPE at
// positions up to ~1000 (angles differ by an ulp of the angle), exp(A·softplus(dt)) and the layers' residuals. 1e-4 is
// ~30× the expected drift and still 100× below what a wrong mask row or a wrong head would cause.
constexpr double kForwardTolerance = 1e-4;
// Two keys whose β order differs between CPU and GPU must be a near-tie: their CPU β differ by at most this, relative
// (each side's β is within kForwardTolerance of the other's, so an order flip needs a gap ≤ 2× that).
constexpr double kTieTolerance = 2 * kForwardTolerance;

struct Comparison {
  double relative_error = 0.0;
  std::int64_t non_finite = 0;
};

Comparison compare(std::span<const float> gpu, std::span<const float> cpu) {
  Comparison result;
  double max_reference = 0.0, max_difference = 0.0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    if (!std::isfinite(gpu[i])) {
      ++result.non_finite;
      continue;
    }
    max_reference = std::max(max_reference, std::abs(static_cast<double>(cpu[i])));
    max_difference = std::max(max_difference, std::abs(static_cast<double>(gpu[i]) - cpu[i]));
  }
  result.relative_error = max_difference / std::max(max_reference, 1e-30);
  return result;
}

void expect_close(std::span<const float> gpu, std::span<const float> cpu, double tolerance, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  const Comparison c = compare(gpu, cpu);
  EXPECT_EQ(c.non_finite, 0) << what << ": NaN/Inf in the GPU output";
  EXPECT_LE(c.relative_error, tolerance) << what;
}

std::span<const float> floats(const Tensor& tensor) {
  return {tensor.data<float>(), static_cast<std::size_t>(tensor.numel())};
}

std::vector<float> random_vector(std::size_t count, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(count);
  for (auto& value : values) value = normal(rng);
  return values;
}

// ---- single kernels vs their CPU twins -----------------------------------------------------------------------------

TEST(DogeForwardCudaKernels, RmsNormMatchesCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(11);
  for (auto [rows, features] : {std::pair<std::int64_t, std::int64_t>{37, 16}, {129, 256}, {5, 1000}}) {
    const auto x = random_vector(static_cast<std::size_t>(rows * features), rng, 3.0f);
    const auto weight = random_vector(static_cast<std::size_t>(features), rng);
    std::vector<float> cpu(x.size());
    rms_norm_f32(x.data(), rows, features, weight.data(), 1e-6, cpu.data());
    expect_close(kernel_check::rms_norm(x, rows, features, weight, 1e-6), cpu, kKernelTolerance,
                 fmt::format("rms_norm {}x{}", rows, features));
  }
}

TEST(DogeForwardCudaKernels, RopeHeadsFirstMatchesApplyRopeForEveryRopeType) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(12);
  const RopeSettings settings[] = {{RopeType::Default, 10000.0, 1.0}, {RopeType::Linear, 10000.0, 4.0},
                                   {RopeType::Dynamic, 10000.0, 4.0}};
  for (const RopeSettings& rope : settings)
    for (auto [length, heads, d] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{301, 3, 16}, {1025, 2, 128}}) {
      const auto frequencies = rope_inverse_frequencies(rope, d, 256, length);  // 256 < L: dynamic NTK rescales
      const auto x = random_vector(static_cast<std::size_t>(length * heads * d), rng);
      std::vector<float> rotated = x, cpu(x.size());
      apply_rope(rotated.data(), length, heads, d, frequencies);
      heads_first_f32(rotated.data(), length, heads, d, cpu.data());
      expect_close(kernel_check::rope_heads_first(x, length, heads, d, frequencies), cpu, kKernelTolerance,
                   fmt::format("rope {} L{} heads{} d{}", rope_type_name(rope.type), length, heads, d));
    }
}

TEST(DogeForwardCudaKernels, DynamicBiasMatchesDogeDynamicBiasForBothFormulas) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(13);
  const std::int64_t L = 257, Hb = 3, width = 8;
  // doge_dynamic_bias takes the values and a layer; an identity dt_proj makes its dt equal to v's first Hb columns.
  DogeLayerWeights layer;
  std::vector<float> projection(static_cast<std::size_t>(Hb * width), 0.0f);
  for (std::int64_t n = 0; n < Hb; ++n) projection[static_cast<std::size_t>(n * width + n)] = 1.0f;
  layer.dt_proj = Tensor::from_vector(projection, {Hb, width});
  const auto A = random_vector(static_cast<std::size_t>(Hb), rng, 0.5f);
  layer.A = Tensor::from_vector(A, {Hb});
  auto v = random_vector(static_cast<std::size_t>(L * width), rng, 4.0f);
  v[0] = 25.0f;  // past softplus's threshold 20
  for (BiasFormula formula : {BiasFormula::Exp, BiasFormula::Linear}) {
    std::vector<float> dt(static_cast<std::size_t>(L * Hb)), beta(dt.size());
    doge_dynamic_bias(layer, v.data(), L, width, Hb, formula, dt.data(), beta.data());
    expect_close(kernel_check::dynamic_bias(dt, L, Hb, A, formula), beta, kKernelTolerance,
                 formula == BiasFormula::Exp ? "β exp" : "β linear");
  }
}

TEST(DogeForwardCudaKernels, ResidualAndSiluGateMatchCpuTwins) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(14);
  const std::int64_t rows = 33, features = 70;
  const auto x = random_vector(static_cast<std::size_t>(rows * features), rng);
  const auto update = random_vector(x.size(), rng);
  const auto weight = random_vector(static_cast<std::size_t>(features), rng);
  std::vector<float> cpu = x;
  residual_f32(cpu.data(), weight.data(), update.data(), rows, features);
  expect_close(kernel_check::residual(x, weight, update, rows, features), cpu, kKernelTolerance, "residual");
  auto gate = random_vector(x.size(), rng, 5.0f);
  std::vector<float> cpu_gate = gate;
  silu_gate_f32(cpu_gate.data(), update.data(), static_cast<std::int64_t>(gate.size()));
  expect_close(kernel_check::silu_gate(gate, update), cpu_gate, kKernelTolerance, "silu_gate");
}

struct AttentionCase {
  std::int64_t q_heads, kv_heads, bias_heads, length, head_dim, window;
  MaskVariant variant;
};

TEST(DogeForwardCudaKernels, AttentionF32MatchesReferenceOverKeptKeys) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(15);
  const AttentionCase cases[] = {
      {4, 2, 2, 301, 16, 16, MaskVariant::PerRowTopK},   // GQA, bias per kv head, L odd
      {2, 2, 2, 65, 128, 64, MaskVariant::PerRowTopK},   // MHA, L = w + 1, d 128
      {4, 1, 4, 10, 64, 16, MaskVariant::PerRowTopK},    // bias per query head, L < w
      {2, 1, 1, 513, 40, 32, MaskVariant::SharedTopK},   // shared top-k, d not a multiple of 32
  };
  for (const AttentionCase& c : cases) {
    const std::int64_t L = c.length, d = c.head_dim;
    const auto q = random_vector(static_cast<std::size_t>(c.q_heads * L * d), rng);
    const auto k = random_vector(static_cast<std::size_t>(c.kv_heads * L * d), rng);
    const auto v = random_vector(static_cast<std::size_t>(c.kv_heads * L * d), rng);
    auto beta = random_vector(static_cast<std::size_t>(c.bias_heads * L), rng);
    std::vector<std::int32_t> death;
    for (std::int64_t n = 0; n < c.bias_heads; ++n) {
      const auto head = dma_death_indices(std::span<const float>(beta.data() + n * L, L), c.window, c.variant);
      death.insert(death.end(), head.begin(), head.end());
    }
    AttentionProblem problem;
    problem.q_heads = c.q_heads;
    problem.kv_heads = c.kv_heads;
    problem.bias_heads = c.bias_heads;
    problem.q_len = problem.key_len = L;
    problem.head_dim = d;
    problem.scale = 1.0f / std::sqrt(static_cast<float>(d));
    problem.q = q.data();
    problem.k = k.data();
    problem.v = v.data();
    problem.beta = beta.data();
    problem.death = death.data();
    std::vector<float> cpu(q.size());
    attention_reference(problem, cpu.data(), nullptr, true);
    expect_close(kernel_check::attention(problem, c.window), cpu, kAttentionTolerance,
                 fmt::format("attention H{}/{}/{} L{} d{} w{} {}", c.q_heads, c.kv_heads, c.bias_heads, L, d, c.window,
                             mask_variant_name(c.variant)));
  }
}

TEST(DogeForwardCudaKernels, TileMapMatchesBuildTileMapForAnyTileShape) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(16);
  for (std::int64_t length : {1, 63, 1000, 4097}) {
    std::vector<float> beta = random_vector(static_cast<std::size_t>(length), rng);
    for (MaskVariant variant : {MaskVariant::PerRowTopK, MaskVariant::SharedTopK}) {
      const auto death = dma_death_indices(beta, 37, variant);
      for (TileShape shape : {TileShape{16, 16}, TileShape{64, 64}, TileShape{13, 7}, TileShape{1, 128}}) {
        const TileMap cpu = build_tile_map(death.data(), length, length, shape);
        const TileMap gpu = kernel_check::tile_map(death, shape);
        const std::string what = fmt::format("L{} {} tiles {}x{}", length, mask_variant_name(variant), shape.rows,
                                             shape.cols);
        EXPECT_EQ(gpu.status, cpu.status) << what;
        EXPECT_EQ(gpu.skipped, cpu.skipped) << what;
        EXPECT_EQ(gpu.partial, cpu.partial) << what;
        EXPECT_EQ(gpu.full, cpu.full) << what;
        EXPECT_EQ(gpu.causal_tiles, cpu.causal_tiles) << what;
        EXPECT_EQ(gpu.kept_entries, cpu.kept_entries) << what;
        EXPECT_EQ(gpu.causal_entries, cpu.causal_entries) << what;
      }
    }
  }
  // The dense causal map (every key kept to the end) exercises Full tiles.
  const std::vector<std::int32_t> all_kept(300, 300);
  EXPECT_EQ(kernel_check::tile_map(all_kept, {16, 16}).status, build_tile_map(all_kept.data(), 300, 300, {16, 16}).status);
}

// ---- the whole forward vs doge_forward ------------------------------------------------------------------------------

// Where the GPU's death array of one bias head differs from the CPU's, proves that the difference comes from β
// near-ties only: (1) the GPU mask is the CPU mask of the GPU's own β (the mask build is exact), and (2) every pair of
// keys whose rank order differs between the two β arrays has CPU β within kTieTolerance of each other. Returns
// whether the death arrays were equal.
bool expect_death_equal_or_near_tie(std::span<const std::int32_t> gpu_death, std::span<const std::int32_t> cpu_death,
                                    std::span<const float> gpu_beta, std::span<const float> cpu_beta,
                                    std::int64_t window, MaskVariant variant, const std::string& what) {
  if (std::equal(gpu_death.begin(), gpu_death.end(), cpu_death.begin())) return true;
  const auto from_gpu_beta = dma_death_indices(gpu_beta, window, variant);
  EXPECT_TRUE(std::equal(from_gpu_beta.begin(), from_gpu_beta.end(), gpu_death.begin()))
      << what << ": the GPU death array is not the CPU mask of the GPU's β";
  const std::int64_t L = static_cast<std::int64_t>(cpu_beta.size());
  EXPECT_LE(L, 4096) << what << ": the near-tie proof is quadratic";
  std::int64_t flipped_pairs = 0;
  double widest_gap = 0.0;
  for (std::int64_t a = 0; a < L; ++a)
    for (std::int64_t b = a + 1; b < L; ++b) {
      if (key_ranks_before(cpu_beta[a], a, cpu_beta[b], b) == key_ranks_before(gpu_beta[a], a, gpu_beta[b], b))
        continue;
      ++flipped_pairs;
      const double magnitude = std::max(std::abs(cpu_beta[a]), std::abs(cpu_beta[b]));
      widest_gap = std::max(widest_gap, std::abs(cpu_beta[a] - cpu_beta[b]) / std::max(magnitude, 1e-30));
    }
  EXPECT_GT(flipped_pairs, 0) << what << ": death arrays differ without any β order flip";
  EXPECT_LE(widest_gap, kTieTolerance) << what << ": a β order flip that is not a near-tie";
  std::cout << fmt::format("[ note ] {}: death arrays differ by {} β near-tie flip(s) (widest relative gap {:.2e})\n",
                           what, flipped_pairs, widest_gap);
  return false;
}

struct ForwardCase {
  std::string name;
  std::int64_t window = 0;  // 0: the model's
  MaskVariant variant = MaskVariant::PerRowTopK;
  BiasFormula formula = BiasFormula::Exp;
};

void expect_gpu_forward_matches_cpu(const DogeModel& model, const std::vector<std::int32_t>& ids,
                                    const ForwardCase& c) {
  ForwardOptions options;
  options.window = c.window;
  options.mask_variant = c.variant;
  options.bias_formula = c.formula;
  options.tiles = {16, 16};
  const ForwardResult cpu = doge_forward(model, ids, options);
  DogeForwardCuda gpu_forward(model);
  GpuForwardOutputs outputs;
  outputs.poison_activations = true;
  GpuForwardResult gpu = gpu_forward.run(ids, options, outputs);
  const std::int64_t L = static_cast<std::int64_t>(ids.size()), Hb = model.weights.bias_heads;
  ASSERT_EQ(gpu.forward.window, cpu.window) << c.name;
  ASSERT_EQ(gpu.forward.layers.size(), cpu.layers.size()) << c.name;
  bool masks_equal = true;
  for (std::size_t layer = 0; layer < cpu.layers.size() && masks_equal; ++layer) {
    const LayerCapture& g = gpu.forward.layers[layer];
    const LayerCapture& r = cpu.layers[layer];
    const std::string where = fmt::format("{} layer {}", c.name, layer);
    expect_close(floats(g.dyn_bias), floats(r.dyn_bias), kForwardTolerance, where + " β");
    expect_close(floats(g.q_rope), floats(r.q_rope), kForwardTolerance, where + " q_rope");
    expect_close(floats(g.k_rope), floats(r.k_rope), kForwardTolerance, where + " k_rope");
    expect_close(floats(g.v), floats(r.v), kForwardTolerance, where + " v");
    for (std::int64_t n = 0; n < Hb; ++n) {
      const auto head = [&](const Tensor& t, auto type) {
        return std::span(t.data<decltype(type)>() + n * L, static_cast<std::size_t>(L));
      };
      const bool equal = expect_death_equal_or_near_tie(head(g.death, std::int32_t{}), head(r.death, std::int32_t{}),
                                                        head(g.dyn_bias, float{}), head(r.dyn_bias, float{}),
                                                        cpu.window, c.variant, fmt::format("{} head {}", where, n));
      masks_equal = masks_equal && equal;
      if (!equal) continue;
      const TileMap& gm = g.tile_maps[static_cast<std::size_t>(n)];
      const TileMap& rm = r.tile_maps[static_cast<std::size_t>(n)];
      EXPECT_EQ(gm.status, rm.status) << where << " tile map";
      EXPECT_EQ(gm.kept_entries, rm.kept_entries) << where;
      EXPECT_EQ(gm.causal_entries, rm.causal_entries) << where;
      EXPECT_EQ(gm.causal_tiles, rm.causal_tiles) << where;
      EXPECT_EQ(gm.skipped, rm.skipped) << where;
      EXPECT_EQ(gm.partial, rm.partial) << where;
      EXPECT_EQ(gm.full, rm.full) << where;
    }
  }
  // After a (proven) near-tie flip the two forwards attend to different keys from that layer on: later layers and
  // the logits are then not comparable. Every case below is expected to compare in full; a flip is printed.
  if (masks_equal) {
    ASSERT_EQ(gpu.forward.logits.shape(), cpu.logits.shape()) << c.name;
    expect_close(floats(gpu.forward.logits), floats(cpu.logits), kForwardTolerance, c.name + " logits");
  }
  EXPECT_GT(gpu.gpu_ms, 0.0) << c.name;
}

std::filesystem::path assets_models_dir() {
  return testing::fixtures_dir().parent_path().parent_path().parent_path() / "assets" / "models";
}

TEST(DogeForwardCuda, ToyMixOnItsSampleTextMatchesCpuForward) {
  SKIP_WITHOUT_GPU();
  const DogeModel model = DogeModel::load(assets_models_dir() / "doge-toy-mix");
  std::ifstream sample(assets_models_dir() / "doge-toy-mix" / "sample.txt");
  std::stringstream text;
  text << sample.rdbuf();
  const auto ids = Tokenizer::load(model.dir / "tokenizer.json").encode(text.str(), true);
  ASSERT_GT(ids.size(), 10u);
  expect_gpu_forward_matches_cpu(model, ids, {"toy-mix sample"});
  expect_gpu_forward_matches_cpu(model, ids, {"toy-mix sample shared top-k", 16, MaskVariant::SharedTopK});
}

TEST(DogeForwardCuda, TinyRandomWithDynamicRopePastItsMaxPositionsMatchesCpuForward) {
  SKIP_WITHOUT_GPU();
  const DogeModel model = DogeModel::load(assets_models_dir() / "doge-tiny-random");  // head_dim 16, max_pos 32
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.config.vocab_size - 1));
  for (std::int64_t length : {7, 17, 101}) {  // L < w (16)? 7; L = w + 1; L odd and past max_position_embeddings
    std::vector<std::int32_t> ids(static_cast<std::size_t>(length));
    for (auto& id : ids) id = token(rng);
    expect_gpu_forward_matches_cpu(model, ids, {fmt::format("tiny-random L{}", length)});
  }
}

struct RandomModelCase {
  std::string name;
  std::int64_t q_heads, kv_heads, head_dim, length, window;
  RopeType rope;
  MaskVariant variant;
  BiasFormula formula;
};

TEST(DogeForwardCuda, RandomModelsGqaAndMhaMatchCpuForward) {
  SKIP_WITHOUT_GPU();
  const RandomModelCase cases[] = {
      {"GQA 4/2 d16 L odd", 4, 2, 16, 333, 32, RopeType::Default, MaskVariant::PerRowTopK, BiasFormula::Exp},
      {"MHA 2/2 d32 L<w", 2, 2, 32, 21, 32, RopeType::Linear, MaskVariant::PerRowTopK, BiasFormula::Exp},
      {"MHA 2/2 d64 L=w+1", 2, 2, 64, 33, 32, RopeType::Dynamic, MaskVariant::PerRowTopK, BiasFormula::Linear},
      {"GQA 2/1 d128 shared", 2, 1, 128, 200, 24, RopeType::Default, MaskVariant::SharedTopK, BiasFormula::Exp},
  };
  std::uint64_t seed = 40;
  for (const RandomModelCase& c : cases) {
    DogeConfig config = random_model_preset("tiny");
    config.num_attention_heads = c.q_heads;
    config.num_key_value_heads = c.kv_heads;
    config.head_dim = c.head_dim;
    config.keep_window_size = c.window;
    config.max_position_embeddings = 64;
    config.rope = {c.rope, 10000.0, c.rope == RopeType::Default ? 1.0 : 2.0};
    const auto dir = testing::scratch_dir() / fmt::format("model{}", seed);
    write_random_doge(dir, config, DType::F32, seed);
    const DogeModel model = DogeModel::load(dir);
    std::mt19937 rng(static_cast<std::uint32_t>(seed++));
    std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(config.vocab_size - 1));
    std::vector<std::int32_t> ids(static_cast<std::size_t>(c.length));
    for (auto& id : ids) id = token(rng);
    expect_gpu_forward_matches_cpu(model, ids, {c.name, 0, c.variant, c.formula});
  }
}

TEST(DogeForwardCuda, AskingForProbabilitiesOrAnOversizedMoeRoutingIsAClearError) {
  SKIP_WITHOUT_GPU();
  const DogeModel model = DogeModel::load(assets_models_dir() / "doge-tiny-random");
  DogeForwardCuda gpu_forward(model);
  ForwardOptions options;
  options.capture_probs = true;
  const std::vector<std::int32_t> ids = {1, 2, 3};
  try {
    gpu_forward.run(ids, options);
    FAIL() << "capture_probs accepted";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("probabilities"), std::string::npos) << error.what();
  }
  DogeModel moe = model;  // CDMoE runs on the GPU, up to what its routing kernel holds (tests/gpu/gpu_cdmoe_test.cpp)
  moe.config.is_moe = true;
  moe.config.num_experts_per_tok = moe.config.num_experts;
  const std::string reason = gpu_forward_unsupported_reason(moe);
  EXPECT_NE(reason.find("doge-tiny-random"), std::string::npos) << reason;
  EXPECT_NE(reason.find("num_experts_per_tok"), std::string::npos) << reason;
}

TEST(DogeForwardCuda, LastRowLogitsEqualTheLastRowOfAllLogits) {
  SKIP_WITHOUT_GPU();
  const DogeModel model = DogeModel::load(assets_models_dir() / "doge-tiny-random");
  DogeForwardCuda gpu_forward(model);
  const std::vector<std::int32_t> ids = {5, 9, 2, 7, 7, 1, 30, 4, 8};
  GpuForwardOutputs all, last;
  last.logits = LogitRows::Last;
  last.attention_inputs = false;
  const auto full = gpu_forward.run(ids, {}, all);
  const auto tail = gpu_forward.run(ids, {}, last);
  const std::int64_t V = model.config.vocab_size, L = static_cast<std::int64_t>(ids.size());
  ASSERT_EQ(tail.forward.logits.shape(), (Shape{1, 1, V}));
  expect_close(floats(tail.forward.logits),
               std::span(full.forward.logits.data<float>() + (L - 1) * V, static_cast<std::size_t>(V)),
               kKernelTolerance, "last-row logits");
  EXPECT_FALSE(tail.forward.layers[0].q_rope.defined() && tail.forward.layers[0].q_rope.numel() > 0);
  GpuForwardOutputs cpu_maps = last;
  cpu_maps.tile_maps_on_gpu = false;
  const auto with_cpu_maps = gpu_forward.run(ids, {}, cpu_maps);
  for (std::size_t layer = 0; layer < full.forward.layers.size(); ++layer)
    for (std::size_t head = 0; head < full.forward.layers[layer].tile_maps.size(); ++head)
      EXPECT_EQ(with_cpu_maps.forward.layers[layer].tile_maps[head].status,
                full.forward.layers[layer].tile_maps[head].status);
}

}  // namespace
}  // namespace dmascope::cuda
