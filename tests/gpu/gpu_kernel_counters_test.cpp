// The forward kernels' own counters (ForwardParams::counters, kernels/attention_fwd.cuh) against their CPU twin
// count_kernel_work (core/attention/kernel_counters.h), exactly, on fresh random inputs: every kernel path (wgmma with
// the chunk keys, the separate gather lists, mma.sync, one head per CTA, w ≥ L's dense path), the eager instrumented
// forward and the counted CUDA graph (captured, then replayed: the kept entries start from zero on every run), and
// the 32K benchmark shape counted in full. A counted run computes the same output, bit for bit, as the plain one.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/attention/kernel_choice.h"
#include "core/attention/kernel_counters.h"
#include "core/formats/tensor.h"
#include "kernels/dma_cuda.h"
#include "tests/gpu/gpu_test_support.h"

namespace dmascope::cuda {
namespace {

struct CounterCase {
  std::int64_t batch, q_heads, kv_heads, bias_heads, q_len, key_len, head_dim, window;
  const char* kernel_spec;  // parse_kernel_choice's syntax; "" = the defaults
};

void PrintTo(const CounterCase& c, std::ostream* os) {
  *os << "B" << c.batch << "_H" << c.q_heads << "/" << c.kv_heads << "/" << c.bias_heads << "_Lq" << c.q_len << "_Lk"
      << c.key_len << "_d" << c.head_dim << "_w" << c.window << "_" << (*c.kernel_spec ? c.kernel_spec : "default");
}

std::vector<std::uint16_t> random_bf16(std::size_t count, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint16_t> bits(count);
  for (auto& value : bits) value = f32_to_bf16(normal(rng)).bits;
  return bits;
}

void expect_equal_counters(const KernelCounters& got, const KernelCounters& want, const char* what) {
  ASSERT_EQ(got.q_tiles, want.q_tiles) << what;
  ASSERT_EQ(got.k_tiles, want.k_tiles) << what;
  ASSERT_EQ(got.keys_gathered.size(), want.keys_gathered.size()) << what;
  ASSERT_EQ(got.kept_entries.size(), want.kept_entries.size()) << what;
  std::size_t wrong_keys = 0, wrong_pairs = 0, wrong_kept = 0;
  for (std::size_t n = 0; n < want.keys_gathered.size(); ++n) {
    wrong_keys += got.keys_gathered[n] != want.keys_gathered[n];
    wrong_pairs += got.executed_pairs[n] != want.executed_pairs[n];
  }
  for (std::size_t n = 0; n < want.kept_entries.size(); ++n) wrong_kept += got.kept_entries[n] != want.kept_entries[n];
  EXPECT_EQ(wrong_keys, 0u) << what << ": query tiles whose keys gathered differ";
  EXPECT_EQ(wrong_pairs, 0u) << what << ": query tiles whose executed pairs differ";
  EXPECT_EQ(wrong_kept, 0u) << what << ": tiles whose kept entries differ";
}

class GpuKernelCounters : public ::testing::TestWithParam<CounterCase> {};

TEST_P(GpuKernelCounters, EqualTheCpuTwinExactlyInstrumentedAndAsACountedGraph) {
  SKIP_WITHOUT_GPU();
  const CounterCase c = GetParam();
  std::random_device entropy;  // fresh inputs every run; the seed is printed on failure
  const std::uint32_t seed = entropy();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::size_t q_count = static_cast<std::size_t>(c.batch * c.q_heads * c.q_len * c.head_dim);
  const std::size_t kv_count = static_cast<std::size_t>(c.batch * c.kv_heads * c.key_len * c.head_dim);
  const std::size_t beta_count = static_cast<std::size_t>(c.batch * c.bias_heads * c.key_len);
  const auto q_host = random_bf16(q_count, rng), k_host = random_bf16(kv_count, rng), v_host = random_bf16(kv_count, rng);
  const auto beta_host = test_support::random_beta(static_cast<std::int64_t>(beta_count), rng, 0);
  AttentionShape shape{c.batch, c.q_heads, c.kv_heads, c.bias_heads, c.q_len, c.key_len, c.head_dim, Precision::BF16};
  DmaRunner runner(shape, c.window, MaskVariant::PerRowTopK, parse_kernel_choice(c.kernel_spec));
  DeviceBuffer q(q_count * 2), k(kv_count * 2), v(kv_count * 2), beta(beta_count * 4), death(beta_count * 4),
      out(q_count * 2);
  q.upload(q_host.data(), q_count * 2);
  k.upload(k_host.data(), kv_count * 2);
  v.upload(v_host.data(), kv_count * 2);
  beta.upload(beta_host.data(), beta_count * 4);

  // The plain graph's output, then the counted graph's, twice (capture, replay).
  out.fill_bytes(0xFF);  // NaN
  runner.mask_and_forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get());
  runner.synchronize();
  std::vector<std::uint16_t> plain(q_count), counted_out(q_count);
  out.download(plain.data(), q_count * 2);
  for (std::uint16_t bits : plain) ASSERT_FALSE(std::isnan(bf16_to_f32(bf16{bits}))) << "plain output unwritten";
  std::vector<std::int32_t> death_host(beta_count);
  death.download(death_host.data(), beta_count * 4);
  const KernelCounters twin =
      count_kernel_work(death_host.data(), c.batch, c.q_heads, c.bias_heads, c.q_len, c.key_len);
  for (int run = 0; run < 2; ++run) {
    out.fill_bytes(0xFF);
    runner.mask_and_forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get(), true);
    expect_equal_counters(runner.counters(), twin, run == 0 ? "counted graph (capture)" : "counted graph (replay)");
    out.download(counted_out.data(), q_count * 2);
    EXPECT_EQ(std::memcmp(counted_out.data(), plain.data(), q_count * 2), 0) << "counted output differs from plain";
  }

