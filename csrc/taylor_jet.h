// Per-element arithmetic of a directional Taylor jet (orders 2 to 4) through y = sin(omega * z),
// shared by the CPU tile kernels (csrc/cpu/taylor_jet_tile.h) and the CUDA kernels
// (csrc/cuda/sine_jet_point.cuh). No torch header; compiles as plain C++ or as CUDA.
//
// A directional jet of order K carries, for R directions v_r, the derivatives d^k/dt^k z(x + t v_r)
// at t = 0 for k < K, and M collapsed top fields Z_m = sum_r w_mr d^K/dt^K z(x + t v_r). Through
// the sine, Faa di Bruno's formula gives, with f_n = d^n/dz^n sin(omega z) at the value z_0:
//     y_1 = f_1 z_1
//     y_2 = f_1 z_2 + f_2 z_1^2
//     y_3 = f_1 z_3 + 3 f_2 z_1 z_2 + f_3 z_1^3
//     y_4 = f_1 z_4 + 4 f_2 z_1 z_3 + 3 f_2 z_2^2 + 6 f_3 z_1^2 z_2 + f_4 z_1^4.
// The top coefficient enters linearly, through f_1 alone, and the rest needs only lower ones: so
//     Y_m = f_1 Z_m + sum_r w_mr (y_K(r) - f_1 z_K(r)),
// and a weighted sum of K-th directional derivatives costs one component, not R (the Laplacian's
// collapse, sine_jet.h, is the case K = 2 with the axes as directions and unit weights).
//
// Layout of a directional jet (JetSpec with directions > 0): component 0 the value, then for
// k = 1 .. K-1 the R directions' k-th derivatives (component 1 + (k-1) R + r), then the M top
// fields. The rule's constants are the top weights w [M, R], row-major, then the directions
// v [R, D] (the input jet's tangents; the rule itself reads only w).
#pragma once

#include <cstdint>
#include <type_traits>

#include "sine_jet.h"

