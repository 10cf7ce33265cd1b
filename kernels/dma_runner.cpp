// Host side of the CUDA backend: device queries, buffers, DmaRunner (mask build → gather lists → forward), the dense
// and materialized baselines, and event timing.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "kernels/attention_fwd.cuh"
#include "kernels/cublas_loader.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "kernels/mask_build.cuh"
#include "kernels/materialized_softmax.cuh"
#include "core/attention/tile_sizes.h"
#include "core/base/error.h"

namespace dmascope::cuda {

DeviceInfo device_info() {
  DeviceInfo info;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    return info;
  }
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, 0) != cudaSuccess) return info;
  info.available = properties.major >= 8;  // mma.sync bf16 needs sm_80
  info.name = properties.name;
  info.multiprocessors = properties.multiProcessorCount;
  info.compute_capability = properties.major * 10 + properties.minor;
  cudaMemGetInfo(&info.memory_free, &info.memory_total);
  return info;
}

std::string unsupported_reason(const AttentionShape& s) {
  if (s.precision == Precision::F32) return "precision fp32 (the attention kernels take bf16 or fp16)";
  if (s.head_dim != 64 && s.head_dim != 128) return fmt::format("head_dim {} (supported: 64, 128)", s.head_dim);
  if (s.batch < 1 || s.q_heads < 1 || s.kv_heads < 1 || s.q_heads % s.kv_heads != 0)
    return fmt::format("heads {}/{} (query heads must be a multiple of kv heads)", s.q_heads, s.kv_heads);
  if (s.bias_heads != s.kv_heads && s.bias_heads != s.q_heads)
    return fmt::format("{} bias heads (must equal the kv or the query heads)", s.bias_heads);
  if (s.q_len < 1 || s.key_len < s.q_len) return fmt::format("q_len {} with key_len {}", s.q_len, s.key_len);
  if (s.key_len >= (1LL << 30)) return fmt::format("key_len {} too long", s.key_len);
  return {};
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes) DMASCOPE_CUDA_CHECK(cudaMalloc(&pointer_, bytes));
}
DeviceBuffer::~DeviceBuffer() {
  if (pointer_) cudaFree(pointer_);
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept : pointer_(other.pointer_), bytes_(other.bytes_) {
  other.pointer_ = nullptr;
  other.bytes_ = 0;
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  std::swap(pointer_, other.pointer_);
  std::swap(bytes_, other.bytes_);
  return *this;
}
void DeviceBuffer::upload(const void* host, std::size_t bytes) {
  if (bytes > bytes_) fail("upload of {} bytes into a {}-byte device buffer", bytes, bytes_);
  DMASCOPE_CUDA_CHECK(cudaMemcpy(pointer_, host, bytes, cudaMemcpyHostToDevice));
}
void DeviceBuffer::download(void* host, std::size_t bytes) const {
  if (bytes > bytes_) fail("download of {} bytes from a {}-byte device buffer", bytes, bytes_);
  DMASCOPE_CUDA_CHECK(cudaMemcpy(host, pointer_, bytes, cudaMemcpyDeviceToHost));
}
void DeviceBuffer::fill_bytes(int value) { DMASCOPE_CUDA_CHECK(cudaMemset(pointer_, value, bytes_)); }

namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLAS error {} in {}", static_cast<int>(status), what);
}

}  // namespace

