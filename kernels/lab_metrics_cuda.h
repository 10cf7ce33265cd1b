// The mask lab's metrics of one head on the GPU: the twin of core/lab/lab_metrics.h's head_metrics (same definitions,
// same row chunks, never an L×L buffer), plus each strategy's gpu_ms. Per chunk of rows: the scores and the dense
// reference (cuBLAS SGEMM, TF32 off, and a row-softmax kernel), then per strategy its kept set as bit rows
// (kernels/lab_chunk.cuh: positions and death indices, a radix top-k for oracle and nsa), the gather key lists and the
// gather kernel's O_S (kernels/lab_gather.cuh), and the per-row recall and error, summed on the host in fp64.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "core/lab/lab_metrics.h"

namespace dmascope::cuda {

class LabMetricsCuda {
 public:
  LabMetricsCuda();  // Error when no GPU can run it
  ~LabMetricsCuda();
  LabMetricsCuda(const LabMetricsCuda&) = delete;
  LabMetricsCuda& operator=(const LabMetricsCuda&) = delete;
  // One call at a time; the device workspace grows to the largest head seen and is reused. Throws LabCancelled on
  // cancel (checked per chunk), Error on a head dimension the gather kernel does not take (a multiple of 4, ≤ 128).
  std::vector<StrategyMetrics> head_metrics(const LabHead& head, std::span<const Strategy> strategies,
                                            const LabMetricOptions& options);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dmascope::cuda
