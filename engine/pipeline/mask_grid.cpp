#include "engine/pipeline/mask_grid.h"

#include <fmt/format.h>

namespace dmascope::engine {

std::vector<float> reduce_result_mask(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head,
                                      const MatrixWindow& window, std::int64_t width, std::int64_t height,
                                      ReduceMode mode, std::string* where) {
  std::string cpu_reason = "CPU";
  if (result.device_captures) {
    try {
      if (auto grid = result.device_captures->reduce(layer, bias_head, window, width, height, mode)) {
        if (where) *where = "GPU";
        return std::move(*grid);
      }
      cpu_reason = "CPU (zoomed in)";
    } catch (const std::exception& error) {
      cpu_reason = fmt::format("CPU (the GPU reduction failed: {})", error.what());
    }
  }
  if (where) *where = cpu_reason;
  return reduce_mask_to_grid(result.death(layer, bias_head), window, width, height, mode);
}

}  // namespace dmascope::engine
