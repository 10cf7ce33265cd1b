// The linear micro-kernels for the baseline x86-64 instruction set.
#define DMASCOPE_LINEAR_ISA generic
#include "core/model/linear_microkernel.inl"
