// A buffer set to one value: the ones vector the bias gradient's GEMMs sum with (jet_backward.cu).
#include "jet_kernels.cuh"

namespace siren_fused::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void fill_kernel(float* data, int64_t count, float value) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index < count) data[index] = value;
}

}  // namespace

cudaError_t launch_fill(float* data, int64_t count, float value, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return launch_kernel(fill_kernel, dim3(static_cast<unsigned>(ceil_div(count, kThreads))), kThreads, 0, stream, data,
                       count, value);
}

}  // namespace siren_fused::cuda
