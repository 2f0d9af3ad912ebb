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

// A modulated SIREN's shift and scale gradients, shaped like the modulations (contiguous).
struct ModulationGrads {
  std::vector<at::Tensor> shifts;
  std::vector<at::Tensor> scales;
};

// Zeroed, for the kernels to accumulate into.
ModulationGrads zero_modulation_grads(const Modulation& modulation);

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
