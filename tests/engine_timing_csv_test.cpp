// CSV export of timings, sweeps and tile maps (engine/timing/timing_csv.h): header, quoting, one row per variant and per
// causal tile, units, and the refusal of a map too large to export.
#include <gtest/gtest.h>

#include <sstream>

#include "engine/timing/timing_csv.h"
#include "core/mask/dma_mask.h"

namespace dmascope::engine {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

LayerTiming sample_timing() {
  LayerTiming t;
  t.device = "NVIDIA H100 (CUDA, bf16)";
  t.on_gpu = true;
  t.layer = 1;
  t.length = 1024;
  t.window = 64;
  t.head_dim = 64;
  t.q_heads = 4;
  t.mask_build = {true, 0.5, 0.1, 0, 0, {}};
  t.dma = {true, 1.5, 0.2, 2e6, 1e6, {}};
  t.dma_total = {true, 2.0, 0.3, 2e6, 1e6, {}};  // mask build + kernel, timed as one
  t.dense = {true, 8.0, 0.3, 4e6, 2e6, {}};
  t.materialized.skipped_why = "needs 6 GB, 2 GB free";
  return t;
}

TEST(AppTimingCsv, FieldsWithCommasOrQuotesAreQuoted) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
}

TEST(AppTimingCsv, LayerTimingHasOneRowPerVariantWithRatesAndTheSkipReason) {
  const auto lines = lines_of(layer_timing_csv(sample_timing()));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].rfind("device,on_gpu,layer,length,window,head_dim,q_heads,variant,measured,median_ms", 0), 0u);
  EXPECT_NE(lines[2].find("\"NVIDIA H100 (CUDA, bf16)\",1,1,1024,64,64,4,dma_kernel,1,1.5,0.2,2000000,1000000,"),
            std::string::npos)
      << lines[2];
  // dma kernel: 2e6 pairs · 4 · 64 / 1.5 ms = 0.341 TFLOP/s executed, half of it useful.
  EXPECT_NE(lines[2].find(",0.341333,0.170667,"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("dma_incl_mask,1,2,0.3,"), std::string::npos) << lines[3];
  EXPECT_NE(lines[4].find("dense,1,8,"), std::string::npos);
  EXPECT_NE(lines[4].find(",4,"), std::string::npos) << "dense / (mask + DMA) = 4: " << lines[4];
  EXPECT_NE(lines[5].find("materialized,0,,,,,,,,\"needs 6 GB, 2 GB free\""), std::string::npos) << lines[5];
}

TEST(AppTimingCsv, SweepRowsStartWithTheSweptVariable) {
  TimingSweep sweep;
  sweep.kind = SweepKind::Window;
  sweep.points = {16, 32};
  sweep.timings = {sample_timing(), sample_timing()};
  const auto lines = lines_of(timing_sweep_csv(sweep));
  ASSERT_EQ(lines.size(), 1u + 2 * 5);
  EXPECT_EQ(lines[0].rfind("sweep,point,device,", 0), 0u);
  EXPECT_EQ(lines[1].rfind("w,16,", 0), 0u);
  EXPECT_EQ(lines[10].rfind("w,32,", 0), 0u);
}

TEST(AppTimingCsv, CpuTileMapListsCausalTilesOfEveryQueryHead) {
  const std::int64_t L = 10;
  std::vector<std::int32_t> death(L);
  for (std::int64_t j = 0; j < L; ++j) death[j] = static_cast<std::int32_t>(j < 5 ? L : j);  // keys 0..4 kept forever
  const std::vector<TileMap> maps = {build_tile_map(death.data(), L, L, {4, 4})};
  const auto lines = lines_of(cpu_tile_map_csv(maps, 2, L));
  // 3 query tiles with 1, 2, 3 causal key tiles = 6 per head, 2 query heads sharing the one bias head.
  ASSERT_EQ(lines.size(), 1u + 12);
  EXPECT_EQ(lines[0], "head,bias_head,q_tile,k_tile,status");
  EXPECT_EQ(lines[1], "0,0,0,0,partial");  // the diagonal tile: its pairs above the diagonal are not kept
  EXPECT_EQ(lines[2], "0,0,1,0,full");
  EXPECT_EQ(lines[8], "1,0,1,0,full");
  EXPECT_EQ(lines[6], "0,0,2,2,skipped");  // keys 8..9: never kept
}

TEST(AppTimingCsv, KernelTileMapCarriesEachCtasMicroseconds) {
  KernelTileMap map;
  map.q_heads = 2;
  map.bias_heads = 2;
  map.q_tiles = 2;
  map.k_tiles = 2;
  map.status = {2, 0, 1, 1, /* head 1 */ 2, 0, 0, 2};
  map.cta_microseconds = {10.0, 20.5, 30.0, 40.25};
  const auto lines = lines_of(kernel_tile_map_csv(map, 128));
  ASSERT_EQ(lines.size(), 1u + 2 * 3);
  EXPECT_EQ(lines[0], "head,bias_head,q_tile,k_tile,status,cta_us");
  EXPECT_EQ(lines[1], "0,0,0,0,full,10.000");
  EXPECT_EQ(lines[2], "0,0,1,0,partial,20.500");
  EXPECT_EQ(lines[3], "0,0,1,1,partial,20.500");
  EXPECT_EQ(lines[6], "1,1,1,1,full,40.250");
}

TEST(AppTimingCsv, AMapTooLargeToExportIsRefusedWithAReason) {
  KernelTileMap map;
  map.q_heads = 64;
  map.bias_heads = 64;
  map.q_tiles = map.k_tiles = 2048;  // 128K tokens: 2M causal tiles per head
  try {
    kernel_tile_map_csv(map, 131072);
    FAIL() << "expected an error";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("larger tile size"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace dmascope::engine
