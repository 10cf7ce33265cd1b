// The CUDA kernels against their CPU twins, on fresh random inputs. Skipped where there is no GPU (CI); run on the GPU
// machine with the same ctest command. Outputs are poisoned (NaN) before every run, and NaN never passes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <utility>

#include "core/attention/attention_cpu.h"
#include "core/attention/kernel_choice.h"
#include "core/base/error.h"
#include "core/mask/dma_mask.h"
#include "core/formats/tensor.h"
#include "kernels/dma_cuda.h"
#include "tests/gpu/gpu_test_support.h"

namespace dmascope::cuda {
namespace {

using test_support::random_beta;

// bf16 keeps 8 mantissa bits, fp16 11: P is rounded to the input precision before P·V, so the output error is a few
// ulp of that precision relative to its norm. The bars: 1e-2 (bf16), 2e-3 (fp16).
constexpr double kRelativeToleranceBf16 = 1e-2;
constexpr double kRelativeToleranceF16 = 2e-3;

std::vector<std::int32_t> gpu_death(const std::vector<float>& beta, int segments, std::int64_t key_len,
                                    std::int64_t window, MaskVariant variant) {
  AttentionShape shape;
  shape.bias_heads = shape.kv_heads = shape.q_heads = 1;
  shape.batch = segments;
  shape.q_len = shape.key_len = key_len;
  DmaRunner runner(shape, window, variant);
  DeviceBuffer beta_device(beta.size() * 4), death_device(beta.size() * 4);
  beta_device.upload(beta.data(), beta.size() * 4);
  death_device.fill_bytes(0xFF);  // poison: -1 everywhere
  runner.build_mask(beta_device.as<float>(), death_device.as<std::int32_t>());
  runner.synchronize();
  std::vector<std::int32_t> death(beta.size());
  death_device.download(death.data(), death.size() * 4);
  return death;
}

struct MaskCase {
  std::int64_t key_len, window;
  int segments, distinct_values;
};

void PrintTo(const MaskCase& c, std::ostream* os) {
  *os << "L" << c.key_len << "_w" << c.window << "_segments" << c.segments << "_distinct" << c.distinct_values;
}

class GpuMaskBuild : public ::testing::TestWithParam<MaskCase> {};

TEST_P(GpuMaskBuild, DeathIndicesEqualTheCpuBitForBit) {
  SKIP_WITHOUT_GPU();
  const MaskCase c = GetParam();
  std::mt19937 rng(static_cast<std::uint32_t>(c.key_len * 31 + c.window));
  for (MaskVariant variant : {MaskVariant::PerRowTopK, MaskVariant::SharedTopK}) {
    const auto beta = random_beta(c.segments * c.key_len, rng, c.distinct_values);
    const auto death = gpu_death(beta, c.segments, c.key_len, c.window, variant);
    for (int s = 0; s < c.segments; ++s) {
      const auto expected = dma_death_indices(std::span<const float>(beta.data() + s * c.key_len, c.key_len), c.window,
                                              variant);
      const std::vector<std::int32_t> got(death.begin() + s * c.key_len, death.begin() + (s + 1) * c.key_len);
      ASSERT_EQ(got, expected) << "segment " << s << " variant " << mask_variant_name(variant);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuMaskBuild,
                         ::testing::Values(MaskCase{1, 1, 1, 0}, MaskCase{7, 3, 2, 0}, MaskCase{100, 1, 1, 0},
                                           MaskCase{1000, 64, 3, 0}, MaskCase{1000, 64, 2, 4},
                                           MaskCase{4097, 1024, 1, 0}, MaskCase{4097, 4096, 1, 0},
                                           MaskCase{4097, 5000, 1, 0}, MaskCase{32768, 1024, 2, 0},
                                           MaskCase{32768, 1024, 1, 7}, MaskCase{65536, 2048, 1, 0}),
                         [](const auto& info) { return ::testing::PrintToString(info.param); });

TEST(GpuMaskBuild, ScalesToOneMillionKeys) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(5);
  const std::int64_t L = 1 << 20;
  const auto beta = random_beta(L, rng, 0);
  const auto death = gpu_death(beta, 1, L, 1024, MaskVariant::PerRowTopK);
  EXPECT_EQ(death, dma_death_indices(beta, 1024));
}

// ---------------------------------------------------------------------------------------------------------- forward

struct ForwardCase {
  std::int64_t batch, q_heads, kv_heads, q_len, key_len, head_dim, window;
  Precision precision;
  // The kernels the runner launches, as a parse_kernel_choice spec, and the name the test gets for them: "auto" (the
  // defaults: wgmma on an H100/H200, else mma.sync), "mma" (mma.sync everywhere, so that kernel stays tested on Hopper
  // too), and the comparison paths (see kernel_variants below).
  const char* forward_kernel = "auto";
  const char* kernel_spec = "";
};

void PrintTo(const ForwardCase& c, std::ostream* os) {
  *os << "B" << c.batch << " H" << c.q_heads << "/" << c.kv_heads << " Lq" << c.q_len << " Lk" << c.key_len << " d"
      << c.head_dim << " w" << c.window;
}

std::string forward_case_name(const ::testing::TestParamInfo<ForwardCase>& info) {
  const auto& c = info.param;
  return fmt::format("B{}_H{}x{}_Lq{}_Lk{}_d{}_w{}_{}_{}", c.batch, c.q_heads, c.kv_heads, c.q_len, c.key_len,
                     c.head_dim, c.window, c.precision == Precision::BF16 ? "bf16" : "f16", c.forward_kernel);
}

struct HostInputs {
  std::vector<std::uint16_t> q, k, v;  // bit patterns in the chosen precision
  std::vector<float> q_f32, k_f32, v_f32, beta;
};

HostInputs random_inputs(const ForwardCase& c, std::mt19937& rng) {
  HostInputs in;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](std::vector<std::uint16_t>& bits, std::vector<float>& values, std::int64_t count) {
    bits.resize(static_cast<std::size_t>(count));
    values.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) {
      const float x = normal(rng);
      if (c.precision == Precision::BF16) {
        bits[i] = f32_to_bf16(x).bits;
        values[i] = bf16_to_f32(bf16{bits[i]});
      } else {
        bits[i] = f32_to_f16(x).bits;
        values[i] = f16_to_f32(f16{bits[i]});
      }
    }
  };
  fill(in.q, in.q_f32, c.batch * c.q_heads * c.q_len * c.head_dim);
  fill(in.k, in.k_f32, c.batch * c.kv_heads * c.key_len * c.head_dim);
  fill(in.v, in.v_f32, c.batch * c.kv_heads * c.key_len * c.head_dim);
  in.beta = random_beta(c.batch * c.kv_heads * c.key_len, rng, 0);
  return in;
}

double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;  // NaN never passes (also catches unwritten, poisoned outputs)
    diff += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

std::vector<float> download_output(const DeviceBuffer& out, std::size_t count, Precision precision) {
  std::vector<std::uint16_t> bits(count);
  out.download(bits.data(), count * 2);
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i)
    values[i] = precision == Precision::BF16 ? bf16_to_f32(bf16{bits[i]}) : f16_to_f32(f16{bits[i]});
  return values;
}

