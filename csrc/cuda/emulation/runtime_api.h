// The host side of the CUDA runtime API, emulated: the types and calls the kernels' launchers and
// the torch glue use (errors, streams, launch geometry, function and device attributes), for a
// build whose "device" is this CPU. Kernels see the execution model in device_model.h.
//
// Memory is host memory, a stream is a tag (kernels run to completion inside the launch), and the
// device reports the shared-memory limits of an sm_90 GPU (H100/H200), or of the smaller device
// SIREN_FUSED_EMULATION_DEVICE names, so launch configurations are refused where a real launch would
// fail and the launchers' fallbacks for smaller devices run in the tests.
#pragma once

#include <cstddef>
#include <string>

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorLaunchOutOfResources = 7,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorLaunchFailure = 719,
};

// Streams order work on a GPU; the emulation runs each launch to completion, so any stream will do.
struct CUstream_st;
using cudaStream_t = CUstream_st*;

struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};

struct alignas(16) float4 {
  float x, y, z, w;
};

inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

struct cudaFuncAttributes {
  size_t sharedSizeBytes;         // static __shared__ memory of the kernel
  int maxThreadsPerBlock;
  int maxDynamicSharedSizeBytes;  // what a launch may ask for (cudaFuncSetAttribute raises it)
};

namespace siren_fused::cuda_emulation {

// The emulated device's limits: those of compute capability 9.0, but for the opt-in maximum below.
constexpr int kMaxThreadsPerBlock = 1024;
constexpr int kMaxBlockDimZ = 64;
constexpr unsigned int kMaxGridDimX = 2147483647u;
constexpr unsigned int kMaxGridDimYZ = 65535u;
constexpr size_t kDefaultSharedPerBlock = 48 * 1024;  // without the opt-in attribute

// The opt-in maximum of shared memory a block: SIREN_FUSED_EMULATION_DEVICE=sm_80 (163 KB), sm_86 or
// sm_89 (99 KB), or sm_90 (227 KB, also when unset). Read at every query, so a test can switch it;
// false (the reason recorded as the last error) for another name.
bool optin_shared_per_block(size_t* bytes);

// A kernel's identity for the attribute calls: its address.
using KernelKey = const void*;

cudaError_t function_attributes(KernelKey kernel, cudaFuncAttributes* attributes);
cudaError_t set_max_dynamic_shared(KernelKey kernel, int bytes);

// Keeps `error` (with its reason, which cudaGetErrorString then returns) as this host thread's
// last error, and returns it.
cudaError_t record_error(cudaError_t error, const std::string& reason);

}  // namespace siren_fused::cuda_emulation

// The last error of this host thread, returned and cleared (as by the CUDA runtime).
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
// The last failure's full reason when `error` is that failure's code, else the code's name.
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);

template <typename Function>
cudaError_t cudaFuncSetAttribute(Function* kernel, cudaFuncAttribute attribute, int value) {
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
  return siren_fused::cuda_emulation::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value);
}

template <typename Function>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Function* kernel) {
  return siren_fused::cuda_emulation::function_attributes(reinterpret_cast<const void*>(kernel), attributes);
}
