// The DMA mask on the GPU in O(L) memory: death[j] for every key, exactly the CPU's dma_death_indices.
//
// Order keys by (β descending, index ascending) and call t = rank[j] their position in that order. Key j is kept on
// row i ≥ j while fewer than w better keys have index ≤ i, so
//     death[j] = max(j, D(t)),  D(t) = the w-th smallest key index among the t better keys (L if t < w).
// D(t) is a prefix order statistic of the sequence s_t = key at rank t, computed for all t in parallel:
//   1. a stable radix sort (CUB) of (segment, ~sortable(β)) gives s_t; rank[s_t] = t;
//   2. a table C[seg][tb][vb]: how many of s_0..s_{64·tb−1} fall into key bucket vb (buckets of S_v indices);
//   3. per key: walk the buckets, adding C and the few (< 64) elements of its own rank block that precede it, to find
//      the bucket holding the w-th smallest, then scan that bucket's keys for rank < t.
// Work per key O(V + 64 + S_v) with V ≈ √L buckets; memory O(L) plus the table (L/64 · V ints).
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <climits>
#include <cmath>

#include "kernels/cuda_check.h"
#include "kernels/mask_build.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kRankBlock = 64;  // ranks per table row and per query CTA

// Ascending order of this key = (segment, β descending). NaN ranks first (torch.topk treats it as largest); −0 and +0
// tie, as they compare equal on the CPU.
// Key type: 32 bits when there is one segment (half the bytes per radix pass), else segment in the high 32 bits.
template <class Key>
__global__ void make_sort_keys(const float* beta, long long total, int key_len, Key* keys, int* key_index) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  float value = beta[i];
  unsigned int ordered;
  if (isnan(value)) {
    ordered = 0xFFFFFFFFu;
  } else {
    if (value == 0.0f) value = 0.0f;
    const unsigned int bits = __float_as_uint(value);
    ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);  // monotone in the float value
  }
  if constexpr (sizeof(Key) == 4) {
    keys[i] = ~ordered;
  } else {
    const unsigned long long segment = static_cast<unsigned long long>(i / key_len);
    keys[i] = (segment << 32) | static_cast<unsigned long long>(~ordered);
  }
  key_index[i] = static_cast<int>(i % key_len);
}

__global__ void scatter_ranks(const int* sorted_keys, long long total, int key_len, int* rank) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const long long segment = i / key_len;
  rank[segment * key_len + sorted_keys[i]] = static_cast<int>(i % key_len);
}

// grid (T, segments), block kRankBlock: bucket histogram of each rank block. counts [seg][tb][vb].
__global__ void rank_block_histograms(const int* sorted_keys, int key_len, int rank_blocks, int buckets,
                                      int bucket_width, int* counts) {
  extern __shared__ int histogram[];
  const int tb = blockIdx.x, segment = blockIdx.y;
  for (int v = threadIdx.x; v < buckets; v += blockDim.x) histogram[v] = 0;
  __syncthreads();
  const int t = tb * kRankBlock + threadIdx.x;
  if (t < key_len) atomicAdd(&histogram[sorted_keys[static_cast<long long>(segment) * key_len + t] / bucket_width], 1);
  __syncthreads();
  int* row = counts + (static_cast<long long>(segment) * rank_blocks + tb) * buckets;
  for (int v = threadIdx.x; v < buckets; v += blockDim.x) row[v] = histogram[v];
}