struct DmaRunner::Impl {
  AttentionShape shape;
  std::int64_t window = 0;
  MaskVariant variant = MaskVariant::PerRowTopK;
  int q_tiles = 0, k_tiles = 0, capacity = 0, segments = 0;
  int multiprocessors = 0;  // of the device, for the automatic heads per CTA
  bool all_kept = false;
  detail::MaskBuildPlan plan;
  KernelChoice kernels;  // fixed for the runner's life: the mask-build plan and the capture depend on it
  DeviceBuffer mask_workspace, lists, counts, chunk_keys, chunk_key_counts, cta_times;
  // β in the forward's log2 units, written by the chunked build beside its chunk keys and read by the forward in
  // place of β (ForwardParams::beta_log2): one multiply and cap per key instead of one per score column and block.
  // With the deaths read from the chunk entries, −1.4 % of the DMA at 32K, w 1024, 2/1, d64 and −1.2 % at 64K, 16/4
  // on an NVIDIA H100 (bench/h100/log2-beta-before-after.txt). d64 only; not with rounded scores (they take β itself).
  DeviceBuffer beta_log2;
  // The chunked mask build leaves its chunk keys and the wgmma forward builds each tile's list from them: no
  // gather-list launch (where both apply and kernels.fused_lists).
  bool fused_lists = false;
  int chunks = 0, chunk_capacity = 0;
  DeviceBuffer scores, probabilities;  // materialized baseline only, allocated on first use
  cublasHandle_t cublas = nullptr;
  cudaStream_t stream = nullptr;
  cudaStream_t own_stream = nullptr;  // created in the constructor; `stream` is the caller's after use_stream
  // Mask build + gather + forward, captured once per set of buffers: [0] plain, [1] with the forward's counters.
  // Graphs of mask_and_forward (plain, counting) and of forward_death_graph, each for the buffers it was captured on.
  std::array<cudaGraphExec_t, 3> graphs{};
  std::array<std::array<const void*, 6>, 3> graph_buffers{};
  // The forward's own counters (instrumented runs): per query head and tile, per bias head and tile pair.
  DeviceBuffer counter_keys, counter_pairs, counter_kept;
  bool counting = false;  // the next forward_over_lists writes the counters (kept entries zeroed by the caller)
  bool counted = false;   // a forward has written them

  // Allocates the counters on first use (never while a graph is captured).
  void allocate_counters();
  // Zeroes the kept entries (the kernel adds to them), on the stream, and arms the next forward_over_lists.
  void zero_counters();
  KernelCounters download_counters();  // waits for the stream

  // The gather lists (per 64-row query tile, the keys some row keeps) from a device death array.
  void gather_lists(const std::int32_t* death);
  // Mask build, leaving the chunk keys where fused_lists, else followed by the gather lists; returns whether the
  // forward reads chunk keys.
  bool build_mask_and_lists(const float* beta, std::int32_t* death);
  void replay(std::size_t slot, const std::array<const void*, 6>& buffers, const std::function<void()>& work);
  // The forward over the current gather lists, or (lists_from_mask_build) over the chunk keys the build just left.
  void forward_over_lists(const void* q, const void* k, const void* v, const float* beta, const std::int32_t* death,
                          void* out, Instrumentation* instrumentation, bool lists_from_mask_build);

  detail::ForwardParams params(const void* q, const void* k, const void* v, const float* beta, const std::int32_t* death,
                               void* out) const {
    detail::ForwardParams p{};
    p.q = q;
    p.k = k;
    p.v = v;
    p.beta = beta;
    p.death = death;
    p.lists = lists.as<std::int32_t>();
    p.counts = counts.as<std::int32_t>();
    p.out = out;
    p.batch = static_cast<int>(shape.batch);
    p.q_heads = static_cast<int>(shape.q_heads);
    p.kv_heads = static_cast<int>(shape.kv_heads);
    p.bias_heads = static_cast<int>(shape.bias_heads);
    p.q_len = static_cast<int>(shape.q_len);
    p.key_len = static_cast<int>(shape.key_len);
    p.head_dim = static_cast<int>(shape.head_dim);
    p.q_tiles = q_tiles;
    p.capacity = capacity;
    p.scale = shape.scale > 0.0 ? static_cast<float>(shape.scale)
                                : 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
    p.f16 = shape.precision == Precision::F16;
    // heads-per-cta=1 forces one query head per CTA (for measuring what pairing heads buys).
    p.heads_per_cta = kernels.heads_per_cta;
    // Auto: pairing a GQA group's heads in one CTA reads each key block once for both, but halves the CTAs. Where the
    // paired grid would leave multiprocessors idle (a short sequence: a Doge-20M layer at 2K tokens is 32 paired CTAs
    // for an H100's 132), one head per CTA runs twice as many side by side.
    if (p.heads_per_cta == 0 && shape.batch * shape.q_heads * q_tiles / 2 < multiprocessors) p.heads_per_cta = 1;
    // The forward kernel loads key indices, β and death one block ahead (AsyncKeys, the default since it measured
    // 30 % faster at d128 on an NVIDIA H200: bench/h200/README.md); keys=sync runs the earlier kernel,
    // for same-run comparisons.
    p.async_key_loads = kernels.keys == KeyLoadChoice::Async;
    p.round_scores = kernels.scores == ScoreRounding::Input;
    // On an H100/H200 the forward runs the wgmma kernel (attention_fwd_sm90a.cu); forward=mma runs the mma.sync
    // kernel, for same-run comparisons and to keep testing it on Hopper.
    p.wgmma = kernels.forward != ForwardKernelChoice::Mma;
    return p;
  }
};

