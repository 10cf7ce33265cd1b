// The seam between dmascope and where it computes: one interface that the CPU (core/compute/cpu_backend.cpp) and
// CUDA (kernels/cuda_backend.cpp) implement, so that the engine, the app and the CLI never name a CUDA type nor need
// an #ifdef. A backend runs the Doge forward with captures, keeps the masks where it computed them and reduces views
// of them for the heatmap, times attention (DMA = mask build + forward; dense; materialized), records the kernel's own
// tile map, and says what device it is and whether (and why not) it can run. The engine picks one with
// make_backend(Backend) (engine/backend/backend_factory.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/compute/attention_inputs.h"
#include "core/compute/attention_timing.h"
#include "core/compute/backend_kind.h"
#include "core/compute/precision.h"
#include "core/lab/lab_metrics.h"
#include "core/model/doge_forward.h"
#include "core/view/view_reduce.h"

namespace dmascope {

// The device's identity and memory, for the app's status bar; available == false when the backend cannot run.
struct DeviceStatus {
  bool available = false;
  std::string name;
  int multiprocessors = 0, compute_capability = 0;
  std::size_t memory_used = 0, memory_total = 0, memory_free = 0;
};

// A forward's death indices [layers, Hb, L] kept on the device that computed them, whose views are reduced there
// (reduce_mask_to_grid's twin), so that neither the mask nor an L×L buffer crosses to the host.
class MaskViews {
 public:
  virtual ~MaskViews() = default;
  // The view's grid as reduce_mask_to_grid computes it; nullopt where this path does not apply (then the caller
  // reduces the host copy of the death indices).
  virtual std::optional<std::vector<float>> reduce(std::int64_t layer, std::int64_t bias_head,
                                                   const MatrixWindow& window, std::int64_t width, std::int64_t height,
                                                   ReduceMode mode) const = 0;
};

// Which rows of the logits come back: all [1, L, V], only the last position's [1, 1, V], or none.
enum class LogitRows { All, Last, None };

struct ForwardRequest {
  bool attention_inputs = true;  // per layer q_rope, k_rope, v (the logits view, the timing)
  bool tile_maps_on_device = true;  // false: built on the CPU from the death arrays (build_tile_map)
  LogitRows logits = LogitRows::All;
  bool keep_masks = false;       // keep the death indices on the device (BackendForward::masks)
  // F32: the exact reference (the CPU's only precision). BF16 (CUDA): the model in bf16 as transformers runs it on the
  // GPU, its attention on the wgmma DMA kernels, the forward one CUDA graph. The CPU refuses anything but F32.
  Precision precision = Precision::F32;
};

struct BackendForward {
  ForwardResult forward;
  double device_ms = 0.0;    // device time of the whole forward (CUDA events); 0 on the CPU
  double download_ms = 0.0;  // device → host copies of the captures
  double tile_map_ms = 0.0;
  std::shared_ptr<const MaskViews> masks;  // when keep_masks and the backend keeps them; else null
};

// A model's weights where the backend computes (uploaded once), and its forward. One run at a time.
class ModelForward {
 public:
  virtual ~ModelForward() = default;
  // Honours the options as doge_forward does; throws ForwardCancelled on cancel.
  virtual BackendForward run(std::span<const std::int32_t> ids, const ForwardOptions& options,
                             const ForwardRequest& request) = 0;
  virtual std::size_t weight_bytes() const = 0;  // memory the weights take where they run
};

class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;
  virtual Backend kind() const = 0;
  // Empty when this backend can run here; else why not ("this build has no CUDA kernels ...", "no usable CUDA GPU").
  virtual std::string unsupported_reason() const = 0;
  virtual DeviceStatus status() const = 0;  // may query the driver: call it at most about once a second

  // Why this model cannot run on this backend's forward, or an empty string.
  virtual std::string forward_unsupported_reason(const DogeModel& model) const = 0;
  // Throws with the reason. The model must outlive the ModelForward (the CPU's reads its weights in place).
  virtual std::unique_ptr<ModelForward> load_forward(const DogeModel& model) const = 0;

  // Times DMA (mask build alone; forward alone; DMA time = both as one unit), and unless !options.baselines the dense
  // and materialized baselines, with token and tile densities of the mask it built. Throws ForwardCancelled on cancel
  // (checked between variants), Error on a shape or precision the backend refuses.
  virtual LayerTiming time_attention(const AttentionInputs& inputs, const AttentionTimingOptions& options,
                                     const std::atomic<bool>& cancel) const = 0;
  // The kernel's own tile statuses and per-CTA times for one problem (a separate, untimed run); throws where the
  // backend has no instrumented kernel.
  virtual KernelTileMap instrument_attention(const AttentionInputs& inputs, Precision precision) const = 0;

  // The mask lab's metrics of one head (core/lab/lab_metrics.h's head_metrics: same definitions, same chunks) where
  // this backend computes; on a GPU each strategy's gpu_ms too. Throws LabCancelled on cancel, Error where the
  // backend cannot run the head.
  virtual std::vector<StrategyMetrics> lab_head_metrics(const LabHead& head, std::span<const Strategy> strategies,
                                                        const LabMetricOptions& options) const = 0;
};

std::unique_ptr<ComputeBackend> make_cpu_backend();
// A backend of `kind` that cannot run here: unsupported_reason() is `reason`, and every operation throws Error with
// it (a build without the CUDA kernels answers Backend::Cuda with this).
std::unique_ptr<ComputeBackend> make_unavailable_backend(Backend kind, std::string reason);

}  // namespace dmascope