// grid (V, segments), block 1024: exclusive prefix sum over tb of counts[seg][·][vb], in place.
__global__ void prefix_over_rank_blocks(int* counts, int rank_blocks, int buckets) {
  __shared__ int partial[1024];
  __shared__ int carry;
  const int v = blockIdx.x, segment = blockIdx.y;
  int* column = counts + static_cast<long long>(segment) * rank_blocks * buckets + v;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (int base = 0; base < rank_blocks; base += blockDim.x) {
    const int tb = base + threadIdx.x;
    const int value = tb < rank_blocks ? column[static_cast<long long>(tb) * buckets] : 0;
    partial[threadIdx.x] = value;
    __syncthreads();
    for (int offset = 1; offset < blockDim.x; offset *= 2) {  // Hillis–Steele inclusive scan
      const int add = threadIdx.x >= offset ? partial[threadIdx.x - offset] : 0;
      __syncthreads();
      partial[threadIdx.x] += add;
      __syncthreads();
    }
    if (tb < rank_blocks) column[static_cast<long long>(tb) * buckets] = carry + partial[threadIdx.x] - value;
    __syncthreads();
    if (threadIdx.x == blockDim.x - 1) carry += partial[threadIdx.x];
    __syncthreads();
  }
}

// grid (T, segments), block kRankBlock: one thread per rank t, computing death[s_t]. The CTA's table row (all of its
// threads share one rank block) is staged in shared memory once, so the bucket walk reads shared memory only.
__global__ void death_from_prefix_statistics(const int* sorted_keys, const int* rank, const int* counts, int key_len,
                                             int window, int rank_blocks, int buckets, int bucket_width, int* death) {
  extern __shared__ int table[];             // [buckets]: keys of ranks < 64·tb per bucket
  __shared__ int block_keys[kRankBlock];     // s_t of this rank block, sorted ascending by key index ...
  __shared__ int block_position[kRankBlock]; // ... with each one's position in the block
  const int tb = blockIdx.x, segment = blockIdx.y, r = threadIdx.x;
  const long long base = static_cast<long long>(segment) * key_len;
  const int t = tb * kRankBlock + r;
  const int* table_row = counts + (static_cast<long long>(segment) * rank_blocks + tb) * buckets;
  constexpr int kGroup = 16;
  const int groups = (buckets + kGroup - 1) / kGroup;
  __shared__ int group_sums[1024 / kGroup];  // buckets ≤ 1024
  for (int g = r; g < groups; g += kRankBlock) group_sums[g] = 0;
  block_keys[r] = t < key_len ? sorted_keys[base + t] : INT_MAX;
  block_position[r] = r;
  __syncthreads();
  for (int v = r; v < buckets; v += kRankBlock) {
    const int count = table_row[v];
    table[v] = count;
    atomicAdd(&group_sums[v / kGroup], count);
  }
  __syncthreads();
  for (int size = 2; size <= kRankBlock; size *= 2)  // bitonic sort of 64 (key, position) pairs by key
    for (int stride = size / 2; stride > 0; stride /= 2) {
      const int partner = r ^ stride;
      if (partner > r) {
        const bool ascending = (r & size) == 0;
        const int a = block_keys[r], b = block_keys[partner];
        if ((a > b) == ascending) {
          block_keys[r] = b;
          block_keys[partner] = a;
          const int p = block_position[r];
          block_position[r] = block_position[partner];
          block_position[partner] = p;
        }
      }
      __syncthreads();
    }
  if (t >= key_len) return;
  const int key = sorted_keys[base + t];
  if (t < window) {  // fewer than w better keys exist at all: kept from its own row to the end
    death[base + key] = key_len;
    return;
  }
  // Find the bucket holding the w-th smallest key index among ranks < t: skip whole groups of kGroup buckets while
  // they hold too few, then walk the group that crosses w bucket by bucket. The cursor over this rank block's own
  // (sorted) keys adds the ranks of the block that precede t.
  int below = 0, cursor = 0, bucket = 0;
  for (int group = 0; group < groups; ++group) {
    const int group_end = min(buckets, (group + 1) * kGroup) * bucket_width;
    int in_group = group_sums[group], skipped_cursor = cursor;
    for (; skipped_cursor < kRankBlock && block_keys[skipped_cursor] < group_end; ++skipped_cursor)
      in_group += block_position[skipped_cursor] < r;
    if (below + in_group >= window) {
      bucket = group * kGroup;
      break;
    }
    below += in_group;
    cursor = skipped_cursor;
    bucket = min(buckets, (group + 1) * kGroup);
  }
  for (; bucket < buckets; ++bucket) {
    int in_bucket = table[bucket];
    const int bucket_end = (bucket + 1) * bucket_width;
    for (; cursor < kRankBlock && block_keys[cursor] < bucket_end; ++cursor) in_bucket += block_position[cursor] < r;
    if (below + in_bucket >= window) break;
    below += in_bucket;
  }
  int needed = window - below;
  // Scan the bucket's keys in index order for the needed-th one ranked before t; loads go out 16 at a time so that
  // their latencies overlap.
  int answer = key_len;
  const int first = bucket * bucket_width, last = min(key_len, first + bucket_width);
  constexpr int kBatch = 16;
  for (int j0 = first; j0 < last && answer == key_len; j0 += kBatch) {
    int ranks[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) ranks[u] = j0 + u < last ? __ldg(rank + base + j0 + u) : INT_MAX;
#pragma unroll
    for (int u = 0; u < kBatch; ++u)
      if (answer == key_len && ranks[u] < t && --needed == 0) answer = j0 + u;
  }
  death[base + key] = max(key, answer);
}

