// The 32-bit keys that let the GPU rank floats as the CPU's key_ranks_before does (core/mask/dma_mask.h): a key's
// ascending order is the value's descending order, NaN first (torch.topk treats it as the largest), −0 and +0 tied.
// Used by the mask build (kernels/mask_build.cu) and CDMoE's routing (kernels/cdmoe_kernels.cu); an index in the low
// bits of a 64-bit key then breaks ties toward the lower index.
#pragma once

namespace dmascope::cuda::detail {

// No value maps to 0xFFFFFFFF (that would be a NaN bit pattern), so sorts can pad with it.
__device__ __forceinline__ unsigned int rank_key(float value) {
  unsigned int ordered;
  if (isnan(value)) {
    ordered = 0xFFFFFFFFu;
  } else {
    if (value == 0.0f) value = 0.0f;
    const unsigned int bits = __float_as_uint(value);
    ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);  // monotone in the float value
  }
  return ~ordered;
}

// A float with this rank key (NaN for 0): rank_key(value_of_rank_key(k)) == k.
__device__ __forceinline__ float value_of_rank_key(unsigned int key) {
  const unsigned int ordered = ~key;
  return __uint_as_float((ordered & 0x80000000u) ? (ordered & 0x7FFFFFFFu) : ~ordered);
}

}  // namespace dmascope::cuda::detail
