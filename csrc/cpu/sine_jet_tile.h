// The sine jet rule over one tile on the CPU: one loop over the elements of a component block that
// applies the per-element functions of sine_jet.h to every component at once, written so that the
// compiler vectorises it.
//
// A tile's jet is [components, rows, width] with components [value, tangents, second order]; a
// component block is `count` = rows * width contiguous elements. The loops are instantiated per jet
// shape (input dimensions 1 to 3, or any at run time; order; Laplacian or Hessian), so an element's
// components are a fixed set of strided loads and stores: one pass over the tile instead of a pass
// per component, and the sine's derivatives never leave registers.
//
// Compiled once per instruction set: the including file defines SIREN_CPU_ISA, the namespace that
// keeps each build's functions apart (see sine_tile_kernels.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../sine_jet.h"
#include "sine_tile_kernels.h"

#ifndef SIREN_CPU_ISA
#error "define SIREN_CPU_ISA before including sine_jet_tile.h"
#endif

namespace siren_fused::cpu::SIREN_CPU_ISA {

// s, c = sin(omega z), cos(omega z) for a block of elements. The polynomial's reduction is exact
// only below the limit, so the rare larger arguments (and infinities) are redone with the C
// library. NaN stays NaN through the polynomial. The limit test is an OR over the block inside the
// vectorised loop; a separate scalar test per element took longer than the polynomial itself.
template <typename T>
void sincos_block(const T* z, int64_t count, T omega, T* s, T* c) {
  const T limit = sincos_host_limit<T>();
  int beyond_limit = 0;
  for (int64_t e = 0; e < count; ++e) {
    const T arg = omega * z[e];
    sincos_host(arg, s[e], c[e]);
    beyond_limit |= std::fabs(arg) > limit;
  }
  if (!beyond_limit) return;
  for (int64_t e = 0; e < count; ++e) {
    const T arg = omega * z[e];
    if (std::fabs(arg) > limit) {
      s[e] = std::sin(arg);
      c[e] = std::cos(arg);
    }
  }
}

// Calls fn(e, derivatives of sin(omega z[e])) for every element, a cache-resident block of sines
// at a time: computing the sines in a loop of their own is what lets the compiler vectorise both
// that loop and fn's.
template <typename T, typename Fn>
void for_each_sine(const T* z, int64_t count, T omega, const Fn& fn) {
  constexpr int64_t kBlock = 512;
  T s[kBlock], c[kBlock];
  for (int64_t begin = 0; begin < count; begin += kBlock) {
    const int64_t n = std::min(kBlock, count - begin);
    sincos_block(z + begin, n, omega, s, c);
    // Every caller writes outputs that no other element reads, but through several pointers that
    // the compiler cannot tell apart; without this it gives up on vectorising the wider jets.
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) fn(begin + i, sine_derivatives_from(s[i], c[i], omega));
  }
}

template <int kValue>
using IntConstant = std::integral_constant<int, kValue>;

// Calls fn(dims, order, hessian, weighted) with each a std::integral_constant matching spec: dims 1
// to 3, or 0 for "any, read spec.in_dims at run time" (order 0 carries no tangents, so its dims are
// 0); weighted: a weighted Laplacian, whose weights the rule reads (the plain one multiplies by none).
template <typename Fn>
void with_jet_shape(const JetSpec& spec, const Fn& fn) {
  auto with_dims = [&](auto order, auto hessian, auto weighted) {
    if constexpr (decltype(order)::value == 0) {
      fn(IntConstant<0>{}, order, hessian, weighted);
    } else {
      switch (spec.in_dims) {
        case 1: return fn(IntConstant<1>{}, order, hessian, weighted);
        case 2: return fn(IntConstant<2>{}, order, hessian, weighted);
        case 3: return fn(IntConstant<3>{}, order, hessian, weighted);
        default: return fn(IntConstant<0>{}, order, hessian, weighted);
      }
    }
  };
  if (spec.order == 0) return with_dims(IntConstant<0>{}, std::false_type{}, std::false_type{});
  if (spec.order == 1) return with_dims(IntConstant<1>{}, std::false_type{}, std::false_type{});
  if (spec.hessian) return with_dims(IntConstant<2>{}, std::true_type{}, std::false_type{});
  if (spec.weighted_laplacian) return with_dims(IntConstant<2>{}, std::false_type{}, std::true_type{});
  return with_dims(IntConstant<2>{}, std::false_type{}, std::false_type{});
}

