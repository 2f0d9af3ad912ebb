// The siren_fused operator library: schemas declared once, kernels registered per dispatch key.
// The pybind11 module is the extension's entry point; importing it registers the ops.
#include <torch/extension.h>
#include <torch/library.h>

#include "cpu/jet_cpu.h"
#include "cpu/reusable_buffers.h"
#include "cpu/sine_tile_kernels.h"
#include "jet_layout.h"

// jet_forward returns the packed jet [components, N, out] (components: value, D tangents, then
// the Laplacian or the packed upper-triangular Hessian) and, when `save`, the pre-activation jet
// of every sine layer, which jet_backward takes back. With laplacian_weights a (D numbers; order 2
// without the Hessian), the Laplacian component is sum_k a_k d2/dx_k^2; jet_backward takes the same a.
// With directions (R x D numbers, flattened) and top_weights (M x R), the jet is directional, of order 2
// to 4 (csrc/taylor_jet.h): the value, the R directions' derivatives below the order, then M weighted
// sums of their derivatives of the order; jet_backward takes the same directions and weights.
//
// gradient_forward is the reverse-mode alternative for order 1 and one output (cheaper for D >= 2
// inputs; see csrc/cpu/gradient_cpu.cpp): it returns the value [N, 1], the gradient [N, D] and,
// when `save`, what gradient_backward takes back.
//
// modulated_jet_forward / modulated_jet_backward are the jet of a modulated SIREN: shared weights and
// biases, and each hidden layer l's pre-activation z modulated as gamma_l z + beta_l before the sine
// (shifts[l] = beta_l, scales[l] = gamma_l or scales empty), per network (x [B, N, D], shifts [B, width])
// or per point (x [N, D], shifts [N, width]); see csrc/modulation_args.h. The backward returns the
// gradients of x, the weights, the biases, the shifts and the scales.
//
// A build without CUDA also has cuda_emulated_jet_forward / cuda_emulated_jet_backward: the CUDA
// kernels run by the host emulation (csrc/cuda/emulation) on CPU tensors, with jet_forward's and
// jet_backward's signatures. They are a test facility, slow by design.
#define SIREN_JET_FORWARD_SIGNATURE                                                                          \
  "(Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, int order, bool hessian, bool outermost_linear, " \
  "bool save, float[]? laplacian_weights=None, float[]? directions=None, float[]? top_weights=None) "      \
  "-> (Tensor, Tensor[])"
#define SIREN_JET_BACKWARD_SIGNATURE                                                                            \
  "(Tensor grad_out, Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, int order, bool hessian, "     \
  "bool outermost_linear, Tensor[] saved, bool input_grad, float[]? laplacian_weights=None, "                   \
  "float[]? directions=None, float[]? top_weights=None) -> (Tensor, Tensor[], Tensor[])"

#define SIREN_MODULATED_JET_FORWARD_SIGNATURE                                                                \
  "(Tensor x, Tensor[] weights, Tensor[] biases, Tensor[] shifts, Tensor[] scales, float[] omegas, int order, "  \
  "bool hessian, bool outermost_linear, bool save, float[]? laplacian_weights=None) -> (Tensor, Tensor[])"
#define SIREN_MODULATED_JET_BACKWARD_SIGNATURE                                                                  \
  "(Tensor grad_out, Tensor x, Tensor[] weights, Tensor[] biases, Tensor[] shifts, Tensor[] scales, "           \
  "float[] omegas, int order, bool hessian, bool outermost_linear, Tensor[] saved, bool input_grad, "           \
  "float[]? laplacian_weights=None) -> (Tensor, Tensor[], Tensor[], Tensor[], Tensor[])"

TORCH_LIBRARY(siren_fused, m) {
  m.def("jet_forward" SIREN_JET_FORWARD_SIGNATURE);
  m.def("jet_backward" SIREN_JET_BACKWARD_SIGNATURE);
  m.def("modulated_jet_forward" SIREN_MODULATED_JET_FORWARD_SIGNATURE);
  m.def("modulated_jet_backward" SIREN_MODULATED_JET_BACKWARD_SIGNATURE);
#ifdef SIREN_FUSED_CUDA_EMULATED
  m.def("cuda_emulated_jet_forward" SIREN_JET_FORWARD_SIGNATURE);
  m.def("cuda_emulated_jet_backward" SIREN_JET_BACKWARD_SIGNATURE);
#endif
  m.def(
      "gradient_forward(Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, bool outermost_linear, "
      "bool save) -> (Tensor, Tensor, Tensor[])");
  m.def(
      "gradient_backward(Tensor grad_value, Tensor grad_grad, Tensor x, Tensor[] weights, Tensor[] biases, "
      "float[] omegas, bool outermost_linear, Tensor[] saved, bool input_grad) -> (Tensor, Tensor[], Tensor[])");
}

TORCH_LIBRARY_IMPL(siren_fused, CPU, m) {
  m.impl("jet_forward", &siren_fused::cpu::jet_forward);
  m.impl("jet_backward", &siren_fused::cpu::jet_backward);
  m.impl("modulated_jet_forward", &siren_fused::cpu::modulated_jet_forward);
  m.impl("modulated_jet_backward", &siren_fused::cpu::modulated_jet_backward);
  m.impl("gradient_forward", &siren_fused::cpu::gradient_forward);
  m.impl("gradient_backward", &siren_fused::cpu::gradient_backward);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "siren_fused kernels; the ops live in torch.ops.siren_fused";
  m.def("jet_tile_rows", &siren_fused::jet_tile_rows, "Rows per tile for a jet of `components` through layers "
        "at most `max_width` wide (the saved tensors' layout)", pybind11::arg("components"),
        pybind11::arg("max_width"));
  m.def("cpu_isa", &siren_fused::cpu::sine_tile_kernels_isa,
        "The build of the CPU tile kernels in use: 'avx2' or 'generic' (SIREN_FUSED_CPU_ISA=generic forces it)");
  m.def("empty_cache", &siren_fused::cpu::release_idle_buffers,
        "Free the idle CPU buffers the kernels keep to hand out again (saved jets, scratch)");
  m.attr("cuda_built") = static_cast<bool>(SIREN_FUSED_WITH_CUDA);  // 0 or 1, defined by setup.py
#ifdef SIREN_FUSED_CUDA_EMULATED
  m.attr("cuda_emulated") = true;
#else
  m.attr("cuda_emulated") = false;
#endif
}
