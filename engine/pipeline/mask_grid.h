// The heatmap's mask grid for one view: reduced on the GPU that computed the mask when the result keeps its death
// indices there (the CUDA backend's forward; kernels/cuda_captures.h), else on the CPU (core/view/view_reduce.h). The
// two give the same floats; `where` tells the view which ran.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/pipeline/pipeline_result.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {

std::vector<float> reduce_result_mask(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head,
                                      const MatrixWindow& window, std::int64_t width, std::int64_t height,
                                      ReduceMode mode, std::string* where = nullptr);

}  // namespace dmascope::engine