__global__ void death_shared_topk(const int* rank, long long total, int key_len, int window, int* death) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  death[i] = rank[i] < window ? key_len : static_cast<int>(i % key_len);
}

__global__ void death_all_kept(long long total, int key_len, int* death) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i < total) death[i] = key_len;
}

int blocks_for(long long items, int threads) { return static_cast<int>((items + threads - 1) / threads); }

struct Workspace {
  unsigned long long* keys_in;
  unsigned long long* keys_out;
  int* index_in;
  int* sorted_keys;
  int* rank;
  int* counts;
  void* cub_temp;
  std::size_t cub_bytes;
};

int end_bit_for(int segments) {
  int bits = 0;
  while ((1LL << bits) < segments) ++bits;
  return 32 + bits;
}

std::size_t cub_temp_bytes(const MaskBuildPlan& plan) {
  std::size_t bytes = 0;
  const long long total = static_cast<long long>(plan.segments) * plan.key_len;
  if (plan.segments == 1)
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<unsigned*>(nullptr),
                                                        static_cast<unsigned*>(nullptr), static_cast<int*>(nullptr),
                                                        static_cast<int*>(nullptr), total, 0, 32));
  else
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<unsigned long long*>(nullptr),
                                                        static_cast<unsigned long long*>(nullptr),
                                                        static_cast<int*>(nullptr), static_cast<int*>(nullptr), total,
                                                        0, end_bit_for(plan.segments)));
  return bytes;
}

std::size_t align_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

Workspace carve(const MaskBuildPlan& plan, void* memory) {
  const std::size_t total = static_cast<std::size_t>(plan.segments) * plan.key_len;
  auto* cursor = static_cast<char*>(memory);
  Workspace w;
  auto take = [&](std::size_t bytes) {
    void* p = cursor;
    cursor += align_up(bytes);
    return p;
  };
  w.keys_in = static_cast<unsigned long long*>(take(total * 8));
  w.keys_out = static_cast<unsigned long long*>(take(total * 8));
  w.index_in = static_cast<int*>(take(total * 4));
  w.sorted_keys = static_cast<int*>(take(total * 4));
  w.rank = static_cast<int*>(take(total * 4));
  w.counts = static_cast<int*>(take(static_cast<std::size_t>(plan.segments) * plan.rank_blocks * plan.value_buckets * 4));
  w.cub_bytes = cub_temp_bytes(plan);
  w.cub_temp = take(w.cub_bytes);
  return w;
}

}  // namespace

MaskBuildPlan make_mask_build_plan(int segments, int key_len, int window, MaskVariant variant) {
  MaskBuildPlan plan;
  plan.segments = segments;
  plan.key_len = key_len;
  plan.window = window;
  plan.variant = variant;
  int buckets = 32;
  while (buckets < 1024 && static_cast<long long>(buckets) * buckets < key_len) buckets *= 2;
  plan.bucket_width = std::max(1, (key_len + buckets - 1) / buckets);
  plan.value_buckets = (key_len + plan.bucket_width - 1) / plan.bucket_width;
  plan.rank_blocks = (key_len + kRankBlock - 1) / kRankBlock;
  return plan;
}

