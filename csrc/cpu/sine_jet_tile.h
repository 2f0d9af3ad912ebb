// The sine jet rule over one tile on the CPU: plain loops over contiguous component blocks that
// call the per-element functions of sine_jet.h, written so that the compiler vectorises them.
//
// A tile's jet is [components, rows, width] with components [value, tangents, second order]; a
// component block is `count` = rows * width contiguous elements.
//
// Compiled once per instruction set: the including file defines SIREN_CPU_ISA, the namespace that
// keeps each build's functions apart (see sine_tile_kernels.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../sine_jet.h"
#include "sine_tile_kernels.h"

#ifndef SIREN_CPU_ISA
#error "define SIREN_CPU_ISA before including sine_jet_tile.h"
#endif

namespace siren_fused::cpu::SIREN_CPU_ISA {

template <typename T>
SIREN_HD SineDerivatives<T> at(const TileDerivatives<T>& d, int64_t e) {
  return {d.f0[e], d.f1[e], d.f2[e], d.f3[e]};
}

// s, c = sin(omega z), cos(omega z) for a block of elements. The polynomial's reduction is exact
// only below the limit, so the rare larger arguments (and infinities) are redone with the C
// library. NaN stays NaN through the polynomial.
template <typename T>
void sincos_block(const T* z, int64_t count, T omega, T* s, T* c) {
  for (int64_t e = 0; e < count; ++e) sincos_host(omega * z[e], s[e], c[e]);
  const T limit = sincos_host_limit<T>();
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
    for (int64_t i = 0; i < n; ++i) fn(begin + i, sine_derivatives_from(s[i], c[i], omega));
  }
}

// Derivatives of sin(omega z) at every element of one component block.
template <typename T>
void sine_derivatives_tile(const T* z, int64_t count, T omega, const TileDerivatives<T>& d) {
  for_each_sine(z, count, omega, [&](int64_t e, const SineDerivatives<T>& v) {
    d.f0[e] = v.f0;
    d.f1[e] = v.f1;
    d.f2[e] = v.f2;
    d.f3[e] = v.f3;
  });
}

// sum_k a_k * b_k over the tangent blocks of two jets, into `out`.
template <typename T>
void tangent_dot_tile(const JetSpec& spec, const T* a, const T* b, int64_t count, T* out) {
  for (int64_t e = 0; e < count; ++e) out[e] = T(0);
  for (int64_t k = 1; k <= spec.tangent_count(); ++k) {
    const T* ak = a + k * count;
    const T* bk = b + k * count;
    for (int64_t e = 0; e < count; ++e) out[e] += ak[e] * bk[e];
  }
}

// Calls fn(k, l, component) for every packed Hessian entry k <= l, in packed order.
template <typename Fn>
void for_each_hessian_entry(const JetSpec& spec, const Fn& fn) {
  int64_t component = spec.second_offset();
  for (int64_t k = 0; k < spec.in_dims; ++k) {
    for (int64_t l = k; l < spec.in_dims; ++l) fn(k, l, component++);
  }
}

// y = sine jet of the pre-activation jet z (derivatives already in d).
template <typename T>
void sine_jet_forward_tile(const JetSpec& spec, const T* z, int64_t count, const TileDerivatives<T>& d, T* y) {
  for (int64_t e = 0; e < count; ++e) y[e] = d.f0[e];
  for (int64_t k = 1; k <= spec.tangent_count(); ++k) {
    const T* zk = z + k * count;
    T* yk = y + k * count;
    for (int64_t e = 0; e < count; ++e) yk[e] = jet_tangent(at(d, e), zk[e]);
  }
  if (spec.second_count() == 0) return;
  const int64_t base = spec.second_offset();
  if (!spec.hessian) {
    tangent_dot_tile(spec, z, z, count, d.sum);
    const T* zl = z + base * count;
    T* yl = y + base * count;
    for (int64_t e = 0; e < count; ++e) yl[e] = jet_laplacian(at(d, e), zl[e], d.sum[e]);
    return;
  }
  for_each_hessian_entry(spec, [&](int64_t k, int64_t l, int64_t entry) {
    const T* zk = z + (1 + k) * count;
    const T* zl = z + (1 + l) * count;
    const T* zkl = z + entry * count;
    T* ykl = y + entry * count;
    for (int64_t e = 0; e < count; ++e) ykl[e] = jet_hessian_entry(at(d, e), zkl[e], zk[e], zl[e]);
  });
}

// gz = vector-Jacobian product of the sine jet at z with the upstream gradient gy.
template <typename T>
void sine_jet_vjp_tile(const JetSpec& spec, const T* z, const T* gy, int64_t count, const TileDerivatives<T>& d,
                       T* gz) {
  // Linear parts: every non-value component's gradient starts at f'(z) g.
  for (int64_t k = 1; k < spec.components(); ++k) {
    const T* gk = gy + k * count;
    T* gzk = gz + k * count;
    for (int64_t e = 0; e < count; ++e) gzk[e] = jet_linear_part_vjp(at(d, e), gk[e]);
  }
  tangent_dot_tile(spec, z, gy, count, d.sum);
  for (int64_t e = 0; e < count; ++e) gz[e] = jet_value_vjp_first(at(d, e), gy[e], d.sum[e]);
  if (spec.second_count() == 0) return;
  const int64_t base = spec.second_offset();
  if (!spec.hessian) {
    const T* zl = z + base * count;
    const T* gl = gy + base * count;
    tangent_dot_tile(spec, z, z, count, d.sum);
    for (int64_t e = 0; e < count; ++e) gz[e] += jet_value_vjp_laplacian(at(d, e), zl[e], d.sum[e], gl[e]);
    for (int64_t k = 1; k <= spec.tangent_count(); ++k) {
      const T* zk = z + k * count;
      T* gzk = gz + k * count;
      for (int64_t e = 0; e < count; ++e) gzk[e] += jet_tangent_vjp_laplacian(at(d, e), zk[e], gl[e]);
    }
    return;
  }
  for_each_hessian_entry(spec, [&](int64_t k, int64_t l, int64_t entry) {
    const T* zk = z + (1 + k) * count;
    const T* zl = z + (1 + l) * count;
    const T* zkl = z + entry * count;
    const T* gkl = gy + entry * count;
    T* gzk = gz + (1 + k) * count;
    T* gzl = gz + (1 + l) * count;
    for (int64_t e = 0; e < count; ++e) {
      const SineDerivatives<T> v = at(d, e);
      gz[e] += jet_value_vjp_hessian(v, zkl[e], zk[e], zl[e], gkl[e]);
      // y_kl depends on z_k through z_l and on z_l through z_k; for k == l both terms land on z_k.
      gzk[e] += jet_tangent_vjp_hessian(v, zl[e], gkl[e]);
      gzl[e] += jet_tangent_vjp_hessian(v, zk[e], gkl[e]);
    }
  });
}

}  // namespace siren_fused::cpu::SIREN_CPU_ISA
