#include "modulation_args.h"

#include <ATen/ATen.h>

#include <string>

namespace siren_fused {

namespace {

// Checks one list of modulations (`name`: "shifts" or "scales") and returns its contiguous tensors.
std::vector<at::Tensor> checked_modulations(const char* name, at::TensorList tensors, const JetArgs& args,
                                            bool per_point) {
  const int64_t hidden = args.layers() - 1;
  TORCH_CHECK(static_cast<int64_t>(tensors.size()) == hidden, name, " must have one tensor per hidden layer (",
              hidden, ": every layer but the last), got ", tensors.size());
  const int64_t rows = per_point ? args.num_points() : args.networks;
  const char* rows_name = per_point ? "N" : "B";
  std::vector<at::Tensor> checked;
  for (int64_t l = 0; l < hidden; ++l) {
    const at::Tensor& t = tensors[l];
    TORCH_CHECK(t.dim() == 2 && t.size(0) == rows && t.size(1) == args.out_width(l), name, "[", l, "] must be [",
                rows_name, ", ", args.out_width(l), "] with ", rows_name, " = ", rows,
                per_point ? " (one row per point of x [N, D])" : " (one row per network of x [B, N, D])",
                ", got shape ", t.sizes());
    TORCH_CHECK(t.scalar_type() == args.x.scalar_type() && t.device() == args.x.device(), name, "[", l,
                "] must have x's dtype ", args.x.scalar_type(), " on ", args.x.device(), ", got ", t.scalar_type(),
                " on ", t.device());
    checked.push_back(t.contiguous());
  }
  return checked;
}

}  // namespace

ModulationGrads ModulationGrads::zeros_for(const Modulation& modulation) {
  ModulationGrads grads;
  for (const at::Tensor& shift : modulation.shifts) grads.shifts.push_back(at::zeros_like(shift));
  for (const at::Tensor& scale : modulation.scales) grads.scales.push_back(at::zeros_like(scale));
  return grads;
}

std::vector<at::Tensor> ModulationGrads::summed_per_network(const Modulation* modulation,
                                                            const ModulationGrads& grads) {
  if (modulation == nullptr || modulation->per_point) return {};
  std::vector<at::Tensor> summed = grads.shifts;
  summed.insert(summed.end(), grads.scales.begin(), grads.scales.end());
  return summed;
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> ModulationGrads::in_caller_layouts(
    const Modulation& modulation) const {
  return {in_layouts_of(shifts, modulation.caller_shifts), in_layouts_of(scales, modulation.caller_scales)};
}

ModulatedJetGradsTuple modulated_grads_tuple(const JetGrads& grads, const ModulationGrads& modulation_grads,
                                             const Modulation& modulation) {
  const auto [grad_x, grad_weights, grad_biases] = grads.as_tuple();
  auto [grad_shifts, grad_scales] = modulation_grads.in_caller_layouts(modulation);
  return {grad_x, grad_weights, grad_biases, std::move(grad_shifts), std::move(grad_scales)};
}

JetArgs check_modulated_jet_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                                 at::TensorList shifts, at::TensorList scales, c10::ArrayRef<double> omegas,
                                 int64_t order, bool hessian, bool outermost_linear,
                                 std::optional<c10::ArrayRef<double>> laplacian_weights, Modulation& modulation) {
  TORCH_CHECK(x.dim() == 2 || x.dim() == 3,
              "x must be [N, in_features] (modulations per point) or [B, N, in_features] (per network), got shape ",
              x.sizes());
  TORCH_CHECK(x.dim() == 2 || x.size(0) >= 1, "x is [B, N, in_features] with B = 0: modulations need B >= 1");
  for (size_t l = 0; l < weights.size(); ++l) {
    TORCH_CHECK(weights[l].dim() == 2, "weights[", l, "] of a modulated SIREN must be one network's [out, in] (the "
                "networks share it), got shape ", weights[l].sizes());
  }
  // The parameters are checked as one network's, against one network's points.
  JetArgs args = check_jet_args(x.dim() == 3 ? x.select(0, 0) : x, weights, biases, omegas, order, hessian,
                                outermost_linear, laplacian_weights);
  if (x.dim() == 3) {
    args.x = x.contiguous();
    args.caller_x = x;
    args.batched = true;
    args.networks = x.size(0);
    args.shared_parameters = true;
  }
  TORCH_CHECK(args.layers() >= 2, "a modulated SIREN needs a hidden layer to modulate (at least 2 layers), got ",
              args.layers());
  modulation.per_point = x.dim() == 2;
  modulation.shifts = checked_modulations("shifts", shifts, args, modulation.per_point);
  modulation.caller_shifts.assign(shifts.begin(), shifts.end());
  if (!scales.empty()) {
    modulation.scales = checked_modulations("scales", scales, args, modulation.per_point);
    modulation.caller_scales.assign(scales.begin(), scales.end());
  }
  return args;
}

}  // namespace siren_fused