// The CPU reference's problem for case c on the fp32 values of `in`, with bias β; no death indices (dense causal).
AttentionProblem cpu_problem(const ForwardCase& c, const HostInputs& in, const float* beta) {
  AttentionProblem problem;
  problem.batch = c.batch;
  problem.q_heads = c.q_heads;
  problem.kv_heads = problem.bias_heads = c.kv_heads;
  problem.q_len = c.q_len;
  problem.key_len = c.key_len;
  problem.head_dim = c.head_dim;
  problem.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  problem.q = in.q_f32.data();
  problem.k = in.k_f32.data();
  problem.v = in.v_f32.data();
  problem.beta = beta;
  return problem;
}

class GpuForward : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(GpuForward, DmaDenseAndMaterializedMatchTheCpuReference) {
  SKIP_WITHOUT_GPU();
  const ForwardCase c = GetParam();
  std::mt19937 rng(static_cast<std::uint32_t>(c.key_len * 7 + c.q_heads * 3 + c.head_dim + c.window));
  const HostInputs in = random_inputs(c, rng);
  AttentionShape shape{c.batch, c.q_heads, c.kv_heads, c.kv_heads, c.q_len, c.key_len, c.head_dim, c.precision};
  DmaRunner runner(shape, c.window, MaskVariant::PerRowTopK, parse_kernel_choice(c.kernel_spec));
  DeviceBuffer q(in.q.size() * 2), k(in.k.size() * 2), v(in.v.size() * 2), beta(in.beta.size() * 4),
      death(in.beta.size() * 4), out(in.q.size() * 2);
  q.upload(in.q.data(), in.q.size() * 2);
  k.upload(in.k.data(), in.k.size() * 2);
  v.upload(in.v.data(), in.v.size() * 2);
  beta.upload(in.beta.data(), in.beta.size() * 4);
  runner.build_mask(beta.as<float>(), death.as<std::int32_t>());
  runner.synchronize();
  std::vector<std::int32_t> death_host(in.beta.size());
  death.download(death_host.data(), death_host.size() * 4);