// Calls fn(k, l, component) for every packed Hessian entry k <= l, in packed order.
template <typename Fn>
SIREN_HD void for_each_hessian_entry(int64_t dims, int64_t first_component, const Fn& fn) {
  int64_t component = first_component;
  // Unrolled, so that with a compile-time dims the element loop around this one can vectorise.
#pragma GCC unroll 8
  for (int64_t k = 0; k < dims; ++k) {
#pragma GCC unroll 8
    for (int64_t l = k; l < dims; ++l) fn(k, l, component++);
  }
}

// The per-element rules, in a form the tile passes below run alone or together over one block of
// sines. `e` indexes a component block of `count` elements; `first_second` is the second-order
// part's first component; `weights` holds the Laplacian's a_k when kWeighted (else it is not read).

// y = sine jet of the pre-activation jet z, at element e.
template <int kOrder, bool kHessian, bool kWeighted, typename T>
SIREN_HD void sine_jet_forward_element(int64_t dims, int64_t first_second, const T* weights, int64_t count,
                                       int64_t e, const SineDerivatives<T>& d, const T* z, T* y) {
  const int64_t second = first_second * count;
  y[e] = d.f0;
  if constexpr (kOrder >= 1) {
    for (int64_t k = 1; k <= dims; ++k) y[k * count + e] = jet_tangent(d, z[k * count + e]);
  }
  if constexpr (kOrder == 2 && !kHessian) {
    T weighted_tangent_sq_sum = T(0);
    for (int64_t k = 1; k <= dims; ++k) {
      const T z_k = z[k * count + e];
      weighted_tangent_sq_sum += laplacian_weight(kWeighted, weights, k - 1) * z_k * z_k;
    }
    y[second + e] = jet_laplacian(d, z[second + e], weighted_tangent_sq_sum);
  }
  if constexpr (kHessian) {
    for_each_hessian_entry(dims, first_second, [&](int64_t k, int64_t l, int64_t entry) {
      y[entry * count + e] = jet_hessian_entry(d, z[entry * count + e], z[(1 + k) * count + e],
                                               z[(1 + l) * count + e]);
    });
  }
}

// gz = vector-Jacobian product of the sine jet at z with the upstream gradient gy, at element e.
// gz may be gy: every component of gy is read before that component of gz is written.
template <int kOrder, bool kHessian, bool kWeighted, typename T>
SIREN_HD void sine_jet_vjp_element(int64_t dims, int64_t first_second, const T* weights, int64_t count, int64_t e,
                                   const SineDerivatives<T>& d, const T* z, const T* gy, T* gz) {
  const int64_t second = first_second * count;
  // Linear parts: every non-value component's gradient starts at f'(z) g.
  T tangent_dot_grad = T(0);
  for (int64_t k = 1; k <= (kOrder >= 1 ? dims : 0); ++k) {
    const T g_k = gy[k * count + e];
    tangent_dot_grad += z[k * count + e] * g_k;
    gz[k * count + e] = jet_linear_part_vjp(d, g_k);
  }
  T gz_value = jet_value_vjp_first(d, gy[e], tangent_dot_grad);
  if constexpr (kOrder == 2 && !kHessian) {
    const T g_lap = gy[second + e];
    gz[second + e] = jet_linear_part_vjp(d, g_lap);
    T weighted_tangent_sq_sum = T(0);
    for (int64_t k = 1; k <= dims; ++k) {
      const T z_k = z[k * count + e];
      const T a_k = laplacian_weight(kWeighted, weights, k - 1);
      weighted_tangent_sq_sum += a_k * z_k * z_k;
      gz[k * count + e] += jet_tangent_vjp_laplacian(d, a_k, z_k, g_lap);
    }
    gz_value += jet_value_vjp_laplacian(d, z[second + e], weighted_tangent_sq_sum, g_lap);
  }
  if constexpr (kHessian) {
    for_each_hessian_entry(dims, first_second, [&](int64_t k, int64_t l, int64_t entry) {
      const T z_k = z[(1 + k) * count + e];
      const T z_l = z[(1 + l) * count + e];
      const T g_kl = gy[entry * count + e];
      gz[entry * count + e] = jet_linear_part_vjp(d, g_kl);
      gz_value += jet_value_vjp_hessian(d, z[entry * count + e], z_k, z_l, g_kl);
      // y_kl depends on z_k through z_l and on z_l through z_k; for k == l both terms land on z_k.
      gz[(1 + k) * count + e] += jet_tangent_vjp_hessian(d, z_l, g_kl);
      gz[(1 + l) * count + e] += jet_tangent_vjp_hessian(d, z_k, g_kl);
    });
  }
  gz[e] = gz_value;
}

