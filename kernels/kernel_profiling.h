// Profiling-only switches of the chunked mask build, compiled in only with -DDMASCOPE_KERNEL_PROFILING=ON (off by
// default). Plain C++ (no CUDA headers), so that the CLI can set them. A profiling build can return incomplete masks
// (stop_after_stage): never ship or test correctness with one.
#pragma once

#ifdef DMASCOPE_KERNEL_PROFILING

namespace dmascope::cuda {

struct ChunkedBuildProfiling {
  // ≥ 0: the chunked kernel returns after stage n (0 at once, 1 pivot, 2 collection, 3 sort, 4 local keys and
  // positions, 5 tables), leaving the mask INCOMPLETE. Timing these prefixes places the kernel's time without
  // hardware counters. −1: the whole kernel.
  int stop_after_stage = -1;
  // n > 0: the n-th chunked launch of the process records, per CTA, the SM clock after each stage, waits for the
  // kernel and prints the stage times to stderr (outside graph capture only). 0: no trace.
  int trace_launch = 0;
};

// Applies to every chunked launch after the call (process-wide: a profiling build runs one measurement at a time).
void set_chunked_build_profiling(const ChunkedBuildProfiling& profiling);

}  // namespace dmascope::cuda

#endif  // DMASCOPE_KERNEL_PROFILING
