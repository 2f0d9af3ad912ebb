// The sine jet rule over a tile, as function pointers to the best build for this CPU.
//
// sine_jet_tile.h and sine_adjoint_tile.h are compiled twice: generic x86-64/aarch64 code, and
// (on x86-64) AVX2 + FMA code, which runs the elementwise passes about twice as fast. Torch's
// own kernels dispatch the same way; a plain -mavx2 build would crash on CPUs without AVX2.
#pragma once

#include <cstdint>

#include "../sine_jet.h"

namespace siren_fused::cpu {

template <typename T>
struct SineTileKernels {
  // y = sine jet of the pre-activation jet z (one tile, component blocks of `count` elements).
  // laplacian_weights: the D weights a_k when spec.weighted_laplacian, a directional jet's top weights
  // (taylor_jet.h) when spec.directional(), else not read.
  void (*forward)(const JetSpec& spec, const T* laplacian_weights, const T* z, int64_t count, T omega, T* y);
  // gz = vector-Jacobian product of the sine jet at z with the upstream gradient gy.
  void (*vjp)(const JetSpec& spec, const T* laplacian_weights, const T* z, const T* gy, int64_t count, T omega,
              T* gz);
  // Both from one evaluation of the sines, as the backward needs them for the layer below: y = sine
  // jet of z, and g, holding gy, replaced in place by gz.
  void (*forward_vjp)(const JetSpec& spec, const T* laplacian_weights, const T* z, int64_t count, T omega, T* y,
                      T* g);

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

// The kernels for this CPU (or the portable ones under SIREN_FUSED_CPU_ISA=generic), chosen once.
template <typename T>
const SineTileKernels<T>& sine_tile_kernels();

// The build sine_tile_kernels() chooses: "avx2" or "generic".
const char* sine_tile_kernels_isa();

}  // namespace siren_fused::cpu
