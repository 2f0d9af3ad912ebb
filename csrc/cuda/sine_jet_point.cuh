// The sine jet rule at one (point, neuron) on the device: all components of one jet element,
// `stride` apart, through the per-element functions of sine_jet.h (the same ones the CPU runs).
// laplacian_weights: the D weights a_k on the device where spec.weighted_laplacian, else not read.
#pragma once

#include <cstdint>

#include "../sine_jet.h"
#include "device_code.cuh"

namespace siren_fused::cuda {

// The pre-activation jet at one (point, neuron) as the sine rule reads it: its value, passed apart (the layer
// epilogue adds the bias to it; a FiLM modulation shifts and scales it), and component k >= 1 at z[k * stride]
// times `scale`, a modulated SIREN's FiLM scale (sine_jet.h's modulated_derivative; 1 for an unmodulated layer,
// which leaves every component's bits as they are).
template <typename T>
struct PointJet {
  T value;
  const T* z;
  int64_t stride;
  T scale;

  __device__ T operator[](int64_t k) const { return modulated_derivative(z[k * stride], scale); }
};

// y = sine jet of the pre-activation jet z.
template <typename T>
__device__ void sine_jet_forward_point(const JetSpec& spec, const T* laplacian_weights, T omega, const PointJet<T>& z,
                                       T* y, int64_t y_stride) {
  const SineDerivatives<T> d = sine_derivatives(z.value, omega);
  y[0] = d.f0;
  const int64_t tangents = spec.tangent_count();
  for (int64_t k = 1; k <= tangents; ++k) y[k * y_stride] = jet_tangent(d, z[k]);
  if (spec.second_count() == 0) return;
  const int64_t base = spec.second_offset();
  if (!spec.hessian) {
    T weighted_tangent_sq_sum = T(0);
    for (int64_t k = 1; k <= tangents; ++k) {
      const T z_k = z[k];
      weighted_tangent_sq_sum += laplacian_weight(spec.weighted_laplacian, laplacian_weights, k - 1) * z_k * z_k;
    }
    y[base * y_stride] = jet_laplacian(d, z[base], weighted_tangent_sq_sum);
    return;
  }
  int64_t entry = base;
  for (int64_t k = 0; k < spec.in_dims; ++k) {
    for (int64_t l = k; l < spec.in_dims; ++l, ++entry) {
      y[entry * y_stride] = jet_hessian_entry(d, z[entry], z[1 + k], z[1 + l]);
    }
  }
}

// gz = vector-Jacobian product of the sine jet at z with the upstream gradient g: the gradient of z's components
// as PointJet reads them (a modulated layer's caller takes it on through the modulation, sine_jet.h).
template <typename T>
__device__ void sine_jet_vjp_point(const JetSpec& spec, const T* laplacian_weights, T omega, const PointJet<T>& z,
                                   const T* g, int64_t g_stride, T* gz, int64_t gz_stride) {
  const SineDerivatives<T> d = sine_derivatives(z.value, omega);
  const int64_t tangents = spec.tangent_count();
  // Linear parts: every non-value component's gradient starts at f'(z) g.
  for (int64_t k = 1; k < spec.components(); ++k) gz[k * gz_stride] = jet_linear_part_vjp(d, g[k * g_stride]);
  T tangent_dot_grad = T(0);
  for (int64_t k = 1; k <= tangents; ++k) tangent_dot_grad += z[k] * g[k * g_stride];
  T value_grad = jet_value_vjp_first(d, g[0], tangent_dot_grad);
  if (spec.second_count() > 0) {
    const int64_t base = spec.second_offset();
    if (!spec.hessian) {
      const T lap_grad = g[base * g_stride];
      T weighted_tangent_sq_sum = T(0);
      for (int64_t k = 1; k <= tangents; ++k) {
        const T z_k = z[k];
        const T a_k = laplacian_weight(spec.weighted_laplacian, laplacian_weights, k - 1);
        weighted_tangent_sq_sum += a_k * z_k * z_k;
        gz[k * gz_stride] += jet_tangent_vjp_laplacian(d, a_k, z_k, lap_grad);
      }
      value_grad += jet_value_vjp_laplacian(d, z[base], weighted_tangent_sq_sum, lap_grad);
    } else {
      int64_t entry = base;
      for (int64_t k = 0; k < spec.in_dims; ++k) {
        for (int64_t l = k; l < spec.in_dims; ++l, ++entry) {
          const T zk = z[1 + k];
          const T zl = z[1 + l];
          const T g_kl = g[entry * g_stride];
          value_grad += jet_value_vjp_hessian(d, z[entry], zk, zl, g_kl);
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
