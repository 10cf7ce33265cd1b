// How much memory a forward request needs, estimated BEFORE anything is allocated, so that a request the machine
// cannot hold (a billion tokens, 1×1 tiles over 64K tokens) is refused with the numbers instead of being
// discovered by the allocator (std::bad_alloc after minutes, or the kernel's OOM killer). The CLI and the app share
// it; the CPU forward checks it on entry and the GPU forward before its device allocations.
//
// Every term is counted with saturating arithmetic: an absurd request gives an absurd (never a wrapped, small)
// estimate. The estimate is an upper bound of what the forward holds at its peak, within a few percent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/doge_forward.h"

namespace dmascope {

struct ForwardMemoryEstimate {
  std::int64_t token_id_bytes = 0;           // the ids themselves
  std::int64_t activation_bytes = 0;         // one layer's working buffers (reused or freed layer to layer)
  std::int64_t capture_bytes = 0;            // per-layer tensors kept for the views, all layers
  std::int64_t tile_map_bytes = 0;           // one status byte per tile, per bias head and layer
  std::int64_t probability_bytes = 0;        // [H, L, L] per layer when probabilities are captured
  std::int64_t attention_scratch_bytes = 0;  // gathered keys/values and a tile's scores, per worker thread
  std::int64_t logit_bytes = 0;
  std::int64_t weight_bytes = 0;             // weights still to be uploaded (a GPU forward not loaded yet)
  std::int64_t output_bytes = 0;             // what the caller builds from the result (dump's dense kept masks)

  std::int64_t total_bytes() const;  // saturating
  std::string describe() const;      // "12.9 GB (activations 1.2 GB, tile maps 11.0 GB, ...)": the nonzero terms
};

// The CPU forward (doge_forward) of `tokens` tokens with these options on `workers` threads.
ForwardMemoryEstimate estimate_cpu_forward_memory(const DogeConfig& config, std::int64_t bias_heads,
                                                  std::int64_t tokens, const ForwardOptions& options,
                                                  std::int64_t workers);

// What the GPU forward (kernels/doge_forward_cuda.cpp) allocates on the device for one run: activations, masks,
// gather lists, logits (`logit_rows` rows of V), tile maps when built on the device. `mask_workspace_bytes` is the
// mask build's scratch, which only the kernels know. Weights are not included (they are resident already).
ForwardMemoryEstimate estimate_gpu_forward_device_memory(const DogeConfig& config, std::int64_t bias_heads,
                                                         std::int64_t tokens, const ForwardOptions& options,
                                                         std::int64_t logit_rows, bool tile_maps_on_device,
                                                         std::int64_t mask_workspace_bytes);

// MemAvailable from /proc/meminfo in bytes: what can be allocated without swapping. Nothing where it cannot be read.
std::optional<std::int64_t> available_host_memory_bytes();

// An Error when `estimate` exceeds `available_bytes`: "<what>: needs an estimated 12.9 GB (…), but only 3.1 GB is
// available (<where_available>)".
void require_memory(const ForwardMemoryEstimate& estimate, std::int64_t available_bytes, std::string_view what,
                    std::string_view where_available);

// The CPU forward's check: the estimate against MemAvailable (skipped where /proc/meminfo cannot be read). Also
// refuses a token count beyond the 32-bit positions the masks index. `output_bytes`: what the caller will build from
// the result on top of it.
void require_cpu_forward_memory(const DogeModel& model, std::int64_t tokens, const ForwardOptions& options,
                                std::int64_t output_bytes = 0);

std::string format_bytes(std::int64_t bytes);  // "512 B", "4.2 MB", "17.2 GB" (decimal units)

}  // namespace dmascope
