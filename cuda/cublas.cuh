// The cuBLASLt path of the CUDA matmul (cublas.cu), used by matmul.cu when the library was found at run time.
#pragma once
#include <cuda_runtime.h>

#include "cublas_plan.h"

namespace reclin {

// Queues the GEMM on `st` through cuBLASLt; false when cuBLASLt is not loaded, refuses the device or the shape
// (the caller then runs our own kernel).
bool cublas_gemm(const CublasGemm& g, int device, cudaStream_t st);

}  // namespace reclin
