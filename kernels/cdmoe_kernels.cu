// CDMoE's routed experts on the GPU (kernels/cdmoe_kernels.cuh). Twins: cdmoe_route and cdmoe_add_experts
// (core/model/cdmoe_experts.h). The routing picks exactly the CPU's experts (same order, same tie rule, the same fp32
// or bf16 sums); the weights and the experts' sum differ from the CPU's by CUDA's expf (≤ 2 ulp) and the order of
// the dot products' sums. Built without fast-math on purpose: expf must be the accurate one.
#include <type_traits>

#include "kernels/cdmoe_kernels.cuh"
#include "kernels/cuda_check.h"
#include "kernels/rank_key.cuh"

namespace dmascope::cuda::detail {

namespace {

using SortKey = unsigned long long;  // (rank key of the value) << 32 | index: ascending = value descending, then index
constexpr SortKey kPaddingKey = ~0ull;  // after every value (no value has rank key 0xFFFFFFFF)

__device__ inline float to_float(float value) { return value; }
__device__ inline float to_float(bf16_t value) { return __bfloat162float(value); }
__device__ inline float round_bf16(float value) { return __bfloat162float(__float2bfloat16_rn(value)); }
__device__ inline float silu(float x) { return x / (1.0f + expf(-x)); }  // core's silu

__device__ inline SortKey sort_key(float value, unsigned index) {
  return (static_cast<SortKey>(rank_key(value)) << 32) | index;
}
// The value back (−0 comes back as +0, a NaN as the canonical NaN: neither changes a rank, a sum or an exp).
__device__ inline float value_of(SortKey key) { return value_of_rank_key(static_cast<unsigned>(key >> 32)); }
__device__ inline unsigned index_of(SortKey key) { return static_cast<unsigned>(key); }

// Sorts keys[0, count) ascending in independent segments of `segment` keys (both powers of two, segment divides
// count): a bitonic network in shared memory, the whole block taking part; it ends synchronized.
__device__ void bitonic_sort(SortKey* keys, int count, int segment) {
  for (int size = 2; size <= segment; size *= 2)
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int i = threadIdx.x; i < count; i += blockDim.x) {
        const int partner = i ^ stride;
        if (partner <= i) continue;
        // Ascending runs and descending ones alternate below the segment's size; the last merge sorts each segment
        // ascending.
        const bool ascending = (i & size & (segment - 1)) == 0;
        const SortKey first = keys[i], second = keys[partner];
        if ((first > second) == ascending) {
          keys[i] = second;
          keys[partner] = first;
        }
      }
      __syncthreads();
    }
}