std::size_t mask_build_workspace_bytes(const MaskBuildPlan& plan) {
  const std::size_t total = static_cast<std::size_t>(plan.segments) * plan.key_len;
  return align_up(total * 8) * 2 + align_up(total * 4) * 3 +
         align_up(static_cast<std::size_t>(plan.segments) * plan.rank_blocks * plan.value_buckets * 4) +
         align_up(cub_temp_bytes(plan)) + 256;
}

void launch_mask_build(const MaskBuildPlan& plan, const float* beta, std::int32_t* death, void* workspace,
                       cudaStream_t stream) {
  const long long total = static_cast<long long>(plan.segments) * plan.key_len;
  if (total == 0) return;
  constexpr int kThreads = 256;
  if (plan.window >= plan.key_len) {  // every key kept on every row it may see: dense causal
    death_all_kept<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(total, plan.key_len, death);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    return;
  }
  Workspace w = carve(plan, workspace);
  std::size_t cub_bytes = w.cub_bytes;
  if (plan.segments == 1) {
    auto* keys_in = reinterpret_cast<unsigned*>(w.keys_in);
    auto* keys_out = reinterpret_cast<unsigned*>(w.keys_out);
    make_sort_keys<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(beta, total, plan.key_len, keys_in, w.index_in);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(w.cub_temp, cub_bytes, keys_in, keys_out, w.index_in,
                                                        w.sorted_keys, total, 0, 32, stream));
  } else {
    make_sort_keys<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(beta, total, plan.key_len, w.keys_in,
                                                                         w.index_in);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(w.cub_temp, cub_bytes, w.keys_in, w.keys_out, w.index_in,
                                                        w.sorted_keys, total, 0, end_bit_for(plan.segments), stream));
  }
  scatter_ranks<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(w.sorted_keys, total, plan.key_len, w.rank);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  if (plan.variant == MaskVariant::SharedTopK) {
    death_shared_topk<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(w.rank, total, plan.key_len, plan.window,
                                                                            death);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    return;
  }
  const dim3 rank_grid(plan.rank_blocks, plan.segments);
  rank_block_histograms<<<rank_grid, kRankBlock, plan.value_buckets * sizeof(int), stream>>>(
      w.sorted_keys, plan.key_len, plan.rank_blocks, plan.value_buckets, plan.bucket_width, w.counts);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  prefix_over_rank_blocks<<<dim3(plan.value_buckets, plan.segments), 1024, 0, stream>>>(w.counts, plan.rank_blocks,
                                                                                       plan.value_buckets);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  death_from_prefix_statistics<<<rank_grid, kRankBlock, plan.value_buckets * sizeof(int), stream>>>(
      w.sorted_keys, w.rank, w.counts, plan.key_len, plan.window, plan.rank_blocks, plan.value_buckets,
      plan.bucket_width, death);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

