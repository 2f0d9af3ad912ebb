// The siren_fused operator library: schemas declared once, kernels registered per dispatch key.
// The pybind11 module is the extension's entry point; importing it registers the ops.
#include <torch/extension.h>
#include <torch/library.h>

#include "cpu/jet_cpu.h"
#include "cpu/reusable_buffers.h"
#include "cpu/sine_tile_kernels.h"
#include "jet_layout.h"
#include "jet_ops.h"
#include "jet_signatures.h"

// jet_forward / jet_backward and modulated_jet_forward / modulated_jet_backward: see jet_signatures.h.
//
// gradient_forward is the reverse-mode alternative for order 1 and one output (cheaper for D >= 2
// inputs; see csrc/cpu/gradient_cpu.cpp): it returns the value [N, 1], the gradient [N, D] and,
// when `save`, what gradient_backward takes back. modulated_gradient_forward / modulated_gradient_backward
// are the same for a modulated SIREN, whose shifts and scales (scales empty or shaped like the shifts) they
// take as modulated_jet_forward does; the backward also returns the shifts' and scales' gradients.
//
// The emulated CUDA kernels (cuda_emulated_jet_forward / cuda_emulated_jet_backward and the modulated pair,
// cuda_emulated_modulated_jet_forward / _backward, a test facility) are a separate extension,
// siren_fused._C_cuda_emulated, which adds them to this library when imported.
TORCH_LIBRARY(siren_fused, m) {
  m.def("jet_forward" SIREN_JET_FORWARD_SIGNATURE);
  m.def("jet_backward" SIREN_JET_BACKWARD_SIGNATURE);
  m.def("modulated_jet_forward" SIREN_MODULATED_JET_FORWARD_SIGNATURE);
  m.def("modulated_jet_backward" SIREN_MODULATED_JET_BACKWARD_SIGNATURE);
  m.def(
      "gradient_forward(Tensor x, Tensor[] weights, Tensor[] biases, float[] omegas, bool outermost_linear, "
      "bool save) -> (Tensor, Tensor, Tensor[])");
  m.def(
      "gradient_backward(Tensor grad_value, Tensor grad_grad, Tensor x, Tensor[] weights, Tensor[] biases, "
      "float[] omegas, bool outermost_linear, Tensor[] saved, bool input_grad, bool[]? parameter_grads=None) "
      "-> (Tensor, Tensor[], Tensor[])");
  m.def(
      "modulated_gradient_forward(Tensor x, Tensor[] weights, Tensor[] biases, Tensor[] shifts, Tensor[] scales, "
      "float[] omegas, bool outermost_linear, bool save) -> (Tensor, Tensor, Tensor[])");
  m.def(
      "modulated_gradient_backward(Tensor grad_value, Tensor grad_grad, Tensor x, Tensor[] weights, "
      "Tensor[] biases, Tensor[] shifts, Tensor[] scales, float[] omegas, bool outermost_linear, Tensor[] saved, "
      "bool input_grad, bool[]? parameter_grads=None) -> (Tensor, Tensor[], Tensor[], Tensor[], Tensor[])");
}

TORCH_LIBRARY_IMPL(siren_fused, CPU, m) {
  using CpuJetOps = siren_fused::JetOps<siren_fused::cpu::JetKernels>;
  m.impl("jet_forward", &CpuJetOps::jet_forward);
  m.impl("jet_backward", &CpuJetOps::jet_backward);
  m.impl("modulated_jet_forward", &CpuJetOps::modulated_jet_forward);
  m.impl("modulated_jet_backward", &CpuJetOps::modulated_jet_backward);
  m.impl("gradient_forward", &siren_fused::cpu::gradient_forward);
  m.impl("gradient_backward", &siren_fused::cpu::gradient_backward);
  m.impl("modulated_gradient_forward", &siren_fused::cpu::modulated_gradient_forward);
  m.impl("modulated_gradient_backward", &siren_fused::cpu::modulated_gradient_backward);
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
}