// One CTA per row r (see the header). Candidates of sorted position a (part 0) are those of positions b < min(K,
// ⌊top / (a + 1)⌋) (part 1); each thread writes the candidates of its rows a.
template <class Logit>
__global__ void __launch_bounds__(kCdmoeThreads)
    cdmoe_route_kernel(CdmoeRoutingPlan plan, const Logit* router_logits, int tokens, std::int32_t* expert_ids,
                       float* routing_weights) {
  constexpr bool kBf16 = std::is_same_v<Logit, bf16_t>;
  extern __shared__ __align__(8) unsigned char shared_bytes[];
  const int K = plan.keys, padded_keys = plan.keys_padded, top = plan.experts_per_token;
  SortKey* parts = reinterpret_cast<SortKey*>(shared_bytes);  // [2][padded_keys]: part 0, then part 1
  SortKey* candidates = parts + 2 * padded_keys;               // [candidates_padded]
  float* exps = reinterpret_cast<float*>(candidates + plan.candidates_padded);  // [top]
  __shared__ float total, renorm;

  const long long row = blockIdx.x;
  const Logit* part_x = router_logits + row * K;                                   // the raw view's part 0, row r
  const Logit* part_y = router_logits + (static_cast<long long>(tokens) + row) * K;  // part 1, row r
  for (int i = threadIdx.x; i < 2 * padded_keys; i += blockDim.x) {
    const int index = i & (padded_keys - 1);
    parts[i] = index < K ? sort_key(to_float((i < padded_keys ? part_x : part_y)[index]), index) : kPaddingKey;
  }
  __syncthreads();
  bitonic_sort(parts, 2 * padded_keys, padded_keys);
  const SortKey* sorted_x = parts;
  const SortKey* sorted_y = parts + padded_keys;

  for (int a = threadIdx.x; a < min(K, top); a += blockDim.x) {
    int offset = 0;
    for (int earlier = 0; earlier < a; ++earlier) offset += min(K, top / (earlier + 1));
    const float x = value_of(sorted_x[a]);
    for (int b = 0; b < min(K, top / (a + 1)); ++b) {
      const float sum = x + value_of(sorted_y[b]);  // a bf16 model adds two bf16 tensors: the sum is rounded
      candidates[offset + b] = sort_key(kBf16 ? round_bf16(sum) : sum, static_cast<unsigned>(a * K + b));
    }
  }
  for (int i = plan.candidates + threadIdx.x; i < plan.candidates_padded; i += blockDim.x) candidates[i] = kPaddingKey;
  __syncthreads();
  bitonic_sort(candidates, plan.candidates_padded, plan.candidates_padded);

  // Softmax over the chosen sums as torch computes it, in fp32 also for bf16 scores: exp(s − max) / Σ exp(s − max),
  // the sum in expert order (as the CPU twin).
  const float best = value_of(candidates[0]);
  for (int t = threadIdx.x; t < top; t += blockDim.x) {
    const unsigned flat = index_of(candidates[t]);
    expert_ids[row * top + t] =
        static_cast<std::int32_t>(index_of(sorted_x[flat / K]) * K + index_of(sorted_y[flat % K]));
    exps[t] = expf(value_of(candidates[t]) - best);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int t = 0; t < top; ++t) sum += exps[t];
    total = sum;
    if (plan.norm_topk_prob) {  // a bf16 model sums its bf16 weights (in fp32, rounded once)
      float weights = 0.0f;
      for (int t = 0; t < top; ++t) weights += kBf16 ? round_bf16(exps[t] / sum) : exps[t] / sum;
      renorm = kBf16 ? round_bf16(weights) : weights;
    }
  }
  __syncthreads();
  for (int t = threadIdx.x; t < top; t += blockDim.x) {
    float weight = kBf16 ? round_bf16(exps[t] / total) : exps[t] / total;
    if (plan.norm_topk_prob) weight = kBf16 ? round_bf16(weight / renorm) : weight / renorm;
    routing_weights[row * top + t] = weight;
  }
}

// One CTA per row r (see the header). In bf16 each op rounds as torch's bf16 ops do: the dot product (a bf16 bmm with
// fp32 accumulation), silu, the product with the weight, the weighted sum of up rows (another bmm), the addition.
template <class T>
__global__ void __launch_bounds__(kCdmoeThreads)
    cdmoe_experts_kernel(int top, const T* h, int hidden, const T* down_embed, const T* up_embed,
                         const std::int32_t* expert_ids, const float* routing_weights, T* y, int* flag) {
  constexpr bool kBf16 = std::is_same_v<T, bf16_t>;
  extern __shared__ __align__(8) unsigned char shared_bytes[];
  float* activations = reinterpret_cast<float*>(shared_bytes);  // [top]
  std::int32_t* experts = reinterpret_cast<std::int32_t*>(activations + top);  // [top]

  const long long row = blockIdx.x;
  const T* h_row = h + row * hidden;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int t = warp; t < top; t += warps) {
    const std::int32_t expert = expert_ids[row * top + t];
    const T* down = down_embed + static_cast<long long>(expert) * hidden;
    float dot = 0.0f;
    for (int c = lane; c < hidden; c += 32) dot += to_float(down[c]) * to_float(h_row[c]);
    for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xFFFFFFFFu, dot, offset);
    if (lane == 0) {
      const float weight = routing_weights[row * top + t];
      activations[t] = kBf16 ? round_bf16(round_bf16(silu(round_bf16(dot))) * weight) : silu(dot) * weight;
      experts[t] = expert;
    }
  }
  __syncthreads();

  T* y_row = y + row * hidden;
  bool bad = false;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) {
    // fp32: into y term by term, in expert order (the CPU's order); bf16: the routed sum first, added once.
    float sum = kBf16 ? 0.0f : to_float(y_row[c]);
    for (int t = 0; t < top; ++t)
      sum += activations[t] * to_float(up_embed[static_cast<long long>(experts[t]) * hidden + c]);
    if constexpr (kBf16) {
      const float value = to_float(y_row[c]) + round_bf16(sum);
      y_row[c] = __float2bfloat16_rn(value);
      bad |= !isfinite(value);
    } else {
      y_row[c] = sum;
    }
  }
  if (bad) *flag = 1;
}