  AttentionProblem problem = cpu_problem(c, in, in.beta.data());
  for (std::int64_t s = 0; s < c.batch * c.kv_heads; ++s) {  // the mask the GPU built is the CPU's
    const auto expected = dma_death_indices(std::span<const float>(in.beta.data() + s * c.key_len, c.key_len), c.window);
    ASSERT_TRUE(std::equal(expected.begin(), expected.end(), death_host.begin() + s * c.key_len)) << "segment " << s;
  }
  problem.death = death_host.data();
  std::vector<float> reference(in.q.size());
  attention_reference(problem, reference.data(), nullptr, true);
  problem.death = nullptr;
  std::vector<float> dense_reference(in.q.size());
  attention_reference(problem, dense_reference.data(), nullptr, true);

  const double tolerance = c.precision == Precision::BF16 ? kRelativeToleranceBf16 : kRelativeToleranceF16;
  Instrumentation instrumentation;
  instrumentation.enabled = true;
  out.fill_bytes(0xFF);  // NaN in both bf16 and fp16
  runner.forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get(), &instrumentation);
  runner.synchronize();
  EXPECT_LT(relative_error(download_output(out, in.q.size(), c.precision), reference), tolerance) << "DMA";

  out.fill_bytes(0xFF);  // the same pipeline replayed as a CUDA graph, twice (capture, then replay)
  DeviceBuffer graph_death(in.beta.size() * 4);
  for (int replay = 0; replay < 2; ++replay) {
    graph_death.fill_bytes(0xFF);
    runner.mask_and_forward(q.get(), k.get(), v.get(), beta.as<float>(), graph_death.as<std::int32_t>(), out.get());
    runner.synchronize();
    std::vector<std::int32_t> graph_death_host(in.beta.size());
    graph_death.download(graph_death_host.data(), graph_death_host.size() * 4);
    EXPECT_EQ(graph_death_host, death_host) << "graph replay " << replay;
    EXPECT_LT(relative_error(download_output(out, in.q.size(), c.precision), reference), tolerance) << "DMA graph";
  }

  out.fill_bytes(0xFF);
  runner.dense_forward(q.get(), k.get(), v.get(), beta.as<float>(), out.get());
  runner.synchronize();
  EXPECT_LT(relative_error(download_output(out, in.q.size(), c.precision), dense_reference), tolerance) << "dense";

  if (DmaRunner::materialized_workspace_bytes(shape) < (std::size_t{1} << 30)) {
    out.fill_bytes(0xFF);
    runner.materialized_forward(q.get(), k.get(), v.get(), beta.as<float>(), out.get());
    runner.synchronize();
    EXPECT_LT(relative_error(download_output(out, in.q.size(), c.precision), dense_reference), tolerance)
        << "materialized";
  }

  // Instrumentation: the kernel's tile statuses are the CPU tile map's; gathered keys stay within w + 64 per tile.
  for (std::int64_t s = 0; s < c.batch * c.kv_heads; ++s) {
    const TileMap map = build_tile_map(death_host.data() + s * c.key_len, c.key_len, c.q_len, TileShape{64, 64});
    const std::size_t tiles = static_cast<std::size_t>(map.q_tiles * map.k_tiles);
    ASSERT_EQ(instrumentation.q_tiles * instrumentation.k_tiles, static_cast<std::int64_t>(tiles));
    const std::vector<std::uint8_t> gpu(instrumentation.tile_status.begin() + s * tiles,
                                        instrumentation.tile_status.begin() + (s + 1) * tiles);
    EXPECT_EQ(gpu, map.status) << "segment " << s;
    for (std::int64_t t = 0; t < map.q_tiles; ++t)
      EXPECT_LE(instrumentation.keys_gathered[s * map.q_tiles + t], std::min(c.key_len, c.window + 64));
  }
  for (double us : instrumentation.cta_microseconds) EXPECT_GT(us, 0.0);
}

