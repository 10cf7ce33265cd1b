// Timing of one layer's attention for a result: DMA (the mask build, then the tiled kernel with the death array)
// against dense attention (the same kernel with death == nullptr), nvbench-style: one warm-up, then repeats until
// about two seconds are spent (at least one, at most nine), median and spread reported. Runs on the pipeline's
// worker thread; cancel is checked between runs.
#pragma once

#include <atomic>
#include <string>

#include "app/gui/pipeline_result.h"

namespace dmascope::gui {

LayerTiming time_layer_cpu(const PipelineResult& result, std::int64_t layer, const std::atomic<bool>& cancel);

// The CUDA backend (kernels/dma_cuda.h) when this build has it and a GPU is present; bf16 inputs, CUDA events.
bool cuda_backend_available(std::string* why_not);
LayerTiming time_layer_cuda(const PipelineResult& result, std::int64_t layer, const std::atomic<bool>& cancel);

}  // namespace dmascope::gui
