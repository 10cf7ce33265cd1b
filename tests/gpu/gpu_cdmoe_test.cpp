// CDMoE's routed experts on the GPU: each kernel (kernels/cdmoe_kernels.cuh) against its CPU twin
// (core/model/cdmoe_experts.h) on fresh random inputs, in fp32 and with bf16 rounding; the moe_sharded_f32 checkpoint
// through the fp32 GPU forward against the CPU forward and transformers' golden, and through the bf16 forward; the
// configs and checkpoints the GPU forwards refuse. The kernel and forward tests skip without a GPU; the plan and
// refusal tests need none. NaN never passes: every GPU output is checked for finiteness first.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/attention/attention_kept_sets.h"
#include "core/formats/safetensors.h"
#include "core/formats/tensor.h"
#include "core/mask/dma_mask.h"
#include "core/model/cdmoe_experts.h"
#include "core/model/doge_forward.h"
#include "kernels/cdmoe_plan.h"
#include "kernels/doge_forward_bf16.h"
#include "kernels/doge_forward_cuda.h"
#include "tests/gpu/gpu_test_support.h"
#include "tests/support/forward_comparison.h"
#include "tests/support/cdmoe_kernel_checks.h"
#include "tests/test_paths.h"

namespace dmascope::cuda {
namespace {

using testing::kept_sets_of_death;
using testing::random_ids;

// Routing weights (each ≤ 1) in fp32: CUDA's expf against std::exp (≤ 2 ulp) and the same division; 1e-6 absolute
// is about 8 ulp at 1.
constexpr double kWeightTolerance = 1e-6;
// Routing weights in bf16: the fp32 weight before rounding differs as above, which can put it on the other side of a
// bf16 rounding boundary: one bf16 step apart (2⁻⁸ to 2⁻⁷ of the weight, by where it lies in its binade); with
// norm_topk_prob the weights are divided by their rounded sum and rounded again: two steps.
constexpr int kBf16WeightSteps = 1, kBf16NormalizedWeightSteps = 2;

// How many bf16 steps apart two bf16-valued floats of one sign are.
int bf16_steps_apart(float a, float b) {
  return std::abs(static_cast<int>(f32_to_bf16(a).bits) - static_cast<int>(f32_to_bf16(b).bits));
}
// The experts' sum in fp32, max |gpu − cpu| over max |cpu|: the dot products are summed in another order (lanes and
// a butterfly against a serial sum) and the GPU fuses multiply-adds; 1e-5 is ~100 ulp of the largest element, far
// below a wrong expert or a missed term (O(1) of an activation).
constexpr double kExpertsTolerance = 1e-5;
// The experts' sum in bf16, same metric: a reordered fp32 dot product can round to the neighbouring bf16 value (2⁻⁸
// relative), which moves silu, the activation and its term by about as much; the routed sum's and y's roundings may
// then each land one ulp away (2⁻⁸ of |y| each). 2⁻⁶ of the largest |y| bounds that twice over.
constexpr double kBf16ExpertsTolerance = 1.0 / 64;
// The whole fp32 forward against the CPU's (β, logits): as doge_forward_cuda_test's kForwardTolerance (cuBLAS SGEMM
// against the CPU's blocked sums through every layer); the routed experts add sums of the same kind.
constexpr double kForwardTolerance = 1e-4;
// The fp32 GPU logits against transformers' golden, max abs: golden_forward_test's bar for the CPU forward.
constexpr double kGoldenMaxAbs = 1e-4;
// The bf16 forward against the CPU fp32 forward run on the bf16 forward's own masks: doge_forward_bf16_test's 2 %
// target for the dense models (relative Frobenius norm of the logits), which holds here too: the routed experts'
// choices move with bf16 router logits only where two pair sums are closer than bf16's 2⁻⁸, and such a swap trades
// two experts of nearly equal weight.
constexpr double kBf16LogitsRelative = 0.02;

std::uint32_t fresh_seed() { return std::random_device{}(); }

CdmoeRouting routing(std::int64_t tokens, std::int64_t keys, std::int64_t top, bool norm_topk_prob) {
  return {.tokens = tokens, .keys = keys, .experts_per_token = top, .norm_topk_prob = norm_topk_prob};
}

// N(0, scale) values, or with `distinct` > 0 only that many values (ties everywhere), rounded to bf16 if asked.
std::vector<float> random_values(std::size_t count, std::mt19937& rng, float scale, int distinct, bool bf16) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::uniform_int_distribution<int> pick(0, std::max(distinct, 1) - 1);
  std::vector<float> values(count);
  for (auto& value : values) {
    value = distinct > 0 ? scale * (static_cast<float>(pick(rng)) - 0.5f * static_cast<float>(distinct - 1)) / 2.0f
                         : normal(rng);
    if (bf16) value = round_to_bf16(value);
  }
  return values;
}

std::int64_t non_finite(std::span<const float> values) {
  return std::count_if(values.begin(), values.end(), [](float value) { return !std::isfinite(value); });
}

// max |gpu − cpu| / max |cpu|
double max_norm_relative(std::span<const float> gpu, std::span<const float> cpu) {
  double difference = 0.0, reference = 0.0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    difference = std::max(difference, std::abs(static_cast<double>(gpu[i]) - cpu[i]));
    reference = std::max(reference, std::abs(static_cast<double>(cpu[i])));
  }
  return difference / std::max(reference, 1e-30);
}

