// Device entry points of the mask build and the gather lists (kernels/mask_build.cu). Host-side use: DmaRunner.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/attention/kernel_choice.h"
#include "core/attention/tile_sizes.h"
#include "core/mask/dma_mask.h"

namespace dmascope::cuda::detail {

// How launch_mask_build computes the death indices (both give the CPU's dma_death_indices bit for bit):
//   SortedPrefixStatistics: CUB radix sort of all keys, a prefix-count table and one thread per key (any L, any w);
//   Chunked: one launch, one CTA per chunk of 1024 keys that selects the w keys alive at its first row from the
//            prefix and solves its chunk in shared memory (per-row top-k, w < L ≤ kChunkedMaxKeys, w ≤
//            kChunkedMaxWindow). Chosen automatically where it applies; MaskBuildChoice::Sort
//            (KernelChoice::mask_build) forces the general path (for before/after timings in one run).
enum class MaskBuildMethod { AllKept, SortedPrefixStatistics, Chunked };
constexpr int kChunkedMaxKeys = 65536;
constexpr int kChunkedMaxWindow = 4096;

// Workspace for one (segments × key_len) mask build, sized by mask_build_workspace_bytes.
struct MaskBuildPlan {
  int segments = 0;     // batch · bias heads
  int key_len = 0;
  int window = 0;
  MaskVariant variant = MaskVariant::PerRowTopK;
  MaskBuildMethod method = MaskBuildMethod::SortedPrefixStatistics;
  int value_buckets = 0;   // V: key-index buckets of the prefix-count table
  int bucket_width = 0;    // S_v = ceil(L / V)
  int rank_blocks = 0;     // T = ceil(L / 64): blocks of 64 consecutive ranks
};

MaskBuildPlan make_mask_build_plan(int segments, int key_len, int window, MaskVariant variant,
                                   MaskBuildChoice choice = MaskBuildChoice::Auto);
std::size_t mask_build_workspace_bytes(const MaskBuildPlan& plan);

// What the chunked build's CTA for rows [1024c, 1024c + 1024) knows, for the forward to build its gather lists from
// (kernels/attention_fwd_sm90a.cu): every key kept on some row of the chunk, ascending (the chunk's local problem,
// which may also hold keys kept on no row), as (key << 16) | death row − 1024c, or kChunkKeyAliveAfter when the key is
// kept past the chunk's last row. keys [segments, chunks, capacity], counts [segments, chunks] with chunks =
// ⌈L / 1024⌉ and capacity = chunk_keys_capacity(plan) (0 where the build is not the chunked one).
constexpr unsigned int kChunkKeyAliveAfter = 0xFFFF;
// With beta_log2 (non-null) the build also writes β in the forward's log2 units (beta_in_log2_units,
// forward_common.cuh) for every key, [segments, L]: each CTA its chunk's own keys, which it loads anyway, so that the
// forward's scores take β without a multiply and a cap per key and row pair (ForwardParams::beta_log2).
struct ChunkKeysOutput {
  std::uint32_t* keys = nullptr;
  std::int32_t* counts = nullptr;
  int capacity = 0;
  float* beta_log2 = nullptr;
};
int chunk_keys_capacity(const MaskBuildPlan& plan);

// death[s·L + j] for every segment s and key j, from beta[s·L + j]. workspace: mask_build_workspace_bytes.
// With chunk_keys (non-null) where chunk_keys_capacity(plan) > 0, also the chunk keys in the same launch; returns
// whether it wrote them.
bool launch_mask_build(const MaskBuildPlan& plan, const float* beta, std::int32_t* death, void* workspace,
                       cudaStream_t stream, const ChunkKeysOutput* chunk_keys = nullptr);

// For each (segment, query tile of 64 rows): the ascending indices of the keys that some row of the tile keeps.
// lists [segments, q_tiles, capacity], counts [segments, q_tiles]; capacity ≥ min(L, w + 64).
// Two kernels with identical output for a death array of a top-w mask (at most w keys alive on any row):
//   Scan:    one CTA per tile tests every key up to the tile's last row (O(L) per tile, any capacity);
//   Chunked: one CTA per 16 tiles collects the keys alive at its first row once (≤ w of them), then each warp tests
//            only those and the keys born inside the chunk: O(L + 16·(w + 1024)) per 16 tiles
//            (capacity ≤ kChunkedGatherMaxCapacity).
// Auto picks Chunked where it applies; Scan (KernelChoice::gather_lists) forces the scan, for comparisons.
enum class GatherMethod { Auto, Scan, Chunked };
constexpr int kChunkedGatherMaxCapacity = kChunkedMaxWindow + kTileRows;
void launch_gather_lists(const std::int32_t* death, int segments, int q_len, int key_len, int q_tiles, int capacity,
                         std::int32_t* lists, std::int32_t* counts, cudaStream_t stream,
                         GatherMethod method = GatherMethod::Auto);

}  // namespace dmascope::cuda::detail
