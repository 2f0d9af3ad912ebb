// The emulated runtime API: errors, the device's attributes and kernels' function attributes.
#include "runtime_api.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "static_shared.h"

namespace siren_fused::cuda_emulation {

namespace {

thread_local cudaError_t last_error = cudaSuccess;
thread_local cudaError_t failure = cudaSuccess;  // the code whose reason is kept below
thread_local std::string failure_reason;

std::mutex attributes_mutex;
std::unordered_map<KernelKey, int> raised_dynamic_shared;  // by cudaFuncSetAttribute

const char* error_name(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

}  // namespace

cudaError_t record_error(cudaError_t error, const std::string& reason) {
  last_error = error;
  if (error != cudaSuccess) {
    failure = error;
    failure_reason = std::string(error_name(error)) + " (CUDA emulation: " + reason + ")";
  }
  return error;
}

cudaError_t function_attributes(KernelKey kernel, cudaFuncAttributes* attributes) {
  const StaticShared& shared = static_shared_of(kernel);
  if (!shared.error.empty()) return record_error(cudaErrorInvalidDeviceFunction, shared.error);
  const std::lock_guard<std::mutex> lock(attributes_mutex);
  const auto raised = raised_dynamic_shared.find(kernel);
  attributes->sharedSizeBytes = shared.bytes;
  attributes->maxThreadsPerBlock = kMaxThreadsPerBlock;
  // As on a GPU: without the attribute, static and dynamic shared memory share the default 48 KB.
  attributes->maxDynamicSharedSizeBytes = raised != raised_dynamic_shared.end()
                                              ? raised->second
                                              : static_cast<int>(kDefaultSharedPerBlock - shared.bytes);
  return cudaSuccess;
}

bool optin_shared_per_block(size_t* bytes) {
  const char* value = std::getenv("SIREN_FUSED_EMULATION_DEVICE");
  const std::string device = value == nullptr ? "sm_90" : value;
  if (device == "sm_90") {
    *bytes = 227 * 1024;
  } else if (device == "sm_80") {
    *bytes = 163 * 1024;
  } else if (device == "sm_86" || device == "sm_89") {
    *bytes = 99 * 1024;
  } else {
    record_error(cudaErrorInvalidValue,
                 "SIREN_FUSED_EMULATION_DEVICE must be sm_80, sm_86, sm_89, sm_90 or unset, got '" + device + "'");
    return false;
  }
  return true;
}

cudaError_t set_max_dynamic_shared(KernelKey kernel, int bytes) {
  const StaticShared& shared = static_shared_of(kernel);
  if (!shared.error.empty()) return record_error(cudaErrorInvalidDeviceFunction, shared.error);
  size_t maximum = 0;
  if (!optin_shared_per_block(&maximum)) return cudaErrorInvalidValue;
  if (bytes < 0 || shared.bytes + static_cast<size_t>(bytes) > maximum) {
    return record_error(cudaErrorInvalidValue,
                        "cudaFuncAttributeMaxDynamicSharedMemorySize " + std::to_string(bytes) + " B plus the kernel's " +
                            std::to_string(shared.bytes) + " B of static shared memory exceed the device's " +
                            std::to_string(maximum) + " B opt-in maximum");
  }
  const std::lock_guard<std::mutex> lock(attributes_mutex);
  raised_dynamic_shared[kernel] = bytes;
  return cudaSuccess;
}

}  // namespace siren_fused::cuda_emulation

cudaError_t cudaGetLastError() {
  const cudaError_t error = siren_fused::cuda_emulation::last_error;
  siren_fused::cuda_emulation::last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() { return siren_fused::cuda_emulation::last_error; }

const char* cudaGetErrorString(cudaError_t error) {
  using namespace siren_fused::cuda_emulation;
  return error != cudaSuccess && error == failure ? failure_reason.c_str() : error_name(error);
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  using namespace siren_fused::cuda_emulation;
  if (device != 0) return record_error(cudaErrorInvalidValue, "the emulation has one device, 0");
  switch (attribute) {
    case cudaDevAttrMaxThreadsPerBlock: *value = kMaxThreadsPerBlock; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(kDefaultSharedPerBlock); return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: {
      size_t maximum = 0;
      if (!optin_shared_per_block(&maximum)) return cudaErrorInvalidValue;
      *value = static_cast<int>(maximum);
      return cudaSuccess;
    }
  }
  return record_error(cudaErrorInvalidValue, "device attribute " + std::to_string(attribute) + " is not emulated");
}