// One bf16 mask build + forward (the graph the model runs) on fresh device copies of `in`, the output poisoned first:
// the output widened to fp32 and the death indices the build made.
struct GraphRun {
  std::vector<float> output;
  std::vector<std::int32_t> death;
};
GraphRun run_mask_and_forward(DmaRunner& runner, const HostInputs& in) {
  DeviceBuffer q(in.q.size() * 2), k(in.k.size() * 2), v(in.v.size() * 2), beta(in.beta.size() * 4),
      death(in.beta.size() * 4), out(in.q.size() * 2);
  q.upload(in.q.data(), in.q.size() * 2);
  k.upload(in.k.data(), in.k.size() * 2);
  v.upload(in.v.data(), in.v.size() * 2);
  beta.upload(in.beta.data(), in.beta.size() * 4);
  out.fill_bytes(0xFF);  // NaN in bf16
  runner.mask_and_forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get());
  runner.synchronize();
  GraphRun run{download_output(out, in.q.size(), Precision::BF16), std::vector<std::int32_t>(in.beta.size())};
  death.download(run.death.data(), run.death.size() * 4);
  return run;
}

// β as a trained model's layers make it: exp(A·softplus(dt)) from 0.5 up to 1e8 (doge-toy-mqar's layer 1) and beyond,
// here up to e^88 ≈ 1.7e38, rounded to bf16 so that many keys tie. (The wgmma kernel once computed P as
// 2^(s·log2 e − m·log2 e) in one FFMA; at such β the rounding of m·log2 e exceeded 128 and rows became NaN.) At that
// size fp32 keeps no digit of q·k·scale, so the CPU and the GPU legitimately round the scores differently; the checks
// are that every kernel's output is finite and that rows whose best kept key leads by far output that key's v.
TEST(GpuForwardKernel, HugeBetaGivesFiniteOutputOnEveryKernel) {
  SKIP_WITHOUT_GPU();
  const std::int64_t H = 4, Hkv = 2, L = 301, d = 64, w = 32;
  ForwardCase c{1, H, Hkv, L, L, d, w, Precision::BF16};
  std::mt19937 rng(20261205);
  HostInputs in = random_inputs(c, rng);
  std::uniform_real_distribution<float> exponent(-0.7f, 88.0f);
  for (float& b : in.beta) b = bf16_to_f32(f32_to_bf16(std::exp(exponent(rng))));
  AttentionShape shape{1, H, Hkv, Hkv, L, L, d, Precision::BF16};
  for (const char* spec : {"", "forward=mma", "fused-lists=off", "heads-per-cta=1", "keys=sync",
                           "mask-build=sort,gather-lists=scan", "pdl=off"}) {
    SCOPED_TRACE(std::string("kernel choice '") + spec + "'");
    DmaRunner runner(shape, w, MaskVariant::PerRowTopK, parse_kernel_choice(spec));
    const GraphRun run = run_mask_and_forward(runner, in);
    const std::vector<std::int32_t>& death_host = run.death;
    for (std::int64_t g = 0; g < Hkv; ++g) {
      const auto expected = dma_death_indices(std::span<const float>(in.beta.data() + g * L, L), w);
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), death_host.begin() + g * L)) << "kv head " << g;
    }
    const std::vector<float>& got = run.output;
    std::int64_t bad = 0, first_bad = -1, one_hot_rows = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      if (!std::isfinite(got[i])) bad++, first_bad = first_bad < 0 ? static_cast<std::int64_t>(i) : first_bad;
    EXPECT_EQ(bad, 0) << "non-finite outputs; the first at head " << first_bad / (L * d) << ", row "
                      << first_bad / d % L;
    // Rows whose best kept score leads the second by more than 40 (e^-40 of weight left): the output is v of that key.
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < L; ++i) {
        const std::int64_t g = h / (H / Hkv);
        float best = -INFINITY, second = -INFINITY;
        std::int64_t best_key = -1;
        for (std::int64_t j = 0; j <= i; ++j) {
          if (!(j <= i && i < death_host[g * L + j])) continue;
          double dot = 0.0;
          for (std::int64_t e = 0; e < d; ++e) dot += double(in.q_f32[(h * L + i) * d + e]) * in.k_f32[(g * L + j) * d + e];
          const float score = static_cast<float>(dot / 8.0 + in.beta[g * L + j]);
          if (score > best) second = best, best = score, best_key = j;
          else if (score > second) second = score;
        }
        if (best - second <= 40.0f) continue;
        one_hot_rows++;
        for (std::int64_t e = 0; e < d; ++e)
          ASSERT_NEAR(got[(h * L + i) * d + e], in.v_f32[(g * L + best_key) * d + e],  // P in bf16 for P·V
                      1e-2f * std::max(1.0f, std::abs(in.v_f32[(g * L + best_key) * d + e])))
              << "head " << h << " row " << i << " (key " << best_key << " leads by " << best - second << ")";
      }
    EXPECT_GT(one_hot_rows, H * L / 4);  // the check above covers a good part of the rows
  }
}