template <class Kernel>
void allow_shared_bytes(Kernel kernel) {
  DMASCOPE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(kCdmoeMaxSharedBytes)));
}

}  // namespace

void configure_cdmoe_kernels(const CdmoeRoutingPlan& plan) {
  if (plan.routing_shared_bytes <= 48 * 1024 && plan.experts_shared_bytes <= 48 * 1024) return;
  // Always the largest any plan takes: a smaller value set for one model would break another's launches.
  allow_shared_bytes(cdmoe_route_kernel<float>);
  allow_shared_bytes(cdmoe_route_kernel<bf16_t>);
  allow_shared_bytes(cdmoe_experts_kernel<float>);
  allow_shared_bytes(cdmoe_experts_kernel<bf16_t>);
}

void launch_cdmoe_route(const CdmoeRoutingPlan& plan, const float* router_logits, int tokens, std::int32_t* expert_ids,
                        float* routing_weights, cudaStream_t stream) {
  if (tokens == 0) return;
  cdmoe_route_kernel<float><<<tokens, kCdmoeThreads, plan.routing_shared_bytes, stream>>>(
      plan, router_logits, tokens, expert_ids, routing_weights);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_cdmoe_route(const CdmoeRoutingPlan& plan, const bf16_t* router_logits, int tokens,
                        std::int32_t* expert_ids, float* routing_weights, cudaStream_t stream) {
  if (tokens == 0) return;
  cdmoe_route_kernel<bf16_t><<<tokens, kCdmoeThreads, plan.routing_shared_bytes, stream>>>(
      plan, router_logits, tokens, expert_ids, routing_weights);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_cdmoe_add_experts(const CdmoeRoutingPlan& plan, const float* h, int tokens, int hidden,
                              const float* down_embed, const float* up_embed, const std::int32_t* expert_ids,
                              const float* routing_weights, float* y, cudaStream_t stream) {
  if (tokens == 0) return;
  cdmoe_experts_kernel<float><<<tokens, kCdmoeThreads, plan.experts_shared_bytes, stream>>>(
      plan.experts_per_token, h, hidden, down_embed, up_embed, expert_ids, routing_weights, y, nullptr);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_cdmoe_add_experts(const CdmoeRoutingPlan& plan, const bf16_t* h, int tokens, int hidden,
                              const bf16_t* down_embed, const bf16_t* up_embed, const std::int32_t* expert_ids,
                              const float* routing_weights, bf16_t* y, int* flag, cudaStream_t stream) {
  if (tokens == 0) return;
  cdmoe_experts_kernel<bf16_t><<<tokens, kCdmoeThreads, plan.experts_shared_bytes, stream>>>(
      plan.experts_per_token, h, hidden, down_embed, up_embed, expert_ids, routing_weights, y, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