std::span<const float> floats(const Tensor& tensor) {
  return {tensor.data<float>(), static_cast<std::size_t>(tensor.numel())};
}

// ---- the launch plan and the refusals (no GPU needed) ----------------------------------------------------------

DogeConfig moe_config(std::int64_t experts, std::int64_t top) {
  DogeConfig config;
  config.is_moe = true;
  config.num_experts = experts;
  config.num_experts_per_tok = top;
  return config;
}

TEST(CdmoePlan, CandidatesAreThePairsThatCanReachTheTopAndThePublishedConfigNeedsNoOptIn) {
  for (auto [experts, top] : {std::pair<std::int64_t, std::int64_t>{16384, 64}, {16, 4}, {16, 16}, {10, 7}, {1, 1},
                              {2025, 300}, {16384, 2048}}) {
    const detail::CdmoeRoutingPlan plan = detail::cdmoe_routing_plan(moe_config(experts, top));
    const std::int64_t K = plan.keys;
    std::int64_t pairs = 0;
    for (std::int64_t a = 0; a < K; ++a)
      for (std::int64_t b = 0; b < K; ++b) pairs += (a + 1) * (b + 1) <= top;
    EXPECT_EQ(plan.candidates, pairs) << experts << " experts, " << top << " per token";
    EXPECT_GE(plan.candidates, top);
    EXPECT_LE(plan.routing_shared_bytes, detail::kCdmoeMaxSharedBytes);
  }
  EXPECT_LE(detail::cdmoe_routing_plan(moe_config(16384, 64)).routing_shared_bytes, 48u * 1024);
}

// Sorted parts: the best `top` of the K² sums are always among the candidate pairs, on random and on tied values.
TEST(CdmoePlan, TheBestPairSumsAreAlwaysCandidates) {
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 200; ++trial) {
    const std::int64_t K = 1 + trial % 9, top = 1 + (trial * 7) % (K * K);
    const auto logits = random_values(static_cast<std::size_t>(2 * K), rng, 1.0f, trial % 2 ? 3 : 0, false);
    std::vector<std::int32_t> ids(static_cast<std::size_t>(top));
    std::vector<float> weights(ids.size());
    cdmoe_route(logits.data(), routing(1, K, top, false), CdmoeRounding::Fp32, ids.data(), weights.data());
    // Back from expert ids to sorted positions (a, b).
    const auto position = [&](std::span<const float> part, std::int64_t index) {
      std::int64_t before = 0;
      for (std::int64_t i = 0; i < K; ++i) before += key_ranks_before(part[i], i, part[index], index);
      return before;
    };
    for (std::int32_t expert : ids) {
      const std::int64_t a = position({logits.data(), static_cast<std::size_t>(K)}, expert / K);
      const std::int64_t b = position({logits.data() + K, static_cast<std::size_t>(K)}, expert % K);
      EXPECT_LE((a + 1) * (b + 1), top) << "K " << K << " top " << top;
    }
  }
}