// Replays of one captured graph (same buffers) with β changed between them: each replay must build its own β's mask and
// chunk keys and give that β's death indices and output — a forward that read the chunk keys of the previous replay,
// or before its build had written them, would fail here. Several chunks per segment and several segments.
TEST(GpuForwardKernel, EveryReplayReadsTheChunkKeysOfItsOwnBuild) {
  SKIP_WITHOUT_GPU();
  const ForwardCase c{2, 2, 2, 2100, 2100, 64, 200, Precision::BF16};  // 4 segments of 3 chunks
  std::mt19937 rng(20261207);
  HostInputs in = random_inputs(c, rng);
  const std::vector<float> betas[2] = {in.beta, random_beta(c.batch * c.kv_heads * c.key_len, rng, 0)};
  std::vector<std::int32_t> deaths[2];
  std::vector<float> references[2];
  for (int which = 0; which < 2; ++which) {
    for (std::int64_t s = 0; s < c.batch * c.kv_heads; ++s) {
      const auto segment = dma_death_indices(std::span<const float>(betas[which].data() + s * c.key_len, c.key_len), c.window);
      deaths[which].insert(deaths[which].end(), segment.begin(), segment.end());
    }
    AttentionProblem problem = cpu_problem(c, in, betas[which].data());
    problem.death = deaths[which].data();
    references[which].resize(in.q.size());
    attention_reference(problem, references[which].data(), nullptr, true);
  }
  AttentionShape shape{c.batch, c.q_heads, c.kv_heads, c.kv_heads, c.q_len, c.key_len, c.head_dim, c.precision};
  for (const char* spec : {"", "pdl=off"}) {
    SCOPED_TRACE(std::string("kernel choice '") + spec + "'");
    DmaRunner runner(shape, c.window, MaskVariant::PerRowTopK, parse_kernel_choice(spec));
    DeviceBuffer q(in.q.size() * 2), k(in.k.size() * 2), v(in.v.size() * 2), beta(in.beta.size() * 4),
        death(in.beta.size() * 4), out(in.q.size() * 2);
    q.upload(in.q.data(), in.q.size() * 2);
    k.upload(in.k.data(), in.k.size() * 2);
    v.upload(in.v.data(), in.v.size() * 2);
    for (int replay = 0; replay < 6; ++replay) {
      const int which = replay % 2;
      beta.upload(betas[which].data(), betas[which].size() * 4);
      death.fill_bytes(0xFF);
      out.fill_bytes(0xFF);  // NaN in bf16
      runner.mask_and_forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get());
      runner.synchronize();
      std::vector<std::int32_t> death_host(in.beta.size());
      death.download(death_host.data(), death_host.size() * 4);
      EXPECT_EQ(death_host, deaths[which]) << "replay " << replay;
      EXPECT_LT(relative_error(download_output(out, in.q.size(), c.precision), references[which]),
                kRelativeToleranceBf16)
          << "replay " << replay;
    }
  }
}

