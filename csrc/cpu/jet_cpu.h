// CPU implementations of the siren_fused ops (schemas in csrc/ops.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>
#include <vector>

#include "../jet_args.h"
#include "../modulation_args.h"

namespace siren_fused::cpu {

// The forward-mode jet's kernel set (csrc/jet_ops.h, which defines the ops' entry points over it): one
// network, a batch of networks, or a modulated SIREN (`modulation` not null; the backward fills
// modulation_grads, zeroed, with its shifts' and scales' gradients).
struct JetKernels {
  static void check(const JetArgs&) {}  // the shared checks are all the CPU kernels need
  static std::tuple<at::Tensor, std::vector<at::Tensor>> forward(const JetArgs& args, const Modulation* modulation,
                                                                 bool save);
  static JetGrads backward(const JetArgs& args, const Modulation* modulation, const ModulationGrads& modulation_grads,
                           const at::Tensor& grad_out, at::TensorList saved, const GradRequest& request);
};

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gradient_forward(
    const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::ArrayRef<double> omegas,
    bool outermost_linear, bool save);

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> gradient_backward(
    const at::Tensor& grad_value, const at::Tensor& grad_grad, const at::Tensor& x, at::TensorList weights,
    at::TensorList biases, at::ArrayRef<double> omegas, bool outermost_linear, at::TensorList saved,
    bool input_grad, const std::optional<c10::List<bool>>& parameter_grads);

// The reverse-mode gradient of a modulated SIREN (csrc/modulation_args.h): gradient_forward's outputs, and
// gradient_backward's gradients followed by those of the shifts and the scales.
std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> modulated_gradient_forward(
    const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::TensorList shifts, at::TensorList scales,
    at::ArrayRef<double> omegas, bool outermost_linear, bool save);

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<at::Tensor>,
           std::vector<at::Tensor>>
modulated_gradient_backward(const at::Tensor& grad_value, const at::Tensor& grad_grad, const at::Tensor& x,
                            at::TensorList weights, at::TensorList biases, at::TensorList shifts,
                            at::TensorList scales, at::ArrayRef<double> omegas, bool outermost_linear,
                            at::TensorList saved, bool input_grad,
                            const std::optional<c10::List<bool>>& parameter_grads);

}  // namespace siren_fused::cpu