TEST(CdmoePlan, ConfigsBeyondTheKernelsAreRefusedNamingTheConfigField) {
  EXPECT_EQ(detail::cdmoe_unsupported_reason(moe_config(16384, 64)), "");
  EXPECT_EQ(detail::cdmoe_unsupported_reason(DogeConfig{}), "");  // dense
  const std::string too_many_keys = detail::cdmoe_unsupported_reason(moe_config(1025 * 1025, 64));
  EXPECT_NE(too_many_keys.find("num_experts = "), std::string::npos) << too_many_keys;
  const std::string too_many_per_token = detail::cdmoe_unsupported_reason(moe_config(16384, 16384));
  EXPECT_NE(too_many_per_token.find("num_experts_per_tok"), std::string::npos) << too_many_per_token;
  EXPECT_NE(too_many_per_token.find("shared memory"), std::string::npos) << too_many_per_token;

  DogeModel model = DogeModel::load(testing::fixtures_dir() / "models" / "moe_sharded_f32");
  EXPECT_EQ(gpu_forward_unsupported_reason(model), "");
  EXPECT_EQ(bf16_forward_unsupported_reason(model), "");
  model.config.num_experts_per_tok = 16;  // K² of its 16 experts: still fine
  EXPECT_EQ(gpu_forward_unsupported_reason(model), "");
  model.config.num_experts = 16384;
  model.config.num_experts_per_tok = 16384;
  for (const std::string& reason : {gpu_forward_unsupported_reason(model), bf16_forward_unsupported_reason(model)}) {
    EXPECT_NE(reason.find("moe_sharded_f32"), std::string::npos) << reason;
    EXPECT_NE(reason.find("num_experts_per_tok"), std::string::npos) << reason;
  }
}

// A dense checkpoint whose config claims CDMoE has no router: both forwards refuse it naming the tensor, before
// touching the device.
TEST(CdmoeGpuForward, MissingRouterWeightsAreAnErrorNamingTheTensor) {
  DogeModel model = DogeModel::load(testing::source_dir() / "assets" / "models" / "doge-tiny-random");
  model.config.is_moe = true;
  model.config.num_experts = 16;
  model.config.num_experts_per_tok = 4;
  for (int precision = 0; precision < 2; ++precision) {
    try {
      if (precision == 0) {
        DogeForwardCuda forward(model);
      } else {
        DogeForwardBf16 forward(model);
      }
      FAIL() << "a CDMoE config without router weights was accepted";
    } catch (const std::exception& error) {
      EXPECT_NE(std::string(error.what()).find("model.layers.0.mlp.router_gate.weight"), std::string::npos)
          << error.what();
    }
  }
}

// ---- each kernel against its CPU twin ------------------------------------------------------------------------------

struct RouteCase {
  std::int64_t tokens, keys, top;
  bool norm_topk_prob;
};

// Includes K = 128 with the published 64 per token, top = K² (every pair), K and top not powers of two, top above K,
// and 2048 per token (the candidates take 74 KB of shared memory: the opt-in above 48 KB).
constexpr RouteCase kRouteCases[] = {{37, 128, 64, false}, {64, 128, 64, true}, {19, 4, 16, false},
                                     {23, 3, 5, true},      {5, 1, 1, false},   {33, 16, 100, false},
                                     {7, 45, 300, true},    {3, 128, 2048, false}};

