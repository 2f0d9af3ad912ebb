// The entry point of siren_fused._C_cuda_emulated, the CUDA kernels built for the host emulation (a test
// facility, built when SIREN_FUSED_CUDA_EMULATION=1): importing it adds their ops (the jet's and the
// modulated jet's, forward and backward) to the siren_fused library beside the CPU kernels'. jet_cuda.cpp
// registers their CPU implementations.
#include <torch/extension.h>
#include <torch/library.h>

#include "../../../jet_signatures.h"

TORCH_LIBRARY_FRAGMENT(siren_fused, m) {
  m.def("cuda_emulated_jet_forward" SIREN_JET_FORWARD_SIGNATURE);
  m.def("cuda_emulated_jet_backward" SIREN_JET_BACKWARD_SIGNATURE);
  m.def("cuda_emulated_modulated_jet_forward" SIREN_MODULATED_JET_FORWARD_SIGNATURE);
  m.def("cuda_emulated_modulated_jet_backward" SIREN_MODULATED_JET_BACKWARD_SIGNATURE);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "siren_fused's CUDA kernels run by the host emulation; the ops live in torch.ops.siren_fused";
}
