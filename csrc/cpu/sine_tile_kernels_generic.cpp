// The portable build of the tile kernels, and the choice between builds.
#define SIREN_CPU_ISA generic
#include "sine_tile_kernels_instantiate.h"

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>

namespace siren_fused::cpu {

namespace {

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// SIREN_FUSED_CPU_ISA=generic forces the portable build, so machines with AVX2 (CI's) test it too;
// unset, the best build for this CPU runs. Read once, when the kernels are first used.
bool use_avx2() {
  const char* choice = std::getenv("SIREN_FUSED_CPU_ISA");
  if (choice == nullptr || *choice == '\0') return cpu_has_avx2_fma();
  TORCH_CHECK(std::strcmp(choice, "generic") == 0, "SIREN_FUSED_CPU_ISA must be 'generic' or unset, got '", choice,
              "'");
  return false;
}

}  // namespace

template <typename T>
const SineTileKernels<T>& sine_tile_kernels() {
  static const SineTileKernels<T> chosen = use_avx2() ? avx2::kernels<T>() : generic::kernels<T>();
  return chosen;
}

// Which build runs, for the tests that check the override.
const char* sine_tile_kernels_isa() { return use_avx2() ? "avx2" : "generic"; }

template const SineTileKernels<float>& sine_tile_kernels<float>();
template const SineTileKernels<double>& sine_tile_kernels<double>();

}  // namespace siren_fused::cpu