void expect_same_routing(const kernel_check::CdmoeChoices& gpu, const std::vector<std::int32_t>& cpu_ids,
                         const std::vector<float>& cpu_weights, bool bf16, bool normalized, const std::string& what) {
  ASSERT_EQ(non_finite(gpu.routing_weights), 0) << what << ": NaN/Inf in the GPU weights";
  EXPECT_EQ(gpu.expert_ids, cpu_ids) << what << ": other experts or another order";
  double worst = 0.0;
  int worst_steps = 0;
  for (std::size_t i = 0; i < cpu_weights.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(gpu.routing_weights[i]) - cpu_weights[i]));
    if (bf16) {
      EXPECT_EQ(gpu.routing_weights[i], round_to_bf16(gpu.routing_weights[i])) << what << " weight " << i;
      EXPECT_GE(gpu.routing_weights[i], 0.0f) << what << " weight " << i;
      worst_steps = std::max(worst_steps, bf16_steps_apart(gpu.routing_weights[i], cpu_weights[i]));
    }
  }
  if (bf16)
    EXPECT_LE(worst_steps, normalized ? kBf16NormalizedWeightSteps : kBf16WeightSteps)
        << what << " (largest difference " << worst << ")";
  else
    EXPECT_LE(worst, kWeightTolerance) << what;
}

TEST(GpuCdmoeKernels, RoutingPicksTheCpuExpertsInTheCpuOrderWithItsWeights) {
  SKIP_WITHOUT_GPU();
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  for (const RouteCase& c : kRouteCases)
    for (const CdmoeRounding rounding : {CdmoeRounding::Fp32, CdmoeRounding::Bf16})
      for (const int distinct : {0, 5}) {  // 5 values only: ties in every part and among the sums
        const bool bf16 = rounding == CdmoeRounding::Bf16;
        const std::string what = fmt::format("N {} K {} top {}{} {}{}", c.tokens, c.keys, c.top,
                                             c.norm_topk_prob ? " norm_topk_prob" : "", bf16 ? "bf16" : "fp32",
                                             distinct ? " tied" : "");
        const CdmoeRouting shape = routing(c.tokens, c.keys, c.top, c.norm_topk_prob);
        const auto logits =
            random_values(static_cast<std::size_t>(c.tokens * 2 * c.keys), rng, 2.0f, distinct, bf16);
        std::vector<std::int32_t> ids(static_cast<std::size_t>(c.tokens * c.top));
        std::vector<float> weights(ids.size());
        cdmoe_route(logits.data(), shape, rounding, ids.data(), weights.data());
        expect_same_routing(kernel_check::cdmoe_route(logits, shape, rounding), ids, weights, bf16, c.norm_topk_prob,
                            what);
      }
}

