// The CUDA implementation of dmascope's compute interface. Plain C++ (no CUDA headers), so that the CLI, the app and
// the tests can call it; every kernel here has a CPU twin in core/ with the same semantics:
//   build_mask        ↔ dma_death_indices        (core/mask/dma_mask.h)
//   tile_map          ↔ build_tile_map           (core/attention/attention_cpu.h)
//   forward (DMA)     ↔ attention_tiled / attention_reference with a death array
//   forward (dense)   ↔ the same with death == nullptr
// Tensors live on the device; pointers are device pointers. Layouts match AttentionProblem in core/attention/attention_cpu.h:
//   q [B, Hq, Lq, d], k/v [B, Hkv, Lk, d] (bf16 or fp16), β [B, Hb, Lk] fp32, death [B, Hb, Lk] int32,
//   out [B, Hq, Lq, d] in the input precision. Causal attention is bottom-right aligned when Lq < Lk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/compute/precision.h"  // the kernels take Precision::BF16 or Precision::F16
#include "core/attention/kernel_counters.h"
#include "core/attention/kernel_choice.h"
#include "core/mask/dma_mask.h"

namespace dmascope::cuda {

struct DeviceInfo {
  bool available = false;
  std::string name;
  int multiprocessors = 0;
  int compute_capability = 0;  // 90 for an H100
  std::size_t memory_total = 0, memory_free = 0;
};
DeviceInfo device_info();  // available == false when there is no usable GPU (never throws)

struct AttentionShape {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, bias_heads = 1;
  std::int64_t q_len = 0, key_len = 0, head_dim = 64;
  Precision precision = Precision::BF16;
  // The softmax scale; 0 means 1/sqrt(head_dim). The model forward sets 1/sqrt(d) of its own head dim when it pads
  // q/k/v with zeros up to a head dim the kernels take.
  double scale = 0.0;
};

// Supported? Returns an empty string, or why not (bf16 or fp16; head dims 64 and 128; Hq a multiple of Hkv; Hb = Hkv or Hq;
// Lq ≤ Lk; sizes that fit int32 indexing).
std::string unsupported_reason(const AttentionShape& shape);

// A device allocation, freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return pointer_; }
  template <class T> T* as() const { return static_cast<T*>(pointer_); }
  std::size_t bytes() const { return bytes_; }
  void upload(const void* host, std::size_t bytes);
  void download(void* host, std::size_t bytes) const;
  void fill_bytes(int value);  // cudaMemset

 private:
  void* pointer_ = nullptr;
  std::size_t bytes_ = 0;
};

// What the forward kernel recorded about its own run, only when asked (off while timing): its counters (keys gathered
// and pairs computed per query head and tile, kept entries per tile), the tile statuses and keys gathered per bias
// head that follow from them, and per-CTA times.
struct Instrumentation {
  bool enabled = false;
  KernelCounters counters;                  // written by the forward kernel itself
  std::vector<std::uint8_t> tile_status;    // [B·Hb, q_tiles, k_tiles] TileStatus values, from counters.kept_entries
  std::vector<std::int32_t> keys_gathered;  // [B·Hb, q_tiles]: counters.keys_gathered of each bias head's first head
  std::vector<double> cta_microseconds;     // [B·Hq, q_tiles]: each forward CTA's duration (globaltimer)
  std::int64_t q_tiles = 0, k_tiles = 0;
};

// Runs DMA (mask build + gather + sparse forward) and the dense baseline for one shape. Owns its workspace, which is
// O(L) for the mask and O(L/64 · (w + 64)) for the gather lists: no L×L tensor at any size. Which kernels it launches
// is fixed at construction (KernelChoice, core/attention/kernel_choice.h; the defaults are the fastest measured).
class DmaRunner {
 public:
  DmaRunner(const AttentionShape& shape, std::int64_t window, MaskVariant variant, const KernelChoice& kernels = {});
  ~DmaRunner();
  DmaRunner(const DmaRunner&) = delete;
  DmaRunner& operator=(const DmaRunner&) = delete;