namespace siren_fused {

// Bounds of a directional jet, so the device keeps an element's upstream top gradients in registers
// or local memory of a fixed size. 4th-order operators in 3 dimensions need at most 15 directions.
constexpr int64_t kMaxTaylorOrder = 4;
constexpr int64_t kMaxTaylorDirections = 32;
constexpr int64_t kMaxTaylorTopFields = 16;

// f_n = d^n/dz^n sin(omega z) for n = 0 .. 5 (the backward of order 4 needs f_5).
template <typename T>
struct SineTaylorDerivatives {
  T f[6];
};

template <typename T>
SIREN_HD SineTaylorDerivatives<T> sine_taylor_derivatives(const SineDerivatives<T>& d, T omega) {
  const T omega2 = omega * omega;
  return {{d.f0, d.f1, d.f2, d.f3, -omega2 * d.f2, -omega2 * d.f3}};
}

// y_k of the formulas above from z_1 .. z_k (z[j] is z_j; z[0] is not read) and the derivatives
// f[0 ..]. Passing f + 1 differentiates y_k with respect to the value z_0: every f_n becomes f_{n+1}.
template <typename T>
SIREN_HD T faa_di_bruno(int k, const T* f, const T* z) {
  switch (k) {
    case 1: return f[1] * z[1];
    case 2: return f[1] * z[2] + f[2] * z[1] * z[1];
    case 3: return f[1] * z[3] + T(3) * f[2] * z[1] * z[2] + f[3] * z[1] * z[1] * z[1];
    default:
      return f[1] * z[4] + T(4) * f[2] * z[1] * z[3] + T(3) * f[2] * z[2] * z[2] +
             T(6) * f[3] * z[1] * z[1] * z[2] + f[4] * z[1] * z[1] * z[1] * z[1];
  }
}

// d y_k / d z_j, 1 <= j <= k.
template <typename T>
SIREN_HD T faa_di_bruno_partial(int k, int j, const T* f, const T* z) {
  if (j == k) return f[1];
  switch (k) {
    case 2: return T(2) * f[2] * z[1];
    case 3: return j == 1 ? T(3) * f[2] * z[2] + T(3) * f[3] * z[1] * z[1] : T(3) * f[2] * z[1];
    default:
      if (j == 1) return T(4) * f[2] * z[3] + T(12) * f[3] * z[1] * z[2] + T(4) * f[4] * z[1] * z[1] * z[1];
      if (j == 2) return T(6) * f[2] * z[2] + T(6) * f[3] * z[1] * z[1];
      return T(4) * f[2] * z[1];
  }
}

// Component of direction r's k-th derivative.
SIREN_HD int64_t taylor_component(const JetSpec& spec, int64_t k, int64_t r) {
  return 1 + (k - 1) * spec.directions + r;
}

// y = sine of the directional jet whose value's sine derivatives are d; the other components are
// z[c * z_stride], c >= 1 (z[0] is not read). y may be z: each component is read before it is written.
template <int kOrder, typename T>
SIREN_HD void taylor_jet_forward_point(const JetSpec& spec, const T* top_weights, const SineDerivatives<T>& d,
                                       T omega, const T* z, int64_t z_stride, T* y, int64_t y_stride) {
  const SineTaylorDerivatives<T> fd = sine_taylor_derivatives(d, omega);
  const T* f = fd.f;
  const int64_t directions = spec.directions, top = taylor_component(spec, kOrder, 0);
  y[0] = f[0];
  for (int64_t m = 0; m < spec.top_fields; ++m) y[(top + m) * y_stride] = f[1] * z[(top + m) * z_stride];
  for (int64_t r = 0; r < directions; ++r) {
    T zk[kOrder + 1] = {};  // zk[kOrder] stays 0: the top coefficient is collapsed, added above
    for (int k = 1; k < kOrder; ++k) zk[k] = z[taylor_component(spec, k, r) * z_stride];
    for (int k = 1; k < kOrder; ++k) y[taylor_component(spec, k, r) * y_stride] = faa_di_bruno(k, f, zk);
    const T rest = faa_di_bruno(kOrder, f, zk);
    for (int64_t m = 0; m < spec.top_fields; ++m) {
      const T w = top_weights[m * directions + r];
      if (w != T(0)) y[(top + m) * y_stride] += w * rest;
    }
  }
}

// gz = vector-Jacobian product of the directional sine jet at z (value z[0]) with the upstream
// gradient g. gz may be g: every component of g is read before that component of gz is written.
template <int kOrder, typename T>
SIREN_HD void taylor_jet_vjp_point(const JetSpec& spec, const T* top_weights, const SineDerivatives<T>& d, T omega,
                                   const T* z, int64_t z_stride, const T* g, int64_t g_stride, T* gz,
                                   int64_t gz_stride) {
  const SineTaylorDerivatives<T> fd = sine_taylor_derivatives(d, omega);
  const T* f = fd.f;
  const int64_t directions = spec.directions, top = taylor_component(spec, kOrder, 0);
  T g_top[kMaxTaylorTopFields];
  T gz_value = f[1] * g[0];
  for (int64_t m = 0; m < spec.top_fields; ++m) {
    g_top[m] = g[(top + m) * g_stride];
    gz_value += f[2] * z[(top + m) * z_stride] * g_top[m];  // d(f_1 Z_m)/dz_0
  }
  for (int64_t r = 0; r < directions; ++r) {
    T zk[kOrder + 1] = {}, gk[kOrder + 1] = {};
    for (int k = 1; k < kOrder; ++k) {
      zk[k] = z[taylor_component(spec, k, r) * z_stride];
      gk[k] = g[taylor_component(spec, k, r) * g_stride];
    }
    // The upstream gradient of direction r's (uncollapsed) K-th derivative.
    T g_rest = T(0);
    for (int64_t m = 0; m < spec.top_fields; ++m) g_rest += top_weights[m * directions + r] * g_top[m];
    gk[kOrder] = g_rest;
    for (int k = 1; k <= kOrder; ++k) gz_value += gk[k] * faa_di_bruno(k, f + 1, zk);
    for (int j = 1; j < kOrder; ++j) {
      T gz_j = T(0);
      for (int k = j; k <= kOrder; ++k) gz_j += gk[k] * faa_di_bruno_partial(k, j, f, zk);
      gz[taylor_component(spec, j, r) * gz_stride] = gz_j;
    }
  }
  for (int64_t m = 0; m < spec.top_fields; ++m) gz[(top + m) * gz_stride] = f[1] * g_top[m];
  gz[0] = gz_value;
}

// Calls fn(std::integral_constant<int, K>{}) for the spec's order K (2 to 4), so the per-element
// loops above unroll.
template <typename Fn>
SIREN_HD void with_taylor_order(const JetSpec& spec, const Fn& fn) {
  switch (spec.order) {
    case 2: return fn(std::integral_constant<int, 2>{});
    case 3: return fn(std::integral_constant<int, 3>{});
    default: return fn(std::integral_constant<int, 4>{});
  }
}

}  // namespace siren_fused
