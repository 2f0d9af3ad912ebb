// The arguments every jet op takes, checked once: the torch glue of both the CPU and the CUDA
// kernels calls check_jet_args before touching a pointer.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/List.h>
#include <c10/util/ArrayRef.h>

#include <optional>
#include <tuple>
#include <vector>

#include "sine_jet.h"

namespace siren_fused {

// One network, or a batch of B networks (a hypernetwork's predictions): then every weight is
// [B, out_l, in_l], every bias [B, out_l] and x [B, N, D], network b seeing points x[b]; every output,
// saved tensor and gradient gains the same leading B. The CPU kernels take one network at a time
// (`network(b)`: views, no copies); the CUDA kernels take the whole batch, the network a grid
// dimension (csrc/cuda/jet_cuda.h).
struct JetArgs {
  at::Tensor x;  // [N, D] or [B, N, D], contiguous
  std::vector<at::Tensor> weights;  // [out_l, in_l] or [B, out_l, in_l], contiguous
  std::vector<at::Tensor> biases;   // [out_l] or [B, out_l], contiguous
  bool batched = false;
  int64_t networks = 1;  // B, or 1 for one network
  // A modulated SIREN's batch (modulation_args.h): x [B, N, D] while the weights and biases are one
  // network's, which the B networks share.
  bool shared_parameters = false;
  std::vector<double> omegas;       // one per layer; unused for a linear last layer
  bool outermost_linear;
  // The caller's x, weights and biases with their own strides: each gradient goes back in its tensor's layout.
  at::Tensor caller_x;
  std::vector<at::Tensor> caller_weights;
  std::vector<at::Tensor> caller_biases;
  JetSpec spec;
  // The weighted Laplacian's a_k: [D] in x's dtype on x's device where spec.weighted_laplacian,
  // else undefined.
  at::Tensor laplacian_weights;
  // A directional jet's constants (taylor_jet.h): the top weights [M, R] then the directions [R, D],
  // flattened, in x's dtype on x's device where spec.directional(), else undefined.
  at::Tensor taylor_constants;

  int64_t layers() const { return static_cast<int64_t>(weights.size()); }
  int64_t num_points() const { return x.size(-2); }
  int64_t in_width(int64_t l) const { return weights[l].size(-1); }
  int64_t out_width(int64_t l) const { return weights[l].size(-2); }
  bool is_sine(int64_t l) const { return !(outermost_linear && l == layers() - 1); }
  int64_t max_width() const;
  int64_t tile_rows() const;
  // `shape` of one network's tensor, with the leading B when batched: what the ops return.
  std::vector<int64_t> batch_shape(std::vector<int64_t> shape) const;
  // `tensor` (x, a weight or bias, an output) with the leading network dimension: itself when batched,
  // else viewed as a batch of B = 1.
  at::Tensor with_networks(const at::Tensor& tensor) const { return batched ? tensor : tensor.unsqueeze(0); }
  // Network b's part of `tensor`, a tensor with the leading B when batched (the tensor itself when not).
  at::Tensor of_network(const at::Tensor& tensor, int64_t b) const { return batched ? tensor.select(0, b) : tensor; }
  std::vector<at::Tensor> of_network(const std::vector<at::Tensor>& tensors, int64_t b) const;
  // Network b's arguments, unbatched: views of x[b], weights[l][b] and biases[l][b] (the weights and
  // biases themselves where the networks share them).
  JetArgs network(int64_t b) const;
  // laplacian_weights' data for the kernels, null when the Laplacian is not weighted.
  template <typename T>
  const T* laplacian_weights_data() const {
    return laplacian_weights.defined() ? laplacian_weights.data_ptr<T>() : nullptr;
  }
  // What the sine rule reads beside the spec: the weighted Laplacian's a_k, a directional jet's top
  // weights, or null.
  template <typename T>
  const T* rule_constants_data() const {
    return spec.directional() ? taylor_constants.data_ptr<T>() : laplacian_weights_data<T>();
  }
  // A directional jet's directions [R, D] (the input jet's tangents), null for the axes.
  template <typename T>
  const T* directions_data() const {
    return spec.directional() ? taylor_constants.data_ptr<T>() + spec.top_fields * spec.directions : nullptr;
  }
};

// Checks shapes (one network, or B >= 1 networks with x and every parameter batched alike), dtypes,
// devices, the derivative order, the Laplacian's weights (D finite numbers, order 2 without the
// Hessian) and a directional jet's directions (R x D finite numbers, 1 <= R <= kMaxTaylorDirections,
// order 2 to 4 without the Hessian or the Laplacian's weights) and top weights (M x R finite numbers,
// M <= kMaxTaylorTopFields), naming the offending argument.
JetArgs check_jet_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                       c10::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear,
                       std::optional<c10::ArrayRef<double>> laplacian_weights,
                       std::optional<c10::ArrayRef<double>> directions = std::nullopt,
                       std::optional<c10::ArrayRef<double>> top_weights = std::nullopt);

