// What the Timing and Tile map panels and the status bar keep between frames for the timing features: the chart
// options, the kernel tile map's textures and layer choice, and the GPU status, which is queried from the driver at
// most once a second (not every frame: the query is a driver call).
#pragma once

#include <cstdint>
#include <memory>

#include "app/gui/render/grid_renderer.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/timing/layer_timing.h"

namespace dmascope::gui {

struct TimingPanelState {
  bool log_ms = true;        // the sweep charts' ms axis
  bool sweep_table = false;  // a sweep as a table of numbers instead of the chart
};

// The second layer of the tile map: the kernel's own statuses, or each CTA's time as a heat colour.
enum class KernelTileLayer { Statuses, CtaTime };

struct KernelTilePanelState {
  KernelTileLayer layer = KernelTileLayer::Statuses;
  GridTexture texture;
  std::uint64_t generation = 0;
  std::int64_t map_layer = -1, head = -1, width = 0;
  double row_begin = 0, row_end = 0, col_begin = 0, col_end = 0;
  KernelTileLayer drawn_layer = KernelTileLayer::Statuses;
  float cta_low_us = 0, cta_high_us = 1;  // the heat colour's range: the layer's fastest and slowest CTA
  // One bias head's statuses as a TileMap with its counts, made once per (map, bias head): at 128K tokens it holds 4M
  // tiles, too many to copy and count every frame.
  std::shared_ptr<const TileMap> statuses;
  std::uint64_t statuses_generation = 0;
  std::int64_t statuses_layer = -1, statuses_bias_head = -1;
};

struct GpuStatusCache {
  GpuStatus status;
  double queried_at_s = -1e9;  // ImGui::GetTime() of the last query
};

}  // namespace dmascope::gui