// KernelChoice scores=input: every score formed as transformers' eager attention forms it in a bf16 model, round(
// round(round(q·k)·scale) + β) in bf16, then the softmax. q and k are tripled so that scores spread over ±30, where
// bf16 keeps 1/16 or less (the two outputs differ by ~1.6 %): the rounded path must match a CPU reference that rounds the same way, and be clearly
// closer to it than to the exact scores' output (the test tells the two modes apart).
TEST(GpuForwardKernel, RoundedScoresFollowTheInputTypeSteps) {
  SKIP_WITHOUT_GPU();
  for (const std::int64_t d : {64, 128}) {
    const std::int64_t H = 4, Hkv = 2, L = 500, w = 128;
    ForwardCase c{1, H, Hkv, L, L, d, w, Precision::BF16};
    std::mt19937 rng(static_cast<std::uint32_t>(77 + d));
    HostInputs in = random_inputs(c, rng);
    for (auto* pair : {&in.q, &in.k}) {
      auto& values = pair == &in.q ? in.q_f32 : in.k_f32;
      for (std::size_t i = 0; i < pair->size(); ++i) {
        (*pair)[i] = f32_to_bf16(3.0f * values[i]).bits;
        values[i] = bf16_to_f32(bf16{(*pair)[i]});
      }
    }
    for (float& b : in.beta) b = bf16_to_f32(f32_to_bf16(b));  // a bf16 model's β
    const std::vector<std::int32_t> death_cpu = [&] {
      std::vector<std::int32_t> all;
      for (std::int64_t g = 0; g < Hkv; ++g) {
        const auto one = dma_death_indices(std::span<const float>(in.beta.data() + g * L, L), w);
        all.insert(all.end(), one.begin(), one.end());
      }
      return all;
    }();
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    auto round_bf16 = [](double x) { return static_cast<double>(bf16_to_f32(f32_to_bf16(static_cast<float>(x)))); };
    std::vector<float> rounded(in.q.size()), exact(in.q.size());
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < L; ++i) {
        const std::int64_t g = h / (H / Hkv);
        std::vector<double> s_rounded, s_exact;
        std::vector<std::int64_t> keys;
        for (std::int64_t j = 0; j <= i; ++j) {
          if (i >= death_cpu[g * L + j]) continue;
          double dot = 0.0;
          for (std::int64_t e = 0; e < d; ++e) dot += double(in.q_f32[(h * L + i) * d + e]) * in.k_f32[(g * L + j) * d + e];
          keys.push_back(j);
          s_rounded.push_back(round_bf16(round_bf16(round_bf16(dot) * scale) + in.beta[g * L + j]));
          s_exact.push_back(dot * scale + in.beta[g * L + j]);
        }
        for (auto [scores, out] : {std::pair{&s_rounded, &rounded}, std::pair{&s_exact, &exact}}) {
          const double top = *std::max_element(scores->begin(), scores->end());
          double sum = 0.0;
          for (double& x : *scores) sum += (x = std::exp(x - top));
          for (std::int64_t e = 0; e < d; ++e) {
            double o = 0.0;
            for (std::size_t t = 0; t < keys.size(); ++t) o += (*scores)[t] * in.v_f32[(g * L + keys[t]) * d + e];
            (*out)[(h * L + i) * d + e] = static_cast<float>(o / sum);
          }
        }
      }
    const double modes_apart = relative_error(rounded, exact);
    EXPECT_GT(modes_apart, 1e-2) << "d" << d << ": the inputs do not tell rounded from exact scores";  // 1.6 % measured
    AttentionShape shape{1, H, Hkv, Hkv, L, L, d, Precision::BF16};
    for (const char* spec : {"scores=input", "scores=input,forward=mma", "scores=input,keys=sync,forward=mma"}) {
      SCOPED_TRACE(fmt::format("d{} kernel choice '{}'", d, spec));
      DmaRunner runner(shape, w, MaskVariant::PerRowTopK, parse_kernel_choice(spec));
      const std::vector<float> got = run_mask_and_forward(runner, in).output;
      const double to_rounded = relative_error(got, rounded), to_exact = relative_error(got, exact);
      EXPECT_LT(to_rounded, kRelativeToleranceBf16);
      EXPECT_LT(to_rounded, to_exact / 2) << "rounded scores: " << to_rounded << ", exact: " << to_exact;
    }
  }
}

