// The AVX2 + FMA build of the tile kernels (x86-64 only; elsewhere it falls back to generic).
// Standard headers come before the target pragma so that only our code is built for AVX2.
#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma")
#define SIREN_CPU_ISA avx2
#include "sine_tile_kernels_instantiate.h"
#else
#include "sine_tile_kernels.h"
namespace siren_fused::cpu::avx2 {
template <typename T>
SineTileKernels<T> kernels() {
  return generic::kernels<T>();
}
template SineTileKernels<float> kernels<float>();
template SineTileKernels<double> kernels<double>();
}  // namespace siren_fused::cpu::avx2
#endif
