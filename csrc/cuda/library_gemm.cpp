// The GEMM library the torch glue hands the launch sequences (library_gemm.h): cuBLAS in the CUDA
// build, ATen's CPU matmul on tensors viewing the same buffers under the emulation.
#include "library_gemm.h"

#include <ATen/ATen.h>

#ifndef SIREN_FUSED_CUDA_EMULATED
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/Exceptions.h>
#include <c10/cuda/CUDAStream.h>
#include <cublas_v2.h>
#endif

namespace siren_fused::cuda {

namespace {

#ifndef SIREN_FUSED_CUDA_EMULATED
// cuBLAS is column-major: the row-major C = A B is its C^T = B^T A^T, so B comes first, and a
// row-major operand is its own transpose as cuBLAS reads it (op N), a transposed one op T.
cublasOperation_t column_major_op(const GemmOperand& operand) {
  return operand.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
}

class CublasGemm final : public GemmLibrary {
 public:
  void multiply(const BatchedGemm& g, cudaStream_t stream) const override {
    if (g.batch == 0 || g.m == 0 || g.n == 0) return;
    // torch's handle for the current stream, with torch's workspace for that stream. Setting
    // another stream would reset the workspace, so the launch sequences run on the current one.
    TORCH_CHECK(stream == at::cuda::getCurrentCUDAStream().stream(),
                "siren_fused's cuBLAS GEMMs run on the current CUDA stream");
    cublasHandle_t handle = at::cuda::getCurrentCUDABlasHandle();
    // Plain float32 whatever torch's TF32 setting put on the shared handle, restored afterwards.
    cublasMath_t previous_mode;
    TORCH_CUDABLAS_CHECK(cublasGetMathMode(handle, &previous_mode));
    TORCH_CUDABLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
    const float alpha = 1.0f;
    const float beta = g.accumulate ? 1.0f : 0.0f;
    const cublasStatus_t status = cublasSgemmStridedBatched(
        handle, column_major_op(g.b), column_major_op(g.a), static_cast<int>(g.n), static_cast<int>(g.m),
        static_cast<int>(g.k), &alpha, g.b.data, static_cast<int>(g.b.ld), g.b.batch_stride, g.a.data,
        static_cast<int>(g.a.ld), g.a.batch_stride, &beta, g.c, static_cast<int>(g.ldc), g.c_batch_stride,
        static_cast<int>(g.batch));
    TORCH_CUDABLAS_CHECK(cublasSetMathMode(handle, previous_mode));
    TORCH_CUDABLAS_CHECK(status);
  }
};
#else
// The operand as a [batch, rows, cols] tensor over the caller's memory (no copy).
at::Tensor view(const GemmOperand& operand, int64_t batch, int64_t rows, int64_t cols) {
  const std::vector<int64_t> strides = operand.transposed ? std::vector<int64_t>{operand.batch_stride, 1, operand.ld}
                                                          : std::vector<int64_t>{operand.batch_stride, operand.ld, 1};
  return at::from_blob(const_cast<float*>(operand.data), {batch, rows, cols}, strides, at::kFloat);
}

class AtenGemm final : public GemmLibrary {
 public:
  void multiply(const BatchedGemm& g, cudaStream_t /*stream: the emulation runs in order*/) const override {
    if (g.batch == 0 || g.m == 0 || g.n == 0) return;
    const at::Tensor product = at::bmm(view(g.a, g.batch, g.m, g.k), view(g.b, g.batch, g.k, g.n));
    at::Tensor c = view({g.c, g.ldc, g.c_batch_stride, false}, g.batch, g.m, g.n);
    if (g.accumulate) {
      c.add_(product);
    } else {
      c.copy_(product);
    }
  }
};
#endif

}  // namespace

const GemmLibrary& torch_gemm_library() {
#ifndef SIREN_FUSED_CUDA_EMULATED
  static const CublasGemm library;
#else
  static const AtenGemm library;
#endif
  return library;
}

}  // namespace siren_fused::cuda
