// Device helpers shared by the two forward kernels (attention_fwd.cu: mma.sync, sm_80+; attention_fwd_sm90a.cu:
// wgmma, Hopper): asynchronous copies into shared memory, the global timer, and fp32 → bf16/fp16 packing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace dmascope::cuda::detail {

constexpr float kLog2e = 1.4426950408889634f;

__device__ inline unsigned shared_address(const void* pointer) {
  return static_cast<unsigned>(__cvta_generic_to_shared(pointer));
}

// 16-byte asynchronous copy; src_bytes = 0 writes zeros (rows past the end).
__device__ inline void copy_16_async(void* shared, const void* global, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared)), "l"(global),
               "r"(src_bytes));
}
// 4-byte asynchronous copy (β or death of one key).
__device__ inline void copy_4_async(void* shared, const void* global) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(shared_address(shared)), "l"(global));
}
__device__ inline void commit_copies() { asm volatile("cp.async.commit_group;\n" ::); }
template <int Pending> __device__ inline void wait_copies() { asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending)); }

__device__ inline unsigned long long global_nanoseconds() {
  unsigned long long now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  return now;
}

// 2^x by the MUFU.EX2 instruction alone (flush to zero: softmax terms below 2^-126 become 0, as with
// --use_fast_math): exp2f adds range handling for denormal results around it. 2^-inf = 0.
__device__ inline float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Two fp32 values rounded to the input type and packed into one 32-bit register (low half first), and one value.
template <class T> struct Convert;
template <> struct Convert<__nv_bfloat16> {
  static __device__ unsigned pack(float lo, float hi) {
    __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&pair);
  }
  static __device__ __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
};
template <> struct Convert<__half> {
  static __device__ unsigned pack(float lo, float hi) {
    __half2 pair = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&pair);
  }
  static __device__ __half from_float(float x) { return __float2half_rn(x); }
};

}  // namespace dmascope::cuda::detail
