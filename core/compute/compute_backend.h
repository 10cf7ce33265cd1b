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

// A forward's captures kept on the device that computed them: per layer the death indices and β [Hb, L], and, when
// the forward was asked to keep them, q and k after RoPE and v ([heads, L, d], in the forward's precision). Views are
// computed there for the visible window only, so neither an L×L buffer nor anything of size L×d per layer crosses to
// the host unless a caller asks for a layer's inputs (attention_inputs: exports, timing on another path).
class DeviceCaptures {
 public:
  virtual ~DeviceCaptures() = default;
  // The mask view's grid as reduce_mask_to_grid computes it; nullopt where this path does not apply (then the caller
  // reduces the host copy of the death indices).
  virtual std::optional<std::vector<float>> reduce(std::int64_t layer, std::int64_t bias_head,
                                                   const MatrixWindow& window, std::int64_t width, std::int64_t height,
                                                   ReduceMode mode) const = 0;
  // Empty when q/k/v were kept; else why not (not asked for, or not enough device memory).
  virtual std::string attention_inputs_missing() const = 0;
  // reduce_logits_to_grid of one query head from the kept q/k, β and death indices; with `probabilities` the row
  // log-sum-exp of the view's rows is computed here first (row_log_sum_exp's twin) and the grid holds probabilities.
  // options.cancel is checked before and after the device work. Throws Error without q/k.
  virtual LogitGrid logit_grid(std::int64_t layer, std::int64_t q_head, const MatrixWindow& window, std::int64_t width,
                               std::int64_t height, ReduceMode mode, const LogitGridOptions& options,
                               bool probabilities) const = 0;
  // One entry's logit and probability, as the grids compute them (the tooltip).
  virtual LogitCell cell(std::int64_t layer, std::int64_t q_head, std::int64_t query, std::int64_t key) const = 0;
  // The layer's q, k, v and β downloaded as fp32 timing inputs (window and variant left for the caller to set).
  virtual AttentionInputs attention_inputs(std::int64_t layer) const = 0;
};

// The inputs with q, k, v and β on the host: `in` itself, or its device layer downloaded (window, variant kept).
inline AttentionInputs host_attention_inputs(const AttentionInputs& in) {
  if (!in.on_device()) return in;
  AttentionInputs host = in.device->attention_inputs(in.device_layer);
  host.window = in.window;
  host.variant = in.variant;
  return host;
}

// Which rows of the logits come back: all [1, L, V], only the last position's [1, 1, V], or none.
enum class LogitRows { All, Last, None };

struct ForwardRequest {
  bool attention_inputs = true;  // per layer q_rope, k_rope, v downloaded into the host captures
  bool tile_maps_on_device = true;  // false: built on the CPU from the death arrays (build_tile_map)
  LogitRows logits = LogitRows::All;
  bool keep_on_device = false;   // keep death indices and β on the device (BackendForward::captures)
  bool keep_inputs_on_device = false;  // with keep_on_device: q/k/v too, when the device has room for them
  // F32: the exact reference (the CPU's only precision). BF16 (CUDA): the model in bf16 as transformers runs it on the
  // GPU, its attention on the wgmma DMA kernels, the forward one CUDA graph. The CPU refuses anything but F32.
  Precision precision = Precision::F32;
};

struct BackendForward {
  ForwardResult forward;
  double device_ms = 0.0;    // device time of the whole forward (CUDA events); 0 on the CPU
  double download_ms = 0.0;  // device → host copies of the captures
  double tile_map_ms = 0.0;
  std::shared_ptr<const DeviceCaptures> captures;  // when keep_on_device and the backend keeps them; else null
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