namespace {

// grid (q_tiles, segments), block 256: ordered compaction of the keys kept by some row of the tile. Each warp owns a
// contiguous slice of [0, p_last]: it counts its kept keys with ballots (no block barrier), one block-wide scan of the
// 8 warp counts gives each slice its output offset, and a second pass writes the indices in ascending order.
__global__ void gather_lists_kernel(const int* death, int q_len, int key_len, int q_tiles, int capacity, int* lists,
                                    int* counts) {
  constexpr int kWarps = 8;
  __shared__ int warp_offset[kWarps + 1];
  const int qt = blockIdx.x, segment = blockIdx.y;
  const int offset = key_len - q_len;
  const int p0 = offset + qt * 64, p_last = offset + min(q_len, qt * 64 + 64) - 1;
  const int* segment_death = death + static_cast<long long>(segment) * key_len;
  int* list = lists + (static_cast<long long>(segment) * q_tiles + qt) * capacity;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int slice = ((p_last + 1 + kWarps - 1) / kWarps + 31) / 32 * 32;
  const int begin = warp * slice, end = min(p_last + 1, begin + slice);
  auto kept = [&](int j) { return j < end && __ldg(segment_death + j) > max(j, p0); };
  int warp_count = 0;
  for (int base = begin; base < end; base += 32) warp_count += __popc(__ballot_sync(0xFFFFFFFFu, kept(base + lane)));
  if (lane == 0) warp_offset[warp + 1] = warp_count;
  __syncthreads();
  if (threadIdx.x == 0) {
    warp_offset[0] = 0;
    for (int w = 1; w <= kWarps; ++w) warp_offset[w] += warp_offset[w - 1];
    counts[static_cast<long long>(segment) * q_tiles + qt] = min(warp_offset[kWarps], capacity);
  }
  __syncthreads();
  int slot = warp_offset[warp];
  for (int base = begin; base < end; base += 32) {
    const bool keep = kept(base + lane);
    const unsigned ballot = __ballot_sync(0xFFFFFFFFu, keep);
    const int mine = slot + __popc(ballot & ((1u << lane) - 1));
    if (keep && mine < capacity) list[mine] = base + lane;
    slot += __popc(ballot);
  }
}

// grid (q_tiles, segments), block 256: kept and causal pair counts per key tile, then the status.
__global__ void tile_status_kernel(const int* death, int q_len, int key_len, int q_tiles, int k_tiles,
                                   unsigned char* status) {
  extern __shared__ int tile_counts[];  // kept[k_tiles], causal[k_tiles]
  int* kept = tile_counts;
  int* causal = tile_counts + k_tiles;
  const int qt = blockIdx.x, segment = blockIdx.y;
  const int offset = key_len - q_len;
  const int p0 = offset + qt * 64, p1 = offset + min(q_len, qt * 64 + 64);
  for (int t = threadIdx.x; t < 2 * k_tiles; t += blockDim.x) tile_counts[t] = 0;
  __syncthreads();
  const int* segment_death = death + static_cast<long long>(segment) * key_len;
  for (int j = threadIdx.x; j < min(key_len, p1); j += blockDim.x) {
    const int from = max(j, p0), to_kept = min(p1, segment_death[j]);
    atomicAdd(&causal[j / 64], p1 - from);
    if (to_kept > from) atomicAdd(&kept[j / 64], to_kept - from);
  }
  __syncthreads();
  unsigned char* row = status + (static_cast<long long>(segment) * q_tiles + qt) * k_tiles;
  for (int kt = threadIdx.x; kt < k_tiles; kt += blockDim.x) {
    const int cells = (p1 - p0) * min(64, key_len - kt * 64);
    row[kt] = kept[kt] == 0 ? 0 : (kept[kt] == causal[kt] && causal[kt] == cells ? 2 : 1);
  }
}

}  // namespace

void launch_gather_lists(const std::int32_t* death, int segments, int q_len, int key_len, int q_tiles, int capacity,
                         std::int32_t* lists, std::int32_t* counts, cudaStream_t stream) {
  if (segments == 0 || q_tiles == 0) return;
  gather_lists_kernel<<<dim3(q_tiles, segments), 256, 0, stream>>>(death, q_len, key_len, q_tiles, capacity, lists,
                                                                   counts);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_tile_status(const std::int32_t* death, int segments, int q_len, int key_len, int q_tiles, int k_tiles,
                        std::uint8_t* status, cudaStream_t stream) {
  if (segments == 0 || q_tiles == 0) return;
  const std::size_t shared = 2 * static_cast<std::size_t>(k_tiles) * sizeof(int);
  if (shared > 48 * 1024)
    throw_kernel_error("tile-status instrumentation supports at most 6144 key tiles, got " + std::to_string(k_tiles));
  tile_status_kernel<<<dim3(q_tiles, segments), 256, shared, stream>>>(death, q_len, key_len, q_tiles, k_tiles, status);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