// y = sine jet of the pre-activation jet z.
template <int kDims, int kOrder, bool kHessian, bool kWeighted, typename T>
void sine_jet_forward_shape(const JetSpec& spec, const T* weights, const T* z, int64_t count, T omega, T* y) {
  const int64_t dims = kDims > 0 ? kDims : spec.in_dims;
  const int64_t first_second = spec.second_offset();
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& d) {
    sine_jet_forward_element<kOrder, kHessian, kWeighted>(dims, first_second, weights, count, e, d, z, y);
  });
}

// gz = vector-Jacobian product of the sine jet at z with the upstream gradient gy.
template <int kDims, int kOrder, bool kHessian, bool kWeighted, typename T>
void sine_jet_vjp_shape(const JetSpec& spec, const T* weights, const T* z, const T* gy, int64_t count, T omega,
                        T* gz) {
  const int64_t dims = kDims > 0 ? kDims : spec.in_dims;
  const int64_t first_second = spec.second_offset();
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& d) {
    sine_jet_vjp_element<kOrder, kHessian, kWeighted>(dims, first_second, weights, count, e, d, z, gy, gz);
  });
}

// Both at once, from one evaluation of the sines: y = sine jet of z, and g (holding the upstream
// gradient) becomes the vector-Jacobian product in place.
template <int kDims, int kOrder, bool kHessian, bool kWeighted, typename T>
void sine_jet_forward_vjp_shape(const JetSpec& spec, const T* weights, const T* z, int64_t count, T omega, T* y,
                                T* g) {
  const int64_t dims = kDims > 0 ? kDims : spec.in_dims;
  const int64_t first_second = spec.second_offset();
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& d) {
    sine_jet_forward_element<kOrder, kHessian, kWeighted>(dims, first_second, weights, count, e, d, z, y);
    sine_jet_vjp_element<kOrder, kHessian, kWeighted>(dims, first_second, weights, count, e, d, z, g, g);
  });
}

// The instance of a *_shape function for a jet shape from with_jet_shape.
#define SIREN_JET_SHAPE_INSTANCE(function) \
  function<decltype(dims)::value, decltype(order)::value, decltype(hessian)::value, decltype(weighted)::value>

}  // namespace siren_fused::cpu::SIREN_CPU_ISA

// The directional jet's tile passes, which the entry points below hand a directional spec (they use
// for_each_sine above).
#include "taylor_jet_tile.h"

namespace siren_fused::cpu::SIREN_CPU_ISA {

// The entry points. laplacian_weights holds the rule's constants (JetArgs::rule_constants_data): the
// weighted Laplacian's a_k, or a directional jet's top weights.
template <typename T>
void sine_jet_forward_tile(const JetSpec& spec, const T* laplacian_weights, const T* z, int64_t count, T omega,
                           T* y) {
  if (spec.directional()) return taylor_jet_forward_tile(spec, laplacian_weights, z, count, omega, y);
  with_jet_shape(spec, [&](auto dims, auto order, auto hessian, auto weighted) {
    SIREN_JET_SHAPE_INSTANCE(sine_jet_forward_shape)(spec, laplacian_weights, z, count, omega, y);
  });
}

template <typename T>
void sine_jet_vjp_tile(const JetSpec& spec, const T* laplacian_weights, const T* z, const T* gy, int64_t count,
                       T omega, T* gz) {
  if (spec.directional()) return taylor_jet_vjp_tile(spec, laplacian_weights, z, gy, count, omega, gz);
  with_jet_shape(spec, [&](auto dims, auto order, auto hessian, auto weighted) {
    SIREN_JET_SHAPE_INSTANCE(sine_jet_vjp_shape)(spec, laplacian_weights, z, gy, count, omega, gz);
  });
}

template <typename T>
void sine_jet_forward_vjp_tile(const JetSpec& spec, const T* laplacian_weights, const T* z, int64_t count, T omega,
                               T* y, T* g) {
  if (spec.directional()) return taylor_jet_forward_vjp_tile(spec, laplacian_weights, z, count, omega, y, g);
  with_jet_shape(spec, [&](auto dims, auto order, auto hessian, auto weighted) {
    SIREN_JET_SHAPE_INSTANCE(sine_jet_forward_vjp_shape)(spec, laplacian_weights, z, count, omega, y, g);
  });
}

#undef SIREN_JET_SHAPE_INSTANCE

}  // namespace siren_fused::cpu::SIREN_CPU_ISA
