// The shift and scale gradients of a modulated SIREN's backward on the CPU (the forward-mode jet's and
// the reverse-mode gradient's): zeroed tensors shaped like the modulations that the kernels add into,
// handed back in the layouts of the caller's tensors.
#pragma once

#include <ATen/ATen.h>

#include <utility>
#include <vector>

#include "../jet_args.h"
#include "../modulation_args.h"

namespace siren_fused::cpu {

struct ModulationGrads {
  std::vector<at::Tensor> shifts;  // one per hidden layer, contiguous: [B, width] or [N, width]
  std::vector<at::Tensor> scales;  // the same shapes, or empty without scales

  static ModulationGrads zeros_for(const Modulation& modulation) {
    ModulationGrads grads;
    for (const at::Tensor& shift : modulation.shifts) grads.shifts.push_back(at::zeros_like(shift));
    for (const at::Tensor& scale : modulation.scales) grads.scales.push_back(at::zeros_like(scale));
    return grads;
  }

  // What a backward sums over each network's rows like the network's bias gradient (UnitGradients'
  // modulation_grads): the shifts' then the scales' gradients, per network; none per point (or without a
  // modulation), where each row is one point's and written in place.
  static std::vector<at::Tensor> summed_per_network(const Modulation* modulation, const ModulationGrads& grads) {
    if (modulation == nullptr || modulation->per_point) return {};
    std::vector<at::Tensor> summed = grads.shifts;
    summed.insert(summed.end(), grads.scales.begin(), grads.scales.end());
    return summed;
  }

  // The gradients as the ops return them: each with the strides torch.empty_like gives its tensor.
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> in_caller_layouts(const Modulation& modulation) const {
    return {in_layouts_of(shifts, modulation.caller_shifts), in_layouts_of(scales, modulation.caller_scales)};
  }
};

}  // namespace siren_fused::cpu
