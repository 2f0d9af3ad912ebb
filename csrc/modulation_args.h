// The modulations of a modulated SIREN (FiLM: y = sin(omega (gamma (W h + b) + beta)) in each hidden
// layer, sine_jet.h), checked once for the modulated jet ops.
//
// The layers' weights and biases are one network's, shared; the modulations say what differs:
// * per network: x [B, N, D], each layer's shift (and scale) [B, width], network b's points x[b];
//   the kernels run the B networks as one batch whose GEMMs have every network's rows at once;
// * per point: x [N, D], each layer's shift (and scale) [N, width], one network.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "jet_args.h"

namespace siren_fused {

struct Modulation {
  // One per hidden layer (every layer but the last), contiguous: [B, width] or [N, width].
  std::vector<at::Tensor> shifts;
  // The same shapes, or empty: no scales (gamma = 1).
  std::vector<at::Tensor> scales;
  bool per_point = false;
  // The caller's tensors, whose layouts the gradients come back in.
  std::vector<at::Tensor> caller_shifts;
  std::vector<at::Tensor> caller_scales;

  bool modulates(int64_t layer) const { return layer < static_cast<int64_t>(shifts.size()); }
  bool scaled() const { return !scales.empty(); }
};

// A modulated SIREN's shift and scale gradients (the forward-mode jet's and the reverse-mode gradient's,
// on the CPU and on CUDA): zeroed tensors shaped like the modulations that the kernels add into, handed
// back in the layouts of the caller's tensors.
struct ModulationGrads {
  std::vector<at::Tensor> shifts;  // one per hidden layer, contiguous: [B, width] or [N, width]
  std::vector<at::Tensor> scales;  // the same shapes, or empty without scales

  static ModulationGrads zeros_for(const Modulation& modulation);

  // What a CPU backward sums over each network's rows like the network's bias gradient (UnitGradients'
  // modulation_grads): the shifts' then the scales' gradients, per network; none per point (or without a
  // modulation), where each row is one point's and written in place.
  static std::vector<at::Tensor> summed_per_network(const Modulation* modulation, const ModulationGrads& grads);

  // The gradients as the ops return them: each with the strides torch.empty_like gives its tensor.
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> in_caller_layouts(const Modulation& modulation) const;
};

// What the modulated jet backward op returns: the gradients of x, the weights and the biases
// (JetGrads::as_tuple), then of the shifts and the scales, each in its tensor's layout.
using ModulatedJetGradsTuple = std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>,
                                          std::vector<at::Tensor>, std::vector<at::Tensor>>;
ModulatedJetGradsTuple modulated_grads_tuple(const JetGrads& grads, const ModulationGrads& modulation_grads,
                                             const Modulation& modulation);

// The jet op's arguments (args.shared_parameters set where x has the networks' leading B) and the
// modulation, with errors naming the argument and the shape or dtype expected.
JetArgs check_modulated_jet_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                                 at::TensorList shifts, at::TensorList scales, c10::ArrayRef<double> omegas,
                                 int64_t order, bool hessian, bool outermost_linear,
                                 std::optional<c10::ArrayRef<double>> laplacian_weights, Modulation& modulation);

}  // namespace siren_fused
