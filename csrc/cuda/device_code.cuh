// What every kernel file includes first: the CUDA execution model (nvcc's, or the host emulation's
// in emulation/device_model.h) and the two seams the emulation needs, the only places where a
// kernel file's source may differ from plain CUDA:
//   launch_kernel(kernel, grid, block, dynamic_shared_bytes, stream, args...)  for  kernel<<<...>>>(args...)
//   SIREN_DYNAMIC_SHARED(type, name);  for  extern __shared__ type name[];
#pragma once

#ifdef SIREN_FUSED_CUDA_EMULATED
#include "emulation/device_model.h"
#else
#include <cuda_runtime.h>

#include <utility>

#define SIREN_DYNAMIC_SHARED(type, name) extern __shared__ type name[]

namespace siren_fused::cuda {

// Launches the kernel and returns the launch's error (none of the launchers synchronise).
template <typename... Params, typename... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t dynamic_shared_bytes,
                          cudaStream_t stream, Args&&... args) {
  kernel<<<grid, block, dynamic_shared_bytes, stream>>>(std::forward<Args>(args)...);
  return cudaGetLastError();
}

}  // namespace siren_fused::cuda
#endif

namespace siren_fused::cuda {

// Lets `kernel` launch with `dynamic_bytes` of dynamic shared memory. A kernel's static and
// dynamic shared memory share a default 48 KB; past it the kernel must opt in for its dynamic part,
// up to the device's maximum (where it cannot, this returns the error).
template <typename Kernel>
cudaError_t allow_dynamic_shared(Kernel* kernel, size_t dynamic_bytes) {
  cudaFuncAttributes attributes{};
  cudaError_t err = cudaFuncGetAttributes(&attributes, kernel);
  if (err == cudaSuccess && attributes.sharedSizeBytes + dynamic_bytes > 48 * 1024) {
    err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(dynamic_bytes));
  }
  if (err != cudaSuccess) cudaGetLastError();  // returned here, so it must not fail the next launch too
  return err;
}

}  // namespace siren_fused::cuda