  // death [B, Hb, Lk] from β [B, Hb, Lk], both on the device. Only the mask state: the gather lists are built by
  // build_gather_lists (which forward calls).
  void build_mask(const float* beta, std::int32_t* death);
  // The forward's gather lists (per 64-row query tile, the keys some row keeps) from a device death array.
  void build_gather_lists(const std::int32_t* death);
  // What the DMA runs before its forward: build_mask then build_gather_lists, or, where the chunked build applies (L ≤
  // 64K, w ≤ 4096, (Lk − Lq) % 64 == 0) and the wgmma forward runs, the mask build alone, leaving per 1024 rows the
  // keys kept on them, from which each forward CTA builds its tile's list (KernelChoice fused-lists=off forces the
  // former, for same-run comparisons).
  void build_mask_and_gather_lists(const float* beta, std::int32_t* death);
  // out = DMA attention; builds the gather lists from `death` first. instrumentation may be null.
  void forward(const void* q, const void* k, const void* v, const float* beta, const std::int32_t* death, void* out,
               Instrumentation* instrumentation = nullptr);
  // build_mask_and_gather_lists then the forward over those lists, replayed as one CUDA graph (captured on the first
  // call for these buffers): the pipeline without its launch gaps. Same result as build_mask then forward, up to the
  // order of the softmax sums.
  // count_work: the forward also writes its counters (the same graph with the counters on, captured apart; zeroing the
  // kept entries is its first node), which counters() then reads. Off is the plain run every timing reports.
  void mask_and_forward(const void* q, const void* k, const void* v, const float* beta, std::int32_t* death, void* out,
                        bool count_work = false);
  // forward from a given death array (gather lists, then the forward over them) replayed as one CUDA graph: how the
  // mask lab times a mask that a death array expresses but β does not build (sliding window, sinks).
  void forward_death_graph(const void* q, const void* k, const void* v, const float* beta, const std::int32_t* death,
                           void* out);
  // The counters of the last forward that wrote them (mask_and_forward with count_work, or forward with
  // instrumentation); waits for the stream. Fails when no forward has counted yet.
  KernelCounters counters();
  // The same launches as mask_and_forward without a graph of their own, on the runner's stream: for a caller that
  // captures them into its own graph (the bf16 model forward).
  void launch_mask_and_forward(const void* q, const void* k, const void* v, const float* beta, std::int32_t* death,
                               void* out);
  // Launch on the caller's stream (a cudaStream_t that outlives the runner) instead of the runner's own, so that the
  // runner's launches order with, and are captured into, the caller's work.
  void use_stream(void* stream);
  // Dense causal attention of the same kernel family; beta may be null (plain attention).
  void dense_forward(const void* q, const void* k, const void* v, const float* beta, void* out);
  // Materialized baseline: cuBLAS QKᵀ → softmax (+β, causal) → PV, one head at a time; needs Lq·Lk·4 bytes.
  void materialized_forward(const void* q, const void* k, const void* v, const float* beta, void* out);
  static std::size_t materialized_workspace_bytes(const AttentionShape& shape);

  // (query, key) pairs the last DMA forward computed, all query heads: 64 rows × the gathered keys of each tile,
  // rounded up to whole 64-key blocks (what the kernel executes).
  std::int64_t executed_pairs() const;
  std::int64_t tile_rows() const;
  // The forward kernel this runner launches on the current GPU: "wgmma" (Hopper) or "mma.sync" (also on Hopper with
  // KernelChoice forward=mma). Bench results and the app's timing name it.
  const char* forward_kernel_name() const;

  // Waits for all queued work (tests call this before reading results).
  void synchronize();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Timing with CUDA events: `warmup` untimed runs, then `repeats` timed runs; returns each run's milliseconds.
std::vector<double> time_ms(const std::function<void()>& work, int warmup, int repeats);
// Two pieces of work timed replay by replay in turn (a b, b a, a b, …), so that clock and temperature drift over the
// run reach both alike: `warmup` untimed rounds, then `repeats` timed runs of each; returns each one's milliseconds.
std::pair<std::vector<double>, std::vector<double>> time_ms_alternating(const std::function<void()>& a,
                                                                        const std::function<void()>& b, int warmup,
                                                                        int repeats);

}  // namespace dmascope::cuda
