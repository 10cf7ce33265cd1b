// The linear micro-kernels for AVX2 + FMA (this file is compiled with -mavx2 -mfma).
#define DMASCOPE_LINEAR_ISA avx2
#include "core/model/linear_microkernel.inl"
