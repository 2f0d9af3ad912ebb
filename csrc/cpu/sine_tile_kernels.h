// The sine jet rule over a tile, as function pointers to the best build for this CPU.
//
// sine_jet_tile.h and sine_adjoint_tile.h are compiled twice: generic x86-64/aarch64 code, and
// (on x86-64) AVX2 + FMA code, which runs the elementwise passes about twice as fast. Torch's
// own kernels dispatch the same way; a plain -mavx2 build would crash on CPUs without AVX2.
#pragma once

#include <cstdint>

#include "../sine_jet.h"

namespace siren_fused::cpu {

// The activation's derivatives at every element of a tile, plus one spare block for sums.
template <typename T>
struct TileDerivatives {
  T* f0;
  T* f1;
  T* f2;
  T* f3;
  T* sum;  // scratch: sum_k z_k^2 or sum_k z_k g_k, one block
};

template <typename T>
struct SineTileKernels {
  // Derivatives of sin(omega z) at every element of one component block.
  void (*derivatives)(const T* z, int64_t count, T omega, const TileDerivatives<T>& d);
  // y = sine jet of the pre-activation jet z, given its derivatives.
  void (*forward)(const JetSpec& spec, const T* z, int64_t count, const TileDerivatives<T>& d, T* y);
  // gz = vector-Jacobian product of the sine jet at z with the upstream gradient gy.
  void (*vjp)(const JetSpec& spec, const T* z, const T* gy, int64_t count, const TileDerivatives<T>& d, T* gz);

  // The reverse-mode gradient's passes over a block of pre-activations (sine_adjoint_tile.h).
  void (*value)(const T* z, int64_t count, T omega, T* h);
  void (*adjoint)(const T* z, const T* p, int64_t count, T omega, T* a);
  void (*adjoint_vjp)(const T* z, const T* p, const T* abar, int64_t count, T omega, T* a, T* pbar);
  void (*value_vjp)(const T* z, const T* hbar, const T* p, const T* abar, int64_t count, T omega, T* h, T* zbar);
};

namespace generic {
template <typename T>
SineTileKernels<T> kernels();
}
namespace avx2 {
template <typename T>
SineTileKernels<T> kernels();
}

// The kernels for this CPU, chosen once.
template <typename T>
const SineTileKernels<T>& sine_tile_kernels();

}  // namespace siren_fused::cpu
