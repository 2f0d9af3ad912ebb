// CPU implementations of the siren_fused ops (schemas in csrc/ops.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>
#include <vector>

namespace siren_fused::cpu {

std::tuple<at::Tensor, std::vector<at::Tensor>> jet_forward(const at::Tensor& x, at::TensorList weights,
                                                            at::TensorList biases, at::ArrayRef<double> omegas,
                                                            int64_t order, bool hessian, bool outermost_linear,
                                                            bool save,
                                                            std::optional<at::ArrayRef<double>> laplacian_weights,
                                                            std::optional<at::ArrayRef<double>> directions,
                                                            std::optional<at::ArrayRef<double>> top_weights);

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> jet_backward(
    const at::Tensor& grad_out, const at::Tensor& x, at::TensorList weights, at::TensorList biases,
    at::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear, at::TensorList saved,
    bool input_grad, std::optional<at::ArrayRef<double>> laplacian_weights,
    std::optional<at::ArrayRef<double>> directions, std::optional<at::ArrayRef<double>> top_weights);

// The jet of a modulated SIREN (csrc/modulation_args.h): jet_forward's outputs, and jet_backward's gradients
// followed by those of the shifts and the scales.
std::tuple<at::Tensor, std::vector<at::Tensor>> modulated_jet_forward(
    const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::TensorList shifts, at::TensorList scales,
    at::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear, bool save,
    std::optional<at::ArrayRef<double>> laplacian_weights);

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<at::Tensor>,
           std::vector<at::Tensor>>
modulated_jet_backward(const at::Tensor& grad_out, const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                       at::TensorList shifts, at::TensorList scales, at::ArrayRef<double> omegas, int64_t order,
                       bool hessian, bool outermost_linear, at::TensorList saved, bool input_grad,
                       std::optional<at::ArrayRef<double>> laplacian_weights);

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gradient_forward(
    const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::ArrayRef<double> omegas,
    bool outermost_linear, bool save);

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> gradient_backward(
    const at::Tensor& grad_value, const at::Tensor& grad_grad, const at::Tensor& x, at::TensorList weights,
    at::TensorList biases, at::ArrayRef<double> omegas, bool outermost_linear, at::TensorList saved,
    bool input_grad);

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
                            at::TensorList saved, bool input_grad);

}  // namespace siren_fused::cpu
