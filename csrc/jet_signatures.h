// The schemas of the forward-mode jet ops, shared by the library's own ops (csrc/ops.cpp) and the emulated
// CUDA kernels' (csrc/cuda/emulation/extension/emulated_ops.cpp), which take the same arguments.
//
// jet_forward returns the packed jet [components, N, out] (components: value, D tangents, then
// the Laplacian or the packed upper-triangular Hessian) and, when `save`, the pre-activation jet
// of every sine layer, which jet_backward takes back. With laplacian_weights a (D numbers; order 2
// without the Hessian), the Laplacian component is sum_k a_k d2/dx_k^2; jet_backward takes the same a.
// With directions (R x D numbers, flattened) and top_weights (M x R), the jet is directional, of order 2
// to 4 (csrc/taylor_jet.h): the value, the R directions' derivatives below the order, then M weighted
// sums of their derivatives of the order; jet_backward takes the same directions and weights.
//
// Every backward op takes input_grad (whether x needs its gradient) and parameter_grads (whether each
// weight, then each bias, needs its own; None: all): a gradient not asked for comes back empty, and
// its work is skipped (jet_args.h, GradRequest).
//
// modulated_jet_forward / modulated_jet_backward are the jet of a modulated SIREN: shared weights and
// biases, and each hidden layer l's pre-activation z modulated as gamma_l z + beta_l before the sine
// (shifts[l] = beta_l, scales[l] = gamma_l or scales empty), per network (x [B, N, D], shifts [B, width])
// or per point (x [N, D], shifts [N, width]); see csrc/modulation_args.h. The backward returns the
// gradients of x, the weights, the biases, the shifts and the scales.
#pragma once

#define SIREN_JET_FORWARD_SIGNATURE                                                                          \
  "(Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, int order, bool hessian, bool outermost_linear, " \
  "bool save, float[]? laplacian_weights=None, float[]? directions=None, float[]? top_weights=None) "           \
  "-> (Tensor, Tensor[])"
#define SIREN_JET_BACKWARD_SIGNATURE                                                                            \
  "(Tensor grad_out, Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, int order, bool hessian, "    \
  "bool outermost_linear, Tensor[] saved, bool input_grad, float[]? laplacian_weights=None, "                   \
  "float[]? directions=None, float[]? top_weights=None, bool[]? parameter_grads=None) "                         \
  "-> (Tensor, Tensor[], Tensor[])"

#define SIREN_MODULATED_JET_FORWARD_SIGNATURE                                                                \
  "(Tensor x, Tensor[] weights, Tensor[] biases, Tensor[] shifts, Tensor[] scales, float[] omegas, int order, " \
  "bool hessian, bool outermost_linear, bool save, float[]? laplacian_weights=None) -> (Tensor, Tensor[])"
#define SIREN_MODULATED_JET_BACKWARD_SIGNATURE                                                                  \
  "(Tensor grad_out, Tensor x, Tensor[] weights, Tensor[] biases, Tensor[] shifts, Tensor[] scales, "           \
  "float[] omegas, int order, bool hessian, bool outermost_linear, Tensor[] saved, bool input_grad, "           \
  "float[]? laplacian_weights=None, bool[]? parameter_grads=None) "                                             \
  "-> (Tensor, Tensor[], Tensor[], Tensor[], Tensor[])"