DmaRunner::DmaRunner(const AttentionShape& shape, std::int64_t window, MaskVariant variant, const KernelChoice& kernels)
    : impl_(new Impl) {
  if (auto reason = unsupported_reason(shape); !reason.empty()) fail("CUDA attention: unsupported shape: {}", reason);
  if (window < 1) fail("CUDA attention: window must be at least 1, got {}", window);
  if (kernels.heads_per_cta != 0 && kernels.heads_per_cta != 1 && kernels.heads_per_cta != 2 && kernels.heads_per_cta != 4)
    fail("CUDA attention: kernel choice heads-per-cta={} (valid: auto, 1, 2, 4)", kernels.heads_per_cta);
  Impl& m = *impl_;
  m.shape = shape;
  m.multiprocessors = device_info().multiprocessors;
  m.window = window;
  m.variant = variant;
  m.kernels = kernels;
  if (kernels.forward == ForwardKernelChoice::Wgmma &&
      !detail::attention_forward_sm90a_applies(m.params(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr)))
    fail("CUDA attention: kernel choice forward=wgmma needs a compute capability 9.0 GPU (this one: {}); "
         "forward=auto picks mma.sync here", device_info().compute_capability);
  m.segments = static_cast<int>(shape.batch * shape.bias_heads);
  m.q_tiles = static_cast<int>((shape.q_len + kTileRows - 1) / kTileRows);
  m.k_tiles = static_cast<int>((shape.key_len + kTileKeys - 1) / kTileKeys);
  // With w ≥ Lk every causal key is kept: the forward takes the dense path (with β) and needs no gather lists.
  m.all_kept = window >= shape.key_len;
  m.capacity = m.all_kept ? 0 : static_cast<int>(std::min<std::int64_t>(shape.key_len, window + kTileRows));
  m.plan = detail::make_mask_build_plan(m.segments, static_cast<int>(shape.key_len),
                                        static_cast<int>(std::min<std::int64_t>(window, shape.key_len)), variant,
                                        kernels.mask_build);
  m.mask_workspace = DeviceBuffer(detail::mask_build_workspace_bytes(m.plan));
  m.lists = DeviceBuffer(static_cast<std::size_t>(m.segments) * m.q_tiles * m.capacity * sizeof(std::int32_t));
  m.counts = DeviceBuffer(static_cast<std::size_t>(m.segments) * m.q_tiles * sizeof(std::int32_t));
  m.chunk_capacity = detail::chunk_keys_capacity(m.plan);
  // fused-lists=off: the separate gather-list launch, for comparisons.
  m.fused_lists = !m.all_kept && kernels.fused_lists && m.chunk_capacity > 0 &&
                  (shape.key_len - shape.q_len) % kTileRows == 0 &&
                  detail::attention_forward_uses_chunk_keys(m.params(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  if (m.fused_lists) {
    m.chunks = static_cast<int>((shape.key_len + kChunkRows - 1) / kChunkRows);
    m.chunk_keys = DeviceBuffer(static_cast<std::size_t>(m.segments) * m.chunks * m.chunk_capacity * 4);
    m.chunk_keys.fill_bytes(0);  // the forward reads whole 16-byte groups, past a chunk's count too (then ignored)
    m.chunk_key_counts = DeviceBuffer(static_cast<std::size_t>(m.segments) * m.chunks * 4);
    const bool chunk_fed = shape.head_dim == detail::kChunkFedDim;
    if (chunk_fed && kernels.scores != ScoreRounding::Input)
      m.beta_log2 = DeviceBuffer(static_cast<std::size_t>(m.segments) * shape.key_len * 4);
  }
  // A blocking stream: it orders with the legacy default stream (where time_ms records its events and cudaMemcpy
  // runs), and unlike the legacy stream it can be captured into a CUDA graph.
  DMASCOPE_CUDA_CHECK(cudaStreamCreate(&m.own_stream));
  m.stream = m.own_stream;
}

DmaRunner::~DmaRunner() {
  for (cudaGraphExec_t graph : impl_->graphs)
    if (graph) cudaGraphExecDestroy(graph);
  if (impl_->cublas) cublas::destroy(impl_->cublas);
  if (impl_->own_stream) cudaStreamDestroy(impl_->own_stream);
}

void DmaRunner::use_stream(void* stream) {
  Impl& m = *impl_;
  if (m.cublas) check_cublas(cublas::set_stream(m.cublas, static_cast<cudaStream_t>(stream)), "cublasSetStream");
  m.stream = static_cast<cudaStream_t>(stream);
}

void DmaRunner::launch_mask_and_forward(const void* q, const void* k, const void* v, const float* beta,
                                        std::int32_t* death, void* out) {
  const bool fused = impl_->build_mask_and_lists(beta, death);
  impl_->forward_over_lists(q, k, v, beta, death, out, nullptr, fused);
}

void DmaRunner::build_mask(const float* beta, std::int32_t* death) {
  detail::launch_mask_build(impl_->plan, beta, death, impl_->mask_workspace.get(), impl_->stream);
}

void DmaRunner::build_gather_lists(const std::int32_t* death) { impl_->gather_lists(death); }

void DmaRunner::Impl::gather_lists(const std::int32_t* death) {
  if (all_kept) return;  // the dense path reads each tile's causal prefix, no lists
  detail::launch_gather_lists(death, segments, static_cast<int>(shape.q_len), static_cast<int>(shape.key_len), q_tiles,
                              capacity, lists.as<std::int32_t>(), counts.as<std::int32_t>(), stream,
                              kernels.gather_lists == GatherListChoice::Scan ? detail::GatherMethod::Scan
                                                                             : detail::GatherMethod::Auto);
}

bool DmaRunner::Impl::build_mask_and_lists(const float* beta, std::int32_t* death) {
  if (!fused_lists) {
    detail::launch_mask_build(plan, beta, death, mask_workspace.get(), stream);
    gather_lists(death);
    return false;
  }
  detail::ChunkKeysOutput output;
  output.keys = chunk_keys.as<std::uint32_t>();
  output.counts = chunk_key_counts.as<std::int32_t>();
  output.capacity = chunk_capacity;
  output.beta_log2 = beta_log2.as<float>();  // null with rounded scores or at d128
  if (!detail::launch_mask_build(plan, beta, death, mask_workspace.get(), stream, &output))
    fail("CUDA attention: the chunked mask build did not write the chunk keys it was planned to");
  return true;
}

void DmaRunner::build_mask_and_gather_lists(const float* beta, std::int32_t* death) {
  impl_->build_mask_and_lists(beta, death);
}

void DmaRunner::Impl::allocate_counters() {
  const std::size_t head_tiles = static_cast<std::size_t>(shape.batch * shape.q_heads) * q_tiles;
  const std::size_t pair_tiles = static_cast<std::size_t>(segments) * q_tiles * k_tiles;
  if (counter_keys.bytes() < head_tiles * 4) counter_keys = DeviceBuffer(head_tiles * 4);
  if (counter_pairs.bytes() < head_tiles * 8) counter_pairs = DeviceBuffer(head_tiles * 8);
  if (counter_kept.bytes() < pair_tiles * 4) counter_kept = DeviceBuffer(pair_tiles * 4);
}

void DmaRunner::Impl::zero_counters() {
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(counter_kept.get(), 0, counter_kept.bytes(), stream));
  counting = true;
}

KernelCounters DmaRunner::counters() { return impl_->download_counters(); }

KernelCounters DmaRunner::Impl::download_counters() {
  Impl& m = *this;
  if (!m.counted) fail("CUDA attention: no forward has written its counters yet (run it instrumented)");
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  KernelCounters c;
  c.batch = m.shape.batch;
  c.q_heads = m.shape.q_heads;
  c.bias_heads = m.shape.bias_heads;
  c.q_len = m.shape.q_len;
  c.key_len = m.shape.key_len;
  c.q_tiles = m.q_tiles;
  c.k_tiles = m.k_tiles;
  c.keys_gathered.resize(static_cast<std::size_t>(c.batch * c.q_heads * c.q_tiles));
  c.executed_pairs.resize(c.keys_gathered.size());
  c.kept_entries.resize(static_cast<std::size_t>(m.segments) * m.q_tiles * m.k_tiles);
  m.counter_keys.download(c.keys_gathered.data(), c.keys_gathered.size() * 4);
  m.counter_pairs.download(c.executed_pairs.data(), c.executed_pairs.size() * 8);
  m.counter_kept.download(c.kept_entries.data(), c.kept_entries.size() * 4);
  return c;
}

void DmaRunner::forward(const void* q, const void* k, const void* v, const float* beta, const std::int32_t* death,
                        void* out, Instrumentation* instrumentation) {
  if (instrumentation && instrumentation->enabled) {
    impl_->allocate_counters();
    impl_->zero_counters();
  }
  build_gather_lists(death);
  impl_->forward_over_lists(q, k, v, beta, death, out, instrumentation, false);
}

void DmaRunner::Impl::forward_over_lists(const void* q, const void* k, const void* v, const float* beta,
                                         const std::int32_t* death, void* out, Instrumentation* instrumentation,
                                         bool lists_from_mask_build) {
  Impl& m = *this;
  detail::ForwardParams p = m.params(q, k, v, beta, m.all_kept ? nullptr : death, out);
  if (lists_from_mask_build) {
    p.chunk_keys = m.chunk_keys.as<std::uint32_t>();
    p.chunk_key_counts = m.chunk_key_counts.as<std::int32_t>();
    p.chunks = m.chunks;
    p.chunk_capacity = m.chunk_capacity;
    // The forward as the mask build's programmatic dependent (its first CTAs set up while the mask build runs: −1.1 us
    // at 32K w1024 2/1 d64, on an NVIDIA H200, bench/h200/README.md); pdl=off launches it plainly.
    p.programmatic = m.kernels.pdl;
    if (m.beta_log2.bytes() > 0) {  // the build just wrote it beside the chunk keys
      p.beta = m.beta_log2.as<float>();
      p.beta_log2 = true;
    }
  }
  const bool instrumented = instrumentation && instrumentation->enabled;
  if (instrumented) {
    const std::size_t ctas = static_cast<std::size_t>(m.shape.batch * m.shape.q_heads) * m.q_tiles;
    if (m.cta_times.bytes() < ctas * 8) m.cta_times = DeviceBuffer(ctas * 8);
    p.cta_nanoseconds = m.cta_times.as<long long>();
  }
  if (m.counting) {  // the caller zeroed the kept entries
    p.counters.keys_gathered = m.counter_keys.as<std::int32_t>();
    p.counters.executed_pairs = m.counter_pairs.as<long long>();
    p.counters.kept_entries = m.counter_kept.as<std::int32_t>();
    p.counters.k_tiles = m.k_tiles;
    m.counting = false;
    m.counted = true;
  }
  detail::launch_attention_forward(p, !m.all_kept, m.stream);
  if (!instrumented) return;
  // Statuses and keys gathered per bias head from the kernel's own counters.
  instrumentation->counters = m.download_counters();
  const KernelCounters& counted = instrumentation->counters;
  instrumentation->q_tiles = m.q_tiles;
  instrumentation->k_tiles = m.k_tiles;
  instrumentation->tile_status.clear();
  instrumentation->keys_gathered.clear();
  const std::int64_t heads_per_bias = m.shape.q_heads / m.shape.bias_heads;
  for (int seg = 0; seg < m.segments; ++seg) {
    const TileMap map = tile_map_from_counters(counted, seg);
    instrumentation->tile_status.insert(instrumentation->tile_status.end(), map.status.begin(), map.status.end());
    const std::int64_t first_head = (seg / m.shape.bias_heads) * m.shape.q_heads + (seg % m.shape.bias_heads) * heads_per_bias;
    const auto first = counted.keys_gathered.begin() + first_head * m.q_tiles;
    instrumentation->keys_gathered.insert(instrumentation->keys_gathered.end(), first, first + m.q_tiles);
  }
  std::vector<long long> nanoseconds(static_cast<std::size_t>(m.shape.batch * m.shape.q_heads) * m.q_tiles);
  m.cta_times.download(nanoseconds.data(), nanoseconds.size() * 8);
  instrumentation->cta_microseconds.assign(nanoseconds.begin(), nanoseconds.end());
  for (auto& value : instrumentation->cta_microseconds) value /= 1000.0;
}

// Replays graph `slot`, capturing `work` first when the slot is empty or was captured on other buffers.
void DmaRunner::Impl::replay(std::size_t slot, const std::array<const void*, 6>& buffers,
                             const std::function<void()>& work) {
  cudaGraphExec_t& graph = graphs[slot];
  if (!graph || buffers != graph_buffers[slot]) {
    if (graph) {
      DMASCOPE_CUDA_CHECK(cudaGraphExecDestroy(graph));
      graph = nullptr;
    }
    DMASCOPE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t captured = nullptr;
    try {
      work();
    } catch (...) {
      cudaStreamEndCapture(stream, &captured);  // leave the stream usable, then report the first error
      if (captured) cudaGraphDestroy(captured);
      throw;
    }
    DMASCOPE_CUDA_CHECK(cudaStreamEndCapture(stream, &captured));
    const cudaError_t instantiated = cudaGraphInstantiate(&graph, captured, 0);
    cudaGraphDestroy(captured);
    DMASCOPE_CUDA_CHECK(instantiated);
    graph_buffers[slot] = buffers;
  }
  DMASCOPE_CUDA_CHECK(cudaGraphLaunch(graph, stream));
}

void DmaRunner::mask_and_forward(const void* q, const void* k, const void* v, const float* beta, std::int32_t* death,
                                 void* out, bool count_work) {
  Impl& m = *impl_;
  if (count_work) m.allocate_counters();  // cudaMalloc cannot be captured
  m.replay(count_work ? 1 : 0, {q, k, v, beta, death, out}, [&] {
    // The counters are zeroed before the mask build (the forward stays the build's programmatic dependent), unless the
    // wgmma kernel stores every row whole: then the memset would be the counted graph's own extra cost.
    if (count_work) {
      detail::ForwardParams p = m.params(q, k, v, beta, death, out);
      p.counters.k_tiles = m.k_tiles;
      if (p.wgmma && detail::sm90a_counts_whole_rows(p, !m.all_kept)) m.counting = true;
      else m.zero_counters();
    }
    const bool fused = m.build_mask_and_lists(beta, death);
    m.forward_over_lists(q, k, v, beta, death, out, nullptr, fused);
  });
}

void DmaRunner::forward_death_graph(const void* q, const void* k, const void* v, const float* beta,
                                    const std::int32_t* death, void* out) {
  Impl& m = *impl_;
  m.replay(2, {q, k, v, beta, death, out}, [&] {
    m.gather_lists(death);
    m.forward_over_lists(q, k, v, beta, death, out, nullptr, false);
  });
}

void DmaRunner::dense_forward(const void* q, const void* k, const void* v, const float* beta, void* out) {
  detail::launch_attention_forward(impl_->params(q, k, v, beta, nullptr, out), false, impl_->stream);
}

std::size_t DmaRunner::materialized_workspace_bytes(const AttentionShape& s) {
  return static_cast<std::size_t>(s.q_len) * s.key_len * (4 + 2);
}

void DmaRunner::materialized_forward(const void* q, const void* k, const void* v, const float* beta, void* out) {
  Impl& m = *impl_;
  const AttentionShape& s = m.shape;
  const std::size_t score_elements = static_cast<std::size_t>(s.q_len) * s.key_len;
  if (m.scores.bytes() < score_elements * 4) m.scores = DeviceBuffer(score_elements * 4);
  if (m.probabilities.bytes() < score_elements * 2) m.probabilities = DeviceBuffer(score_elements * 2);
  if (!m.cublas) {
    check_cublas(cublas::create(&m.cublas), "cublasCreate");
    check_cublas(cublas::set_stream(m.cublas, m.stream), "cublasSetStream");
  }
  const cudaDataType type = s.precision == Precision::F16 ? CUDA_R_16F : CUDA_R_16BF;
  const int Lq = static_cast<int>(s.q_len), Lk = static_cast<int>(s.key_len), d = static_cast<int>(s.head_dim);
  const float one = 1.0f, zero = 0.0f;
  const float scale = s.scale > 0.0 ? static_cast<float>(s.scale) : 1.0f / std::sqrt(static_cast<float>(d));
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t h = 0; h < s.q_heads; ++h) {
      const std::int64_t g = h / (s.q_heads / s.kv_heads);
      const std::int64_t hb = s.bias_heads == s.q_heads ? h : h / (s.q_heads / s.bias_heads);
      const auto* qh = static_cast<const char*>(q) + ((b * s.q_heads + h) * Lq) * d * 2;
      const auto* kh = static_cast<const char*>(k) + ((b * s.kv_heads + g) * Lk) * d * 2;
      const auto* vh = static_cast<const char*>(v) + ((b * s.kv_heads + g) * Lk) * d * 2;
      auto* oh = static_cast<char*>(out) + ((b * s.q_heads + h) * Lq) * d * 2;
      // Column-major view: scoresᵀ [Lk, Lq] = K [Lk, d] · Qᵀ: row-major scores [Lq, Lk].
      check_cublas(cublas::gemm_ex(m.cublas, CUBLAS_OP_T, CUBLAS_OP_N, Lk, Lq, d, &one, kh, type, d, qh, type, d, &zero,
                                m.scores.get(), CUDA_R_32F, Lk, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "QKᵀ");
      const float* head_beta = beta ? beta + (b * s.bias_heads + hb) * Lk : nullptr;
      detail::launch_materialized_softmax(m.scores.as<float>(), head_beta, Lq, Lk, scale, m.probabilities.get(),
                                          s.precision == Precision::F16, m.stream);
      // outᵀ [d, Lq] = Vᵀ [d, Lk] · Pᵀ [Lk, Lq]: row-major out [Lq, d] = P V.
      check_cublas(cublas::gemm_ex(m.cublas, CUBLAS_OP_N, CUBLAS_OP_N, d, Lq, Lk, &one, vh, type, d, m.probabilities.get(),
                                type, Lk, &zero, oh, type, d, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "PV");
    }
}

const char* DmaRunner::forward_kernel_name() const {
  return detail::attention_forward_kernel_name(impl_->params(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
}

std::int64_t DmaRunner::tile_rows() const { return kTileRows; }

std::int64_t DmaRunner::executed_pairs() const {
  const Impl& m = *impl_;
  const std::int64_t q_len = m.shape.q_len, key_len = m.shape.key_len, heads_per_segment = m.shape.q_heads / m.shape.bias_heads;
  std::vector<std::int32_t> counts(static_cast<std::size_t>(m.segments) * m.q_tiles);
  if (m.all_kept) {
    for (int seg = 0; seg < m.segments; ++seg)
      for (int t = 0; t < m.q_tiles; ++t)
        counts[static_cast<std::size_t>(seg) * m.q_tiles + t] =
            static_cast<std::int32_t>(key_len - q_len + std::min<std::int64_t>(q_len, (t + 1) * kTileRows));
  } else {
    DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
    m.counts.download(counts.data(), counts.size() * 4);
  }
  std::int64_t pairs = 0;  // the kernel computes whole kTileRows × kTileKeys blocks
  for (auto count : counts) pairs += kTileRows * ((count + kTileKeys - 1) / kTileKeys * kTileKeys);
  return pairs * heads_per_segment;
}

void DmaRunner::synchronize() { DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(impl_->stream)); }

namespace {

// CUDA events around one run of `work` on the legacy default stream; its milliseconds.
class EventTimer {
 public:
  EventTimer() {
    DMASCOPE_CUDA_CHECK(cudaEventCreate(&start_));
    DMASCOPE_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  double time(const std::function<void()>& work) {
    DMASCOPE_CUDA_CHECK(cudaEventRecord(start_, nullptr));
    work();
    DMASCOPE_CUDA_CHECK(cudaEventRecord(stop_, nullptr));
    DMASCOPE_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace

std::vector<double> time_ms(const std::function<void()>& work, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) work();
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  EventTimer timer;
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) times.push_back(timer.time(work));
  return times;
}

std::pair<std::vector<double>, std::vector<double>> time_ms_alternating(const std::function<void()>& a,
                                                                        const std::function<void()>& b, int warmup,
                                                                        int repeats) {
  for (int i = 0; i < warmup; ++i) a(), b();
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  EventTimer timer;
  std::pair<std::vector<double>, std::vector<double>> times;
  for (int i = 0; i < repeats; ++i) {
    if (i % 2 == 0) {
      times.first.push_back(timer.time(a));
      times.second.push_back(timer.time(b));
    } else {
      times.second.push_back(timer.time(b));
      times.first.push_back(timer.time(a));
    }
  }
  return times;
}

}  // namespace dmascope::cuda
