// The forward-mode jet ops' entry points (schemas in jet_signatures.h), one definition for every kernel
// set that implements them: the CPU kernels and the CUDA kernels (on a GPU or under the emulation). Each
// checks its arguments the shared way (jet_args.h, modulation_args.h) and hands them to the kernel set's
// forward or backward, which take one network, a batch of networks and a modulated SIREN alike.
//
// A kernel set is a type with
//   // What it adds to the shared checks (the CUDA kernels: the device and float32).
//   static void check(const JetArgs& args);
//   // The outputs (the packed jet) and, when `save`, the pre-activation jets; modulated where
//   // `modulation` is not null.
//   static std::tuple<at::Tensor, std::vector<at::Tensor>> forward(const JetArgs& args,
//                                                                  const Modulation* modulation, bool save);
//   // The gradients of x, the weights and the biases that `request` asks for (zero_grads); a modulated
//   // SIREN's shifts' and scales' into modulation_grads (zeroed by the caller).
//   static JetGrads backward(const JetArgs& args, const Modulation* modulation,
//                            const ModulationGrads& modulation_grads, const at::Tensor& grad_out,
//                            at::TensorList saved, const GradRequest& request);
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>
#include <tuple>
#include <vector>

#include "jet_args.h"
#include "modulation_args.h"

namespace siren_fused {

template <typename Kernels>
struct JetOps {
  static std::tuple<at::Tensor, std::vector<at::Tensor>> jet_forward(
      const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::ArrayRef<double> omegas, int64_t order,
      bool hessian, bool outermost_linear, bool save, std::optional<at::ArrayRef<double>> laplacian_weights,
      std::optional<at::ArrayRef<double>> directions, std::optional<at::ArrayRef<double>> top_weights) {
    const JetArgs args = check_jet_args(x, weights, biases, omegas, order, hessian, outermost_linear,
                                        laplacian_weights, directions, top_weights);
    Kernels::check(args);
    return Kernels::forward(args, nullptr, save);
  }

  static std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> jet_backward(
      const at::Tensor& grad_out, const at::Tensor& x, at::TensorList weights, at::TensorList biases,
      at::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear, at::TensorList saved,
      bool input_grad, std::optional<at::ArrayRef<double>> laplacian_weights,
      std::optional<at::ArrayRef<double>> directions, std::optional<at::ArrayRef<double>> top_weights,
      const std::optional<c10::List<bool>>& parameter_grads) {
    const JetArgs args = check_jet_args(x, weights, biases, omegas, order, hessian, outermost_linear,
                                        laplacian_weights, directions, top_weights);
    Kernels::check(args);
    const GradRequest request = check_grad_request(input_grad, parameter_grads, args.layers());
    return Kernels::backward(args, nullptr, {}, grad_out, saved, request).as_tuple();
  }

  static std::tuple<at::Tensor, std::vector<at::Tensor>> modulated_jet_forward(
      const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::TensorList shifts,
      at::TensorList scales, at::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear,
      bool save, std::optional<at::ArrayRef<double>> laplacian_weights) {
    Modulation modulation;
    const JetArgs args = check_modulated_jet_args(x, weights, biases, shifts, scales, omegas, order, hessian,
                                                  outermost_linear, laplacian_weights, modulation);
    Kernels::check(args);
    return Kernels::forward(args, &modulation, save);
  }

  static ModulatedJetGradsTuple modulated_jet_backward(
      const at::Tensor& grad_out, const at::Tensor& x, at::TensorList weights, at::TensorList biases,
      at::TensorList shifts, at::TensorList scales, at::ArrayRef<double> omegas, int64_t order, bool hessian,
      bool outermost_linear, at::TensorList saved, bool input_grad,
      std::optional<at::ArrayRef<double>> laplacian_weights, const std::optional<c10::List<bool>>& parameter_grads) {
    Modulation modulation;
    const JetArgs args = check_modulated_jet_args(x, weights, biases, shifts, scales, omegas, order, hessian,
                                                  outermost_linear, laplacian_weights, modulation);
    Kernels::check(args);
    const GradRequest request = check_grad_request(input_grad, parameter_grads, args.layers());
    const ModulationGrads modulation_grads = ModulationGrads::zeros_for(modulation);
    return modulated_grads_tuple(Kernels::backward(args, &modulation, modulation_grads, grad_out, saved, request),
                                 modulation_grads, modulation);
  }
};

}  // namespace siren_fused
