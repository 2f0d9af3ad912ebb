// The CUDA execution model for kernels compiled by the host compiler (the CUDA emulation).
//
// csrc/cuda/device_code.cuh includes this in place of the real runtime when
// SIREN_FUSED_CUDA_EMULATED is set, so the .cu files compile unchanged as C++. A launch runs every
// block of the grid, in a shuffled order, one at a time; the threads of a block are fibers on one
// host thread, switched at __syncthreads, which is a real barrier: every thread of the block must
// reach the same __syncthreads before any passes it (a thread that returns while others wait, or
// threads waiting at different barriers, fail the launch, where a GPU would hang or misbehave).
// Fibers resume in a shuffled order after every barrier, so no kernel can rely on thread order.
//
// Only what the kernels use is emulated; anything else (warp shuffles and votes, cooperative
// groups, tensor-core intrinsics, atomics, texture and constant memory) is left undeclared,
// so a kernel that needs it fails to compile until the emulation gains it.
#pragma once

#if defined(__CUDACC__)
#error "device_model.h emulates CUDA on the host; nvcc builds use the real CUDA runtime"
#endif

#include <cmath>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __grid_constant__
// The compiler's register budget per thread: nothing to emulate on the host.
#define __launch_bounds__(...)
// One host thread runs one block at a time, so a block's static shared arrays can be function
// statics. Every block finds them filled with NaN bytes, as uninitialised shared memory.
#define __shared__ static

namespace siren_fused::cuda_emulation {

struct ThreadCoordinates {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};

// The emulated thread running now. Read with a relaxed atomic load: under ThreadSanitizer the
// fibers are separate threads, and the scheduler's write of this pointer must not make them
// synchronise with one another.
extern const ThreadCoordinates* running_thread;
inline const ThreadCoordinates& current_thread() { return *__atomic_load_n(&running_thread, __ATOMIC_RELAXED); }

// The block's dynamic shared memory: exactly the bytes the launch asked for, NaN-filled.
void* dynamic_shared_memory();

// __syncthreads at file:line (the call site tells apart barriers that threads must share).
void sync_threads(const char* file, int line);

// Runs body(context) as every thread of every block of the grid, after checking the launch
// against the device's limits. Returns the launch's error, also kept for cudaGetLastError.
cudaError_t run_grid(KernelKey kernel, dim3 grid, dim3 block, size_t dynamic_shared_bytes, void (*body)(void*),
                     void* context);

}  // namespace siren_fused::cuda_emulation

#define threadIdx (::siren_fused::cuda_emulation::current_thread().thread_idx)
#define blockIdx (::siren_fused::cuda_emulation::current_thread().block_idx)
#define blockDim (::siren_fused::cuda_emulation::current_thread().block_dim)
#define gridDim (::siren_fused::cuda_emulation::current_thread().grid_dim)
#define __syncthreads() ::siren_fused::cuda_emulation::sync_threads(__FILE__, __LINE__)

// The second seam: `extern __shared__ type name[]` under nvcc.
#define SIREN_DYNAMIC_SHARED(type, name) \
  type* const name = static_cast<type*>(::siren_fused::cuda_emulation::dynamic_shared_memory())

namespace siren_fused::cuda {

// The first seam: `kernel<<<grid, block, dynamic_shared_bytes, stream>>>(args...)` under nvcc.
// The arguments are converted to the kernel's parameter types once, as a launch copies them, and
// each emulated thread gets its own copies of the by-value parameters.
template <typename... Params, typename... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t dynamic_shared_bytes,
                          cudaStream_t /*stream: every launch completes in order*/, Args&&... args) {
  struct Launch {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Params>...> params;
  };
  Launch launch{kernel, {std::forward<Args>(args)...}};
  const auto body = [](void* context) {
    Launch& l = *static_cast<Launch*>(context);
    std::apply(l.kernel, l.params);
  };
  cuda_emulation::run_grid(reinterpret_cast<cuda_emulation::KernelKey>(kernel), grid, block, dynamic_shared_bytes,
                           body, &launch);
  return cudaGetLastError();
}

}  // namespace siren_fused::cuda
