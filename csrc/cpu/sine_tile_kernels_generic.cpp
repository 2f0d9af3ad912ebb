// The portable build of the tile kernels, and the choice between builds.
#define SIREN_CPU_ISA generic
#include "sine_tile_kernels_instantiate.h"

namespace siren_fused::cpu {

namespace {
bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}
}  // namespace

template <typename T>
const SineTileKernels<T>& sine_tile_kernels() {
  static const SineTileKernels<T> chosen = cpu_has_avx2_fma() ? avx2::kernels<T>() : generic::kernels<T>();
  return chosen;
}

template const SineTileKernels<float>& sine_tile_kernels<float>();
template const SineTileKernels<double>& sine_tile_kernels<double>();

}  // namespace siren_fused::cpu