// Shapes of the tensors the forward saves for backward: one [tiles, components, tile_rows, width]
// pre-activation jet per sine layer ([B, tiles, ...] when batched).
std::vector<std::vector<int64_t>> saved_shapes(const JetArgs& args);

// The tensors a forward saved, handed back to its backward: checked against the shapes that forward
// saves, x's dtype and device, and made contiguous.
std::vector<at::Tensor> check_saved(at::TensorList saved, const std::vector<std::vector<int64_t>>& expected,
                                    const at::Tensor& x);

// The gradients a backward op is asked for: x's (its input_grad) and each weight's and bias's (its
// parameter_grads: the L weights' flags, then the L biases'; absent, all of them). autograd knows
// which parameters are frozen (ctx.needs_input_grad), and a frozen one's gradient is work for
// nothing: its GEMM is the costliest part of a layer's backward. A gradient not asked for comes
// back as an empty tensor ([0]) and the kernels skip what only it needs.
struct GradRequest {
  bool x = true;
  std::vector<bool> weights;
  std::vector<bool> biases;

  // The lowest layer whose pre-activation's gradient the backward needs (0 for x's, or for a modulated
  // SIREN, whose modulations need every hidden layer's; the layer count when none): a backward stops
  // there, as nothing below it is asked for.
  int64_t lowest_layer(bool modulated) const;
};
// The request of a backward op's input_grad and parameter_grads, checked against the layer count.
GradRequest check_grad_request(bool input_grad, const std::optional<c10::List<bool>>& parameter_grads,
                               int64_t layers);

// Gradients of x and of every weight and bias asked for, zeroed (those not asked for undefined): the
// backward kernels accumulate into them chunk by chunk, and x's stays zero unless asked for.
//
// The CPU kernels keep the weight gradients in transposed storage ([in, out] memory viewed as
// [out, in]), so that addmm_ has the BLAS write W^T: MKL's sgemm accumulates a narrow [256, D]
// first-layer gradient over 16K points about 4x faster that way (22 vs 5 ms, microbenchmark).
// `as_tuple` hands every gradient back in the layout of its tensor whichever storage was used.
enum class WeightGradStorage { kRowMajor, kTransposed };

struct JetGrads {
  // As the kernels accumulate them: x's and the biases' contiguous, the weights' in the chosen storage;
  // undefined where not asked for.
  at::Tensor x;
  std::vector<at::Tensor> weights;
  std::vector<at::Tensor> biases;
  // The tensors they are gradients of (JetArgs' caller_*), whose layouts as_tuple returns them in.
  at::Tensor x_like;
  std::vector<at::Tensor> weights_like;
  std::vector<at::Tensor> biases_like;

  // Every gradient with the strides torch.empty_like gives its tensor (what the fake kernels return): the
  // tensor's own strides where it is non-overlapping and dense, as autograd's gradient layout contract
  // asks (DistributedDataParallel copies every gradient that breaks it, and warns), else row-major. A
  // gradient not asked for is an empty tensor.
  std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> as_tuple() const;
};
JetGrads zero_grads(const JetArgs& args, WeightGradStorage storage, const GradRequest& request);

// Each gradient with the strides torch.empty_like gives its tensor in `like` (as_tuple's rule, for
// gradients outside JetGrads).
std::vector<at::Tensor> in_layouts_of(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& like);

}  // namespace siren_fused
