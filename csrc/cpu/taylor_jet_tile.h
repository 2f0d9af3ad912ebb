// The directional Taylor jet's sine rule (csrc/taylor_jet.h) over one tile on the CPU: the tile's
// sines computed a block at a time (for_each_sine), then the per-element rule of the shared header
// with the component blocks `count` elements apart. The order is a compile-time constant, so an
// element's loops over the derivatives unroll; the directions and top fields stay run-time loops
// (their number depends on the operator). sine_jet_tile.h's entry points send a directional spec here.
//
// Compiled once per instruction set, like sine_jet_tile.h, which includes it.
#pragma once

#include <cstdint>

#include "../taylor_jet.h"

#ifndef SIREN_CPU_ISA
#error "define SIREN_CPU_ISA before including taylor_jet_tile.h"
#endif

namespace siren_fused::cpu::SIREN_CPU_ISA {

// y = directional sine jet of the pre-activation jet z (top_weights: the rule's constants).
template <typename T>
void taylor_jet_forward_tile(const JetSpec& spec, const T* top_weights, const T* z, int64_t count, T omega, T* y) {
  with_taylor_order(spec, [&](auto order) {
    for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& d) {
      taylor_jet_forward_point<decltype(order)::value>(spec, top_weights, d, omega, z + e, count, y + e, count);
    });
  });
}

// gz = vector-Jacobian product of the directional sine jet at z with the upstream gradient gy (gz may be gy).
template <typename T>
void taylor_jet_vjp_tile(const JetSpec& spec, const T* top_weights, const T* z, const T* gy, int64_t count, T omega,
                         T* gz) {
  with_taylor_order(spec, [&](auto order) {
    for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& d) {
      taylor_jet_vjp_point<decltype(order)::value>(spec, top_weights, d, omega, z + e, count, gy + e, count, gz + e,
                                                   count);
    });
  });
}

// Both from one evaluation of the sines: y = directional sine jet of z, and g (holding the upstream
// gradient) becomes the vector-Jacobian product in place.
template <typename T>
void taylor_jet_forward_vjp_tile(const JetSpec& spec, const T* top_weights, const T* z, int64_t count, T omega, T* y,
                                 T* g) {
  with_taylor_order(spec, [&](auto order) {
    for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& d) {
      constexpr int kOrder = decltype(order)::value;
      taylor_jet_forward_point<kOrder>(spec, top_weights, d, omega, z + e, count, y + e, count);
      taylor_jet_vjp_point<kOrder>(spec, top_weights, d, omega, z + e, count, g + e, count, g + e, count);
    });
  });
}

}  // namespace siren_fused::cpu::SIREN_CPU_ISA