  // The eager instrumented forward (the app's kernel tile map): the same counters, statuses made from them.
  Instrumentation instrumentation;
  instrumentation.enabled = true;
  runner.forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get(), &instrumentation);
  expect_equal_counters(instrumentation.counters, twin, "instrumented forward");
  ASSERT_EQ(instrumentation.tile_status.size(), twin.kept_entries.size());
  for (std::int64_t s = 0; s < c.batch * c.bias_heads; ++s) {
    const TileMap expected = build_tile_map(death_host.data() + s * c.key_len, c.key_len, c.q_len, TileShape{64, 64});
    EXPECT_TRUE(std::equal(expected.status.begin(), expected.status.end(),
                           instrumentation.tile_status.begin() + s * twin.q_tiles * twin.k_tiles))
        << "segment " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GpuKernelCounters,
    ::testing::Values(
        CounterCase{1, 2, 1, 1, 1023, 1023, 64, 128, ""},                  // odd L, GQA 2
        CounterCase{1, 2, 1, 1, 1023, 1023, 64, 128, "forward=mma"},
        CounterCase{1, 2, 1, 1, 1023, 1023, 64, 128, "fused-lists=off"},
        CounterCase{1, 8, 2, 2, 2000, 2000, 128, 300, ""},                 // GQA 4, d128, 4 heads per CTA
        CounterCase{1, 8, 2, 2, 2000, 2000, 128, 300, "heads-per-cta=1"},  // each bias head counted by one CTA
        CounterCase{2, 4, 2, 4, 640, 640, 64, 200, ""},                    // a bias per query head, batch 2
        CounterCase{2, 4, 2, 4, 640, 640, 64, 200, "forward=mma"},
        CounterCase{1, 2, 1, 1, 100, 1536, 64, 300, ""},                   // Lq < Lk, bottom-right
        CounterCase{1, 2, 1, 1, 300, 300, 64, 1024, ""},                   // w ≥ L: the dense path with β
        CounterCase{1, 2, 1, 1, 300, 300, 64, 1024, "forward=mma"},
        CounterCase{1, 2, 1, 1, 8192, 8192, 64, 4500, ""},                 // w > 4096: lists read from memory
        CounterCase{1, 2, 1, 1, 32768, 32768, 64, 1024, ""},               // the benchmark shape, counted in full
        CounterCase{1, 32, 8, 8, 32768, 32768, 128, 2048, ""}));           // GQA 4 at 32K, d128

}  // namespace
}  // namespace dmascope::cuda
