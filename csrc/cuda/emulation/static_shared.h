// A kernel's static __shared__ arrays, for the emulation's launch-limit checks and poisoning.
//
// The emulation compiles `__shared__` to `static`, so a kernel's shared arrays are its function-
// local statics, which the compiler names after the kernel in the symbol table (Itanium ABI:
// `_ZZ<kernel's encoding>E<name>`) with their exact sizes. Reading them there is what nvcc does
// at compile time when it reports a kernel's static shared memory, without a second declaration
// beside each array that could drift from it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace siren_fused::cuda_emulation {

struct SharedArray {
  void* address;
  size_t bytes;
};

struct StaticShared {
  std::vector<SharedArray> arrays;
  size_t bytes = 0;        // their total: cudaFuncAttributes::sharedSizeBytes
  std::string error;       // why they could not be read (then the launch fails with it)
};

// The static shared arrays of the kernel at `kernel`, read once from the symbol table of the
// binary holding it and cached.
const StaticShared& static_shared_of(const void* kernel);

}  // namespace siren_fused::cuda_emulation
