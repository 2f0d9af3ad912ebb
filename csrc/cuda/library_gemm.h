// The GEMM seam of the launch sequences: every matrix product of the forward and backward (the
// per-layer jet GEMM, the input-gradient GEMM, the weight and bias gradients) goes through this
// interface, which no kernel file implements. The torch glue hands the sequences a library
// (library_gemm.cpp): cuBLAS on the current stream in the CUDA build, ATen's CPU BLAS on the same
// buffers under the emulation, so the emulated tests run the launch sequence a GPU runs. No torch
// header here: the .cu files include it.
#pragma once

#include <cstdint>

#include "runtime.h"

namespace siren_fused::cuda {

// A row-major matrix operand of a batch: element (i, j) of batch entry b is
// data[b * batch_stride + i * ld + j], or data[b * batch_stride + j * ld + i] when transposed
// (the matrix is read as the transpose of what is stored). batch_stride 0 shares one matrix.
struct GemmOperand {
  const float* data;
  int64_t ld;
  int64_t batch_stride;
  bool transposed;
};

// C = A B, or C += A B when accumulate, for each of `batch` entries: A is m x k, B is k x n, C is
// m x n row-major (leading dimension ldc) at c + b * c_batch_stride. Float32 inputs, products and
// sums (no TF32: at omega 30 a TF32-rounded input moves a sine's phase by about 1e-2).
struct BatchedGemm {
  int64_t batch;
  int64_t m;
  int64_t n;
  int64_t k;
  GemmOperand a;
  GemmOperand b;
  float* c;
  int64_t ldc;
  int64_t c_batch_stride;
  bool accumulate;
};

class GemmLibrary {
 public:
  virtual ~GemmLibrary() = default;
  // Enqueues the product on `stream` (runs it, under the emulation). A library's own failure (a
  // cuBLAS status is no CUDA error) throws, naming it.
  virtual void multiply(const BatchedGemm& gemm, cudaStream_t stream) const = 0;
};

// The torch glue's library (library_gemm.cpp): cuBLAS with torch's handle, or ATen under the emulation.
const GemmLibrary& torch_gemm_library();

}  // namespace siren_fused::cuda
