// The elementwise passes of the reverse-mode gradient (csrc/cpu/gradient_*_cpu.cpp), over one
// contiguous block of `count` pre-activations, calling the per-element rule of sine_jet.h.
//
// For a net with one output, the reverse-mode gradient runs the forward chain
//     z_l = W_l h_{l-1} + b_l,   h_l = f(z_l)
// and then an adjoint chain from the output down:
//     a_l = f'(z_l) p_l,   p_{l-1} = a_l W_l,   p_last = 1,   grad = a_0 W_0.
// a_l = f'(z_l) p_l is a tangent through the sine (jet_tangent), and its backward, given the
// upstream gradient abar_l of a_l and hbar_l of h_l, is the first-order jet VJP with the single
// "tangent" p_l: pbar_l = f'(z_l) abar_l and zbar_l = f'(z_l) hbar_l + f''(z_l) p_l abar_l.
//
// Compiled once per instruction set, like sine_jet_tile.h (which it builds on).
#pragma once

#include <cstdint>

#include "sine_jet_tile.h"

namespace siren_fused::cpu::SIREN_CPU_ISA {

// h = sin(omega z).
template <typename T>
void sine_value_tile(const T* z, int64_t count, T omega, T* h) {
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& v) { h[e] = v.f0; });
}

// a = f'(z) p.
template <typename T>
void sine_adjoint_tile(const T* z, const T* p, int64_t count, T omega, T* a) {
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& v) { a[e] = jet_tangent(v, p[e]); });
}

// Backward of a = f'(z) p towards p: pbar = f'(z) abar; also a itself, which the weight gradient
// needs and which is cheaper to recompute than to keep.
template <typename T>
void sine_adjoint_vjp_tile(const T* z, const T* p, const T* abar, int64_t count, T omega, T* a, T* pbar) {
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& v) {
    a[e] = jet_tangent(v, p[e]);
    pbar[e] = jet_linear_part_vjp(v, abar[e]);
  });
}

// Backward towards z of both chains: zbar = f'(z) hbar + f''(z) p abar; also h = f(z), the next
// layer's input, which its weight gradient needs.
template <typename T>
void sine_value_vjp_tile(const T* z, const T* hbar, const T* p, const T* abar, int64_t count, T omega, T* h,
                         T* zbar) {
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& v) {
    h[e] = v.f0;
    zbar[e] = jet_value_vjp_first(v, hbar[e], p[e] * abar[e]);
  });
}

}  // namespace siren_fused::cpu::SIREN_CPU_ISA
