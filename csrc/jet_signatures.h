// The schemas of the forward-mode jet ops, shared by the library's own ops (csrc/ops.cpp) and the emulated
// CUDA kernels' (csrc/cuda/emulation/emulated_ops.cpp), which take the same arguments.
//
// jet_forward returns the packed jet [components, N, out] (components: value, D tangents, then
// the Laplacian or the packed upper-triangular Hessian) and, when `save`, the pre-activation jet
// of every sine layer, which jet_backward takes back. With laplacian_weights a (D numbers; order 2
// without the Hessian), the Laplacian component is sum_k a_k d2/dx_k^2; jet_backward takes the same a.
#pragma once

#define SIREN_JET_FORWARD_SIGNATURE                                                                          \
  "(Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, int order, bool hessian, bool outermost_linear, " \
  "bool save, float[]? laplacian_weights=None) -> (Tensor, Tensor[])"
#define SIREN_JET_BACKWARD_SIGNATURE                                                                            \
  "(Tensor grad_out, Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, int order, bool hessian, "     \
  "bool outermost_linear, Tensor[] saved, bool input_grad, float[]? laplacian_weights=None) "                   \
  "-> (Tensor, Tensor[], Tensor[])"
