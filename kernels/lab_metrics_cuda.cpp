#include "kernels/lab_metrics_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/base/error.h"
#include "core/lab/dam.h"
#include "core/lab/strategy_death.h"
#include "kernels/cublas_loader.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "kernels/lab_chunk.cuh"
#include "kernels/lab_dma_kernels.h"
#include "kernels/lab_gather.cuh"

namespace dmascope::cuda {

namespace {

// Rows per chunk. The gather kernel runs one CTA per 64 rows, so a chunk of 1024 rows gave it 16 CTAs: a chunk
// takes as many rows as its scores and probabilities (2 · rows · L · 4 bytes) fit in a quarter of the free memory,
// at most 4 GiB (16384 rows at L = 32K: 256 gather CTAs), and at least 1024 rows.
constexpr std::int64_t kChunkRowsMin = 1024, kChunkRowsMax = 16384;
constexpr std::size_t kChunkBytesMax = std::size_t{4} << 30;

std::int64_t chunk_rows_target(std::int64_t length) {
  std::size_t free_bytes = 0, total_bytes = 0;
  DMASCOPE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t budget = std::min(kChunkBytesMax, free_bytes / 4);
  const auto rows = static_cast<std::int64_t>(budget / (2 * sizeof(float) * static_cast<std::size_t>(length)));
  return std::clamp(rows, kChunkRowsMin, kChunkRowsMax);
}

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("mask lab on the GPU: cuBLAS error {} in {}", static_cast<int>(status), what);
}

template <class T>
T* ensure(DeviceBuffer& buffer, std::size_t count) {
  const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(T);
  if (buffer.bytes() < bytes) buffer = DeviceBuffer(bytes);
  return buffer.as<T>();
}

// On the lab's stream, so that its kernels see the copy: the stream does not wait for the legacy default stream, and
// a pageable cudaMemcpy may return before its DMA has landed.
template <class T>
T* upload(DeviceBuffer& buffer, std::span<const T> values, cudaStream_t stream) {
  T* device = ensure<T>(buffer, values.size());
  if (!values.empty())
    DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(device, values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
  return device;
}

// nsa's mean-pooled block keys, computed as core/lab/kept_rows.cpp's KeptSetBuilder does (bit-identical values).
std::vector<float> nsa_pooled_keys(const LabHead& head, std::int64_t block) {
  const std::int64_t L = head.length, d = head.head_dim, blocks = (L + block - 1) / block;
  std::vector<float> pooled(static_cast<std::size_t>(blocks * d));
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t begin = blk * block, end = std::min(L, begin + block);
    for (std::int64_t c = 0; c < d; ++c) {
      double sum = 0.0;
      for (std::int64_t j = begin; j < end; ++j) sum += head.key[static_cast<std::size_t>(j * d + c)];
      pooled[static_cast<std::size_t>(blk * d + c)] = static_cast<float>(sum / static_cast<double>(end - begin));
    }
  }
  return pooled;
}

}  // namespace

struct LabMetricsCuda::Impl {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  std::vector<cudaEvent_t> events;
  DeviceBuffer query, key, value, beta, pooled, dma_death, shared_death, dam_true, dam_diagonal, dam_vertical;
  DeviceBuffer scores, probs, block_scores, block_bits, bits, slot_bits, tile_keys, tile_counts, tile_words;
  DeviceBuffer dense_out, sparse_out, recall, kept, error_sq, reference_sq, active, non_finite;
  LabDmaKernels dma_kernels;