TEST(GpuCdmoeKernels, ExpertsAddTheCpuSumIntoTheSharedOutput) {
  SKIP_WITHOUT_GPU();
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  struct ExpertsCase {
    std::int64_t tokens, keys, top, hidden;
  };
  // D below one warp, not a multiple of 32, above the block; 2048 experts per token (a 16 KB block of activations).
  for (const ExpertsCase& c : {ExpertsCase{37, 128, 64, 96}, {19, 4, 16, 20}, {5, 1, 1, 300}, {3, 16, 256, 1000},
                               {11, 128, 2048, 40}})
    for (const CdmoeRounding rounding : {CdmoeRounding::Fp32, CdmoeRounding::Bf16}) {
      const bool bf16 = rounding == CdmoeRounding::Bf16;
      const std::string what =
          fmt::format("N {} K {} top {} D {} {}", c.tokens, c.keys, c.top, c.hidden, bf16 ? "bf16" : "fp32");
      const CdmoeRouting shape = routing(c.tokens, c.keys, c.top, false);
      const std::int64_t experts = c.keys * c.keys, N = c.tokens, D = c.hidden;
      const auto h = random_values(static_cast<std::size_t>(N * D), rng, 1.0f, 0, bf16);
      const auto down = random_values(static_cast<std::size_t>(experts * D), rng, 0.15f, 0, bf16);
      const auto up = random_values(static_cast<std::size_t>(experts * D), rng, 0.15f, 0, bf16);
      const auto y = random_values(static_cast<std::size_t>(N * D), rng, 1.0f, 0, bf16);
      kernel_check::CdmoeChoices choices;
      std::uniform_int_distribution<std::int32_t> expert(0, static_cast<std::int32_t>(experts - 1));
      std::uniform_real_distribution<float> weight(0.0f, 1.0f);
      for (std::int64_t i = 0; i < N * c.top; ++i) {
        choices.expert_ids.push_back(expert(rng));
        choices.routing_weights.push_back(bf16 ? round_to_bf16(weight(rng)) : weight(rng));
      }
      std::vector<float> cpu = y;
      cdmoe_add_experts(h.data(), N, D, down.data(), up.data(), choices.expert_ids.data(),
                        choices.routing_weights.data(), c.top, rounding, cpu.data());
      const std::vector<float> gpu = kernel_check::cdmoe_add_experts(h, shape, D, down, up, choices, rounding, y);
      ASSERT_EQ(non_finite(gpu), 0) << what << ": NaN/Inf in the GPU output";
      EXPECT_LE(max_norm_relative(gpu, cpu), bf16 ? kBf16ExpertsTolerance : kExpertsTolerance) << what;
      if (bf16) {
        for (float value : gpu) ASSERT_EQ(value, round_to_bf16(value)) << what;
      }
    }
}

// ---- the moe_sharded_f32 checkpoint through both GPU forwards ----------------------------------------------------

std::filesystem::path moe_fixture() { return testing::fixtures_dir() / "models" / "moe_sharded_f32"; }

std::vector<std::int32_t> golden_ids() {
  const auto golden = SafetensorsFile::open(moe_fixture() / "golden.safetensors");
  const auto values = golden->tensor("input_ids").to_f32_vector();
  return {values.begin(), values.end()};
}

// Each layer's mask is the CPU mask rule applied to the forward's own β (exact: ties go to the lower index on both).
void expect_masks_follow_own_beta(const ForwardResult& gpu, const std::string& what) {
  for (std::size_t layer = 0; layer < gpu.layers.size(); ++layer) {
    const LayerCapture& g = gpu.layers[layer];
    const std::int64_t Hb = g.dyn_bias.shape()[1], L = g.dyn_bias.shape()[2];
    for (std::int64_t n = 0; n < Hb; ++n) {
      const auto death =
          dma_death_indices({g.dyn_bias.data<float>() + n * L, static_cast<std::size_t>(L)}, gpu.window);
      EXPECT_TRUE(std::equal(death.begin(), death.end(), g.death.data<std::int32_t>() + n * L))
          << what << " layer " << layer << " head " << n << ": mask differs from the CPU rule on the same β";
    }
  }
}

// The CPU forward on the GPU forward's masks: a β near-tie that flips a kept key on one side only cannot make the
// logits incomparable (the masks themselves are checked by expect_masks_follow_own_beta).
ForwardResult cpu_forward_on_masks_of(const DogeModel& model, std::span<const std::int32_t> ids,
                                      const ForwardResult& gpu) {
  ForwardOptions options;
  options.kept_sets = [&](std::int64_t layer, const AttentionProblem& problem) {
    return kept_sets_of_death(gpu.layers[static_cast<std::size_t>(layer)].death, problem);
  };
  return doge_forward(model, ids, options);
}