TEST(GpuForwardKernel, WgmmaOnComputeCapability90AndMmaSyncElsewhereOrWhenForced) {
  SKIP_WITHOUT_GPU();
  const AttentionShape shape{1, 2, 1, 1, 256, 256, 64, Precision::BF16};
  const std::string expected = device_info().compute_capability == 90 ? "wgmma" : "mma.sync";
  EXPECT_EQ(std::string(DmaRunner(shape, 64, MaskVariant::PerRowTopK).forward_kernel_name()), expected);
  KernelChoice forced;
  forced.forward = ForwardKernelChoice::Mma;
  EXPECT_EQ(std::string(DmaRunner(shape, 64, MaskVariant::PerRowTopK, forced).forward_kernel_name()), "mma.sync");
}

TEST(GpuForwardKernel, WgmmaAskedForRunsOnComputeCapability90AndFailsClearlyElsewhere) {
  SKIP_WITHOUT_GPU();
  const AttentionShape shape{1, 2, 1, 1, 256, 256, 64, Precision::BF16};
  KernelChoice wgmma;
  wgmma.forward = ForwardKernelChoice::Wgmma;
  if (device_info().compute_capability == 90) {
    EXPECT_EQ(std::string(DmaRunner(shape, 64, MaskVariant::PerRowTopK, wgmma).forward_kernel_name()), "wgmma");
  } else {
    EXPECT_THROW(DmaRunner(shape, 64, MaskVariant::PerRowTopK, wgmma), Error);
  }
  KernelChoice bad_heads;
  bad_heads.heads_per_cta = 3;  // parse_kernel_choice cannot produce it; a hand-built value is still checked
  EXPECT_THROW(DmaRunner(shape, 64, MaskVariant::PerRowTopK, bad_heads), Error);
}

// Every shape runs with the kernels the GPU picks (wgmma on Hopper), with mma.sync forced, and with each comparison
// path of KernelChoice: the separate gather-list launch instead of the chunk keys, one head per CTA, the synchronous
// key loads, the general mask build with the scanned gather lists, and the forward launched without PDL.
std::vector<ForwardCase> forward_cases() {
  const std::vector<ForwardCase> shapes{
      ForwardCase{1, 2, 1, 1023, 1023, 64, 128, Precision::BF16},   // odd L, GQA 2
      ForwardCase{1, 2, 1, 300, 300, 64, 1024, Precision::BF16},    // L < w: dense + bias
      ForwardCase{1, 4, 4, 257, 257, 128, 256, Precision::F16},     // L = w + 1, MHA, d128
      ForwardCase{1, 8, 2, 500, 500, 64, 1, Precision::BF16},       // w = 1, GQA 4
      ForwardCase{1, 8, 1, 777, 777, 128, 100, Precision::BF16},    // GQA 8, d128
      ForwardCase{2, 4, 2, 640, 640, 64, 200, Precision::F16},      // batch 2
      ForwardCase{1, 2, 1, 100, 1500, 64, 300, Precision::BF16},    // Lq < Lk, bottom-right
      ForwardCase{2, 4, 1, 65, 2049, 128, 512, Precision::F16},     // Lq < Lk, batch 2, d128
      ForwardCase{1, 2, 1, 4096, 4096, 128, 1024, Precision::BF16},
      ForwardCase{1, 2, 1, 1500, 5000, 64, 700, Precision::BF16},   // Lq < Lk, offset not ≡ 0 mod 64
      ForwardCase{1, 4, 2, 3000, 3000, 64, 2000, Precision::F16},   // the larger chunked layout
      ForwardCase{1, 8, 2, 2000, 2000, 128, 300, Precision::BF16},  // GQA 4 at d128: 4 heads per wgmma CTA
      ForwardCase{1, 2, 1, 5000, 5000, 64, 4500, Precision::BF16},  // w + 64 > 4160: the wgmma kernel's global list
  };
  std::vector<ForwardCase> cases;
  const std::vector<std::pair<const char*, const char*>> kernel_variants{
      {"auto", ""},
      {"mma", "forward=mma"},
      {"unfused", "fused-lists=off"},
      {"heads1", "heads-per-cta=1"},
      {"sync", "keys=sync"},
      {"sortscan", "mask-build=sort,gather-lists=scan"},
      {"nopdl", "pdl=off"},
  };
  for (const auto& [name, spec] : kernel_variants)
    for (ForwardCase c : shapes) {
      c.forward_kernel = name;
      c.kernel_spec = spec;
      cases.push_back(c);
    }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuForward, ::testing::ValuesIn(forward_cases()), forward_case_name);

}  // namespace
}  // namespace dmascope::cuda
