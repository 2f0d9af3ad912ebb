// The sine jet rule at one (point, neuron) on the device: all components of one jet element,
// `stride` apart, through the per-element functions of sine_jet.h (the same ones the CPU runs).
// laplacian_weights: the D weights a_k on the device where spec.weighted_laplacian, else not read.
#pragma once

#include <cstdint>

#include "../sine_jet.h"
#include "device_code.cuh"

namespace siren_fused::cuda {

// y = sine jet of the pre-activation jet with value component `value` and the others z[k * z_stride],
// k >= 1 (z[0] is not read: the layer epilogue passes its value with the bias added).
template <typename T>
__device__ void sine_jet_forward_point(const JetSpec& spec, const T* laplacian_weights, T omega, T value, const T* z,
                                       int64_t z_stride, T* y, int64_t y_stride) {
  const SineDerivatives<T> d = sine_derivatives(value, omega);
  y[0] = d.f0;
  const int64_t tangents = spec.tangent_count();
  for (int64_t k = 1; k <= tangents; ++k) y[k * y_stride] = jet_tangent(d, z[k * z_stride]);
  if (spec.second_count() == 0) return;
  const int64_t base = spec.second_offset();
  if (!spec.hessian) {
    T weighted_tangent_sq_sum = T(0);
    for (int64_t k = 1; k <= tangents; ++k) {
      const T z_k = z[k * z_stride];
      weighted_tangent_sq_sum += laplacian_weight(spec.weighted_laplacian, laplacian_weights, k - 1) * z_k * z_k;
    }
    y[base * y_stride] = jet_laplacian(d, z[base * z_stride], weighted_tangent_sq_sum);
    return;
  }
  int64_t entry = base;
  for (int64_t k = 0; k < spec.in_dims; ++k) {
    for (int64_t l = k; l < spec.in_dims; ++l, ++entry) {
      y[entry * y_stride] =
          jet_hessian_entry(d, z[entry * z_stride], z[(1 + k) * z_stride], z[(1 + l) * z_stride]);
    }
  }
}

// gz = vector-Jacobian product of the sine jet at z with the upstream gradient g.
template <typename T>
__device__ void sine_jet_vjp_point(const JetSpec& spec, const T* laplacian_weights, T omega, const T* z,
                                   int64_t z_stride, const T* g, int64_t g_stride, T* gz, int64_t gz_stride) {
  const SineDerivatives<T> d = sine_derivatives(z[0], omega);
  const int64_t tangents = spec.tangent_count();
  // Linear parts: every non-value component's gradient starts at f'(z) g.
  for (int64_t k = 1; k < spec.components(); ++k) gz[k * gz_stride] = jet_linear_part_vjp(d, g[k * g_stride]);
  T tangent_dot_grad = T(0);
  for (int64_t k = 1; k <= tangents; ++k) tangent_dot_grad += z[k * z_stride] * g[k * g_stride];
  T value_grad = jet_value_vjp_first(d, g[0], tangent_dot_grad);
  if (spec.second_count() > 0) {
    const int64_t base = spec.second_offset();
    if (!spec.hessian) {
      const T lap_grad = g[base * g_stride];
      T weighted_tangent_sq_sum = T(0);
      for (int64_t k = 1; k <= tangents; ++k) {
        const T z_k = z[k * z_stride];
        const T a_k = laplacian_weight(spec.weighted_laplacian, laplacian_weights, k - 1);
        weighted_tangent_sq_sum += a_k * z_k * z_k;
        gz[k * gz_stride] += jet_tangent_vjp_laplacian(d, a_k, z_k, lap_grad);
      }
      value_grad += jet_value_vjp_laplacian(d, z[base * z_stride], weighted_tangent_sq_sum, lap_grad);
    } else {
      int64_t entry = base;
      for (int64_t k = 0; k < spec.in_dims; ++k) {
        for (int64_t l = k; l < spec.in_dims; ++l, ++entry) {
          const T zk = z[(1 + k) * z_stride];
          const T zl = z[(1 + l) * z_stride];
          const T g_kl = g[entry * g_stride];
          value_grad += jet_value_vjp_hessian(d, z[entry * z_stride], zk, zl, g_kl);
          // y_kl depends on z_k through z_l and on z_l through z_k; for k == l both land on z_k.
          gz[(1 + k) * gz_stride] += jet_tangent_vjp_hessian(d, zl, g_kl);
          gz[(1 + l) * gz_stride] += jet_tangent_vjp_hessian(d, zk, g_kl);
        }
      }
    }
  }
  gz[0] = value_grad;
}

}  // namespace siren_fused::cuda