TEST(GpuCdmoeForward, Fp32ForwardMatchesTheCpuForwardAndTransformersGolden) {
  SKIP_WITHOUT_GPU();
  const DogeModel model = DogeModel::load(moe_fixture());
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  DogeForwardCuda forward(model);
  GpuForwardOutputs poisoned;
  poisoned.poison_activations = true;  // an element a kernel skipped shows as NaN
  const std::vector<std::int32_t> golden = golden_ids();
  for (const auto& [name, ids] : {std::pair{std::string("golden ids"), golden},
                                  std::pair{std::string("301 random ids"), random_ids(301, model.config.vocab_size,
                                                                                      seed)}}) {
    const GpuForwardResult gpu = forward.run(ids, {}, poisoned);
    ASSERT_EQ(non_finite(floats(gpu.forward.logits)), 0) << name;
    expect_masks_follow_own_beta(gpu.forward, name);
    const ForwardResult cpu = doge_forward(model, ids, {});
    for (std::size_t layer = 0; layer < cpu.layers.size(); ++layer)
      EXPECT_LE(max_norm_relative(floats(gpu.forward.layers[layer].dyn_bias), floats(cpu.layers[layer].dyn_bias)),
                kForwardTolerance)
          << name << " layer " << layer << " β";
    const ForwardResult cpu_same_masks = cpu_forward_on_masks_of(model, ids, gpu.forward);
    EXPECT_LE(max_norm_relative(floats(gpu.forward.logits), floats(cpu_same_masks.logits)), kForwardTolerance)
        << name << " logits";
  }
  // Against transformers itself: its logits on its ids.
  const auto golden_file = SafetensorsFile::open(moe_fixture() / "golden.safetensors");
  const auto want = golden_file->tensor("logits").to_f32_vector();
  const GpuForwardResult gpu = forward.run(golden, {});
  ASSERT_EQ(static_cast<std::size_t>(gpu.forward.logits.numel()), want.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(gpu.forward.logits.data<float>()[i]) - want[i]));
  EXPECT_LE(worst, kGoldenMaxAbs) << "GPU fp32 logits against transformers' golden";
}

// With the attention scores in fp32 (ScoreRounding::Fp32) and the CPU on the bf16 forward's masks, what is left is
// the bf16 arithmetic and the routing's bf16 rounding: within the dense models' 2 %. The graph replays the eager
// launches exactly, and poisoned activations change nothing (every element is written).
TEST(GpuCdmoeForward, Bf16ForwardIsFiniteAndCloseToTheCpuAndItsGraphReplaysTheEagerRun) {
  SKIP_WITHOUT_GPU();
  const DogeModel model = DogeModel::load(moe_fixture());
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  for (const auto& [name, ids] : {std::pair{std::string("golden ids"), golden_ids()},
                                  std::pair{std::string("301 random ids"), random_ids(301, model.config.vocab_size,
                                                                                      seed)}}) {
    DogeForwardBf16 bf16(model);
    bf16.set_score_rounding(ScoreRounding::Fp32);
    GpuForwardOutputs poisoned;
    poisoned.poison_activations = true;
    const GpuForwardResult replayed = bf16.run(ids, {}, poisoned);
    EXPECT_EQ(bf16.graph_captures(), 1) << name;
    ASSERT_EQ(non_finite(floats(replayed.forward.logits)), 0) << name;
    expect_masks_follow_own_beta(replayed.forward, name + " (bf16)");
    const ForwardResult cpu = cpu_forward_on_masks_of(model, ids, replayed.forward);
    const double error = logits_relative_error(replayed.forward.logits, cpu.logits);
    fmt::print("[bf16 CDMoE] {}: L {}: logits rel. error vs the CPU fp32 forward on the same masks {:.4f}\n", name,
               ids.size(), error);
    EXPECT_LE(error, kBf16LogitsRelative) << name;

    bf16.set_use_graphs(false);
    const GpuForwardResult eager = bf16.run(ids, {});
    ASSERT_EQ(eager.forward.logits.numel(), replayed.forward.logits.numel());
    EXPECT_TRUE(std::equal(floats(eager.forward.logits).begin(), floats(eager.forward.logits).end(),
                           floats(replayed.forward.logits).begin()))
        << name << ": the graph and the eager launches differ";
  }
}

}  // namespace
}  // namespace dmascope::cuda