  Impl() {
    if (!device_info().available) fail("mask lab on the GPU: no usable CUDA GPU (sm_80 or newer) was found");
    DMASCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    check_cublas(cublas::create(&cublas), "cublasCreate");
    check_cublas(cublas::set_stream(cublas, stream), "cublasSetStream");
    // fp32 products as the CPU's: no TF32.
    check_cublas(cublas::set_math_mode(cublas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  }
  ~Impl() {
    for (cudaEvent_t event : events) cudaEventDestroy(event);
    if (cublas) cublas::destroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }
  cudaEvent_t event(std::size_t index) {
    while (events.size() <= index) {
      cudaEvent_t created = nullptr;
      DMASCOPE_CUDA_CHECK(cudaEventCreate(&created));
      events.push_back(created);
    }
    return events[index];
  }
  // Row-major C [m, n] = alpha · A [m, k] · B [n, k]ᵀ (cuBLAS is column-major: Cᵀ = B · Aᵀ).
  void matmul_nt(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n, std::int64_t k, float alpha) {
    const float zero = 0.0f;
    check_cublas(cublas::sgemm(cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                             static_cast<int>(k), &alpha, b, static_cast<int>(k), a, static_cast<int>(k), &zero, c,
                             static_cast<int>(n)),
                 "cublasSgemm (scores)");
  }
  // Row-major C [m, n] = A [m, k] · B [k, n].
  void matmul_nn(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n, std::int64_t k) {
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublas::sgemm(cublas, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                             static_cast<int>(k), &one, b, static_cast<int>(n), a, static_cast<int>(k), &zero, c,
                             static_cast<int>(n)),
                 "cublasSgemm (P·V)");
  }
};

LabMetricsCuda::LabMetricsCuda() : impl_(std::make_unique<Impl>()) {}
LabMetricsCuda::~LabMetricsCuda() = default;

std::vector<StrategyMetrics> LabMetricsCuda::head_metrics(const LabHead& head, std::span<const Strategy> strategies,
                                                          const LabMetricOptions& options) {
  head.validate();
  Impl& m = *impl_;
  const std::int64_t L = head.length, d = head.head_dim, w = head.window;
  if (d % 4 != 0 || d > kLabGatherMaxHeadDim)
    fail("mask lab on the GPU: head dimension {} is not supported (the gather kernel takes multiples of 4 up to {})", d,
         kLabGatherMaxHeadDim);
  if (L >= (std::int64_t{1} << 30)) fail("mask lab on the GPU: {} tokens is too long", L);
  for (Strategy strategy : strategies)
    if (strategy == Strategy::Dam && head.dam == nullptr)
      fail("kept rows: strategy dam needs a calibrated DAM mask of this head");
  const std::int64_t tile_rows = std::max<std::int64_t>(1, options.tiles.rows);
  const std::int64_t tile_cols = std::max<std::int64_t>(1, options.tiles.cols);
  // Chunks hold whole gather tiles and whole metric tiles, so that both line up with the CPU's chunks.
  const std::int64_t unit = std::lcm<std::int64_t>(kLabGatherTileRows, tile_rows);
  const std::int64_t chunk_rows = unit * std::max<std::int64_t>(1, chunk_rows_target(L) / unit);
  const std::int64_t max_rows = std::min(chunk_rows, ((L + unit - 1) / unit) * unit);
  const std::int64_t max_words = (L + 31) / 32, max_tiles = (max_rows + kLabGatherTileRows - 1) / kLabGatherTileRows;
  const std::size_t S = strategies.size(), Lz = static_cast<std::size_t>(L);

  const float* q = upload<float>(m.query, head.query, m.stream);
  const float* k = upload<float>(m.key, head.key, m.stream);
  const float* v = upload<float>(m.value, head.value, m.stream);
  const float* beta = upload<float>(m.beta, head.beta, m.stream);
  const auto uses = [&](Strategy strategy) { return std::find(strategies.begin(), strategies.end(), strategy) != strategies.end(); };
  const std::int32_t* dma_death = uses(Strategy::Dma) ? upload<std::int32_t>(m.dma_death, head.dma_death, m.stream) : nullptr;
  const std::int32_t* shared_death =
      uses(Strategy::Shared) ? upload<std::int32_t>(m.shared_death, head.shared_death, m.stream) : nullptr;
  if ((uses(Strategy::Dma) && head.dma_death.empty()) || (uses(Strategy::Shared) && head.shared_death.empty()))
    fail("kept rows: strategies dma and shared need their death indices");
  const std::int64_t nsa_block = std::min(kNsaBlockKeys, w), nsa_blocks = (L + nsa_block - 1) / nsa_block;
  const std::int64_t nsa_words = (nsa_blocks + 31) / 32;
  const float* pooled = nullptr;
  if (uses(Strategy::Nsa)) {
    const std::vector<float> pooled_host = nsa_pooled_keys(head, nsa_block);
    pooled = upload<float>(m.pooled, std::span<const float>(pooled_host), m.stream);
  }
  LabIndexBitsParams dam_params;
  if (uses(Strategy::Dam)) {
    const DamHeadMask& dam = *head.dam;
    dam_params.rule = LabIndexRule::Dam;
    dam_params.dam_capture = static_cast<int>(dam.capture_length);
    dam_params.dam_true_mask = upload<std::uint8_t>(m.dam_true, dam.true_mask, m.stream);
    dam_params.dam_diagonal = upload<std::uint8_t>(m.dam_diagonal, dam.diagonal_matched, m.stream);
    dam_params.dam_vertical = upload<std::uint8_t>(m.dam_vertical, dam.vertical_matched, m.stream);
  }

  float* scores = ensure<float>(m.scores, static_cast<std::size_t>(max_rows * L));
  float* probs = ensure<float>(m.probs, static_cast<std::size_t>(max_rows * L));
  float* block_scores = uses(Strategy::Nsa) ? ensure<float>(m.block_scores, static_cast<std::size_t>(max_rows * nsa_blocks)) : nullptr;
  auto* block_bits = uses(Strategy::Nsa) ? ensure<std::uint32_t>(m.block_bits, static_cast<std::size_t>(max_rows * nsa_words)) : nullptr;
  auto* bits = ensure<std::uint32_t>(m.bits, static_cast<std::size_t>(max_rows * max_words));
  auto* slot_bits = ensure<std::uint32_t>(m.slot_bits, static_cast<std::size_t>(max_rows * max_words));
  auto* tile_keys = ensure<std::int32_t>(m.tile_keys, static_cast<std::size_t>(max_tiles * L));
  auto* tile_counts = ensure<std::int32_t>(m.tile_counts, static_cast<std::size_t>(max_tiles));
  auto* tile_words = ensure<std::uint32_t>(m.tile_words, static_cast<std::size_t>(2 * max_tiles * max_words));
  float* dense_out = ensure<float>(m.dense_out, static_cast<std::size_t>(max_rows * d));
  float* sparse_out = ensure<float>(m.sparse_out, static_cast<std::size_t>(max_rows * d));
  auto* recall = ensure<double>(m.recall, S * Lz);
  auto* kept = ensure<std::int32_t>(m.kept, S * Lz);
  auto* error_sq = ensure<double>(m.error_sq, S * Lz);
  auto* reference_sq = ensure<double>(m.reference_sq, Lz);
  auto* active = ensure<unsigned long long>(m.active, S);
  auto* non_finite = ensure<int>(m.non_finite, 1);
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(active, 0, S * sizeof(unsigned long long), m.stream));
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(non_finite, 0, sizeof(int), m.stream));

  // The strategies a death array expresses are timed on the DMA kernels (their gpu_ms; the gather kernel below still
  // computes their O_S for the metrics). Warm-up and repeats as few as a lab run over every head allows.
  constexpr int kDmaWarmup = 1, kDmaRepeats = 3;
  std::vector<double> dma_kernel_ms(S, std::numeric_limits<double>::quiet_NaN());
  if (std::any_of(strategies.begin(), strategies.end(), strategy_has_death_indices) &&
      LabDmaKernels::unsupported_reason(head).empty()) {
    DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));  // the uploads above, before the DMA kernels' streams read
    m.dma_kernels.load(head, q, k, v, beta);
    for (std::size_t s = 0; s < S; ++s) {
      if (!strategy_has_death_indices(strategies[s])) continue;
      std::vector<double> times = m.dma_kernels.time(strategies[s], kDmaWarmup, kDmaRepeats);
      std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
      dma_kernel_ms[s] = times[times.size() / 2];
    }
  }

  const std::int64_t chunks = (L + max_rows - 1) / max_rows;
  std::int64_t causal_tiles = 0;
  for (std::int64_t r0 = 0; r0 < L; r0 += tile_rows) causal_tiles += (std::min(L, r0 + tile_rows) - 1) / tile_cols + 1;

  for (std::int64_t c = 0; c < chunks; ++c) {
    if (options.cancel != nullptr && options.cancel->load()) {
      cudaStreamSynchronize(m.stream);
      throw LabCancelled();
    }
    LabChunk chunk;
    chunk.row_begin = static_cast<int>(c * max_rows);
    chunk.rows = static_cast<int>(std::min(L, (c + 1) * max_rows) - c * max_rows);
    chunk.keys = chunk.row_begin + chunk.rows;
    chunk.words = (chunk.keys + 31) / 32;
    const float* q_chunk = q + static_cast<std::int64_t>(chunk.row_begin) * d;
    m.matmul_nt(q_chunk, k, scores, chunk.rows, chunk.keys, d, 1.0f);
    launch_lab_dense_rows(chunk, scores, probs, beta, head.scale, options.dense_with_bias, non_finite, m.stream);
    m.matmul_nn(probs, v, dense_out, chunk.rows, d, chunk.keys);
    for (std::size_t s = 0; s < S; ++s) {
      const Strategy strategy = strategies[s];
      DMASCOPE_CUDA_CHECK(cudaEventRecord(m.event(2 * (c * S + s)), m.stream));
      switch (strategy) {
        case Strategy::Dma:
        case Strategy::Shared:
        case Strategy::Swa:
        case Strategy::Sinks:
        case Strategy::Dam: {
          LabIndexBitsParams params = strategy == Strategy::Dam ? dam_params : LabIndexBitsParams{};
          params.chunk = chunk;
          params.window = static_cast<int>(w);
          params.bits = bits;
          if (strategy == Strategy::Dma || strategy == Strategy::Shared) {
            params.rule = LabIndexRule::Death;
            params.death = strategy == Strategy::Dma ? dma_death : shared_death;
          } else if (strategy != Strategy::Dam) {
            params.rule = strategy == Strategy::Swa ? LabIndexRule::Swa : LabIndexRule::Sinks;
          }
          launch_lab_index_bits(params, m.stream);
          break;
        }
        case Strategy::Oracle: {
          LabTopKParams params;
          params.chunk = chunk;
          params.values = scores;
          params.values_stride = chunk.keys;
          params.n_add = 1, params.n_divisor = 1, params.top_k = static_cast<int>(w);
          params.bits = bits;
          params.bits_stride = chunk.words;
          launch_lab_top_k_bits(params, m.stream);
          break;
        }
        case Strategy::Nsa: {
          m.matmul_nt(q_chunk, pooled, block_scores, chunk.rows, nsa_blocks, d, head.scale);
          LabTopKParams params;
          params.chunk = chunk;
          params.values = block_scores;
          params.values_stride = nsa_blocks;
          params.n_add = 0, params.n_divisor = static_cast<int>(nsa_block);
          params.top_k = static_cast<int>(w / nsa_block);
          params.bits = block_bits;
          params.bits_stride = nsa_words;
          launch_lab_top_k_bits(params, m.stream);
          launch_lab_nsa_bits(chunk, static_cast<int>(w), static_cast<int>(nsa_block), block_bits, nsa_words, bits,
                              m.stream);
          break;
        }
      }
      launch_lab_tile_lists(chunk, bits, tile_keys, tile_counts, tile_words, slot_bits, m.stream);
      GatherAttentionParams gather;
      gather.query = q, gather.key = k, gather.value = v, gather.beta = beta;
      gather.scale = head.scale;
      gather.head_dim = static_cast<int>(d);
      gather.row_begin = chunk.row_begin, gather.rows = chunk.rows;
      gather.tile_keys = tile_keys, gather.tile_keys_stride = chunk.keys, gather.tile_key_count = tile_counts;
      gather.row_bits = slot_bits, gather.row_bits_stride = chunk.words;
      gather.out = sparse_out;
      launch_gather_attention(gather, m.stream);
      DMASCOPE_CUDA_CHECK(cudaEventRecord(m.event(2 * (c * S + s) + 1), m.stream));
      launch_lab_row_metrics(chunk, bits, probs, sparse_out, dense_out, static_cast<int>(d), recall + s * Lz,
                             kept + s * Lz, error_sq + s * Lz, reference_sq, m.stream);
      launch_lab_tile_activity(chunk, bits, static_cast<int>(tile_rows), static_cast<int>(tile_cols), active + s,
                               m.stream);
    }
  }
  std::vector<double> recall_host(S * Lz), error_host(S * Lz), reference_host(Lz);
  std::vector<std::int32_t> kept_host(S * Lz);
  std::vector<unsigned long long> active_host(S);
  int non_finite_host = 0;
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(recall_host.data(), recall, S * Lz * 8, cudaMemcpyDeviceToHost, m.stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(error_host.data(), error_sq, S * Lz * 8, cudaMemcpyDeviceToHost, m.stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(reference_host.data(), reference_sq, Lz * 8, cudaMemcpyDeviceToHost, m.stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(kept_host.data(), kept, S * Lz * 4, cudaMemcpyDeviceToHost, m.stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(active_host.data(), active, S * 8, cudaMemcpyDeviceToHost, m.stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(&non_finite_host, non_finite, sizeof(int), cudaMemcpyDeviceToHost, m.stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(m.stream));

  double reference_total = 0.0;
  for (double r : reference_host) reference_total += r;
  std::vector<StrategyMetrics> metrics;
  for (std::size_t s = 0; s < S; ++s) {
    StrategyMetrics out;
    out.strategy = strategies[s];
    out.window = w;
    out.kept_set_ms = 0.0;
    double gpu_ms = 0.0;
    for (std::int64_t c = 0; c < chunks; ++c) {
      float ms = 0.0f;
      DMASCOPE_CUDA_CHECK(cudaEventElapsedTime(&ms, m.event(2 * (c * S + s)), m.event(2 * (c * S + s) + 1)));
      gpu_ms += ms;
    }
    out.gpu_ms = std::isnan(dma_kernel_ms[s]) ? gpu_ms : dma_kernel_ms[s];
    out.gpu_kernel = std::isnan(dma_kernel_ms[s]) ? "gather" : "dma";
    double recall_sum = 0.0, recall_min = std::numeric_limits<double>::infinity(), error_total = 0.0;
    std::vector<double> band_sum(kRecallRowBands, 0.0);
    std::vector<std::int64_t> band_rows(kRecallRowBands, 0);
    for (std::int64_t i = 0; i < L; ++i) {
      const std::size_t at = s * Lz + static_cast<std::size_t>(i);
      const double row_recall = recall_host[at];
      out.kept_entries += kept_host[at];
      out.empty_rows += kept_host[at] == 0;
      out.causal_entries += i + 1;
      recall_sum += row_recall;
      recall_min = std::min(recall_min, row_recall);
      error_total += error_host[at];
      const auto band = static_cast<std::size_t>(i * kRecallRowBands / L);
      band_sum[band] += row_recall;
      band_rows[band] += 1;
    }
    out.active_tiles = static_cast<std::int64_t>(active_host[s]);
    out.causal_tiles = causal_tiles;
    out.token_density = static_cast<double>(out.kept_entries) / static_cast<double>(out.causal_entries);
    out.tile_density = static_cast<double>(out.active_tiles) / static_cast<double>(out.causal_tiles);
    out.mass_recall_mean = recall_sum / static_cast<double>(L);
    out.mass_recall_min = recall_min;
    for (std::size_t b = 0; b < band_sum.size(); ++b)
      out.mass_recall_by_band.push_back(band_rows[b] > 0 ? band_sum[b] / static_cast<double>(band_rows[b])
                                                         : std::numeric_limits<double>::quiet_NaN());
    out.output_rel_error = std::sqrt(error_total / reference_total);
    out.non_finite = non_finite_host != 0 || !std::isfinite(reference_total) || !std::isfinite(out.output_rel_error) ||
                     !std::isfinite(out.mass_recall_mean);
    if (out.non_finite) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      out.mass_recall_mean = out.mass_recall_min = out.output_rel_error = nan;
      std::fill(out.mass_recall_by_band.begin(), out.mass_recall_by_band.end(), nan);
    }
    metrics.push_back(std::move(out));
  }
  return metrics;
}

}  // namespace dmascope::cuda
