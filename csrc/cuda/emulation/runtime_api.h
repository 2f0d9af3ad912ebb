// The host side of the CUDA runtime API, emulated: the types and calls the kernels' launchers and
// the torch glue use (errors, streams, launch geometry, function and device attributes), for a
// build whose "device" is this CPU. Kernels see the execution model in device_model.h.
//
// Memory is host memory, a stream is a tag (kernels run to completion inside the launch), and the
// device reports the shared-memory limits of an sm_90 GPU (H100/H200), so launch configurations are
// refused where a real launch would fail.
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

// The emulated device's limits: those of compute capability 9.0.
constexpr int kMaxThreadsPerBlock = 1024;
constexpr int kMaxBlockDimZ = 64;
constexpr unsigned int kMaxGridDimX = 2147483647u;
constexpr unsigned int kMaxGridDimYZ = 65535u;
constexpr size_t kDefaultSharedPerBlock = 48 * 1024;  // without the opt-in attribute
constexpr size_t kOptinSharedPerBlock = 227 * 1024;   // 232,448 B: sm_90's opt-in maximum

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
