#include "jet_args.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "jet_layout.h"
#include "taylor_jet.h"

namespace siren_fused {

int64_t JetArgs::max_width() const {
  int64_t width = x.size(-1);
  for (const auto& w : weights) width = std::max({width, w.size(-2), w.size(-1)});
  return width;
}

int64_t JetArgs::tile_rows() const { return jet_tile_rows(spec.components(), max_width()); }

std::vector<int64_t> JetArgs::batch_shape(std::vector<int64_t> shape) const {
  if (batched) shape.insert(shape.begin(), networks);
  return shape;
}

std::vector<at::Tensor> JetArgs::of_network(const std::vector<at::Tensor>& tensors, int64_t b) const {
  std::vector<at::Tensor> parts;
  for (const at::Tensor& tensor : tensors) parts.push_back(of_network(tensor, b));
  return parts;
}

JetArgs JetArgs::network(int64_t b) const {
  if (!batched) return *this;
  JetArgs one = *this;
  one.batched = false;
  one.networks = 1;
  one.shared_parameters = false;
  one.x = one.caller_x = of_network(x, b);
  if (!shared_parameters) {  // shared ones are every network's already
    one.weights = one.caller_weights = of_network(weights, b);
    one.biases = one.caller_biases = of_network(biases, b);
  }
  return one;
}

namespace {

void check_finite(c10::ArrayRef<double> numbers, const char* name) {
  for (const double a : numbers) TORCH_CHECK(std::isfinite(a), name, " must be finite, got ", numbers);
}

// A directional jet's spec and constants (JetArgs::taylor_constants) from its directions [R, D] and
// top weights [M, R], both flattened.
void check_taylor_constants(JetArgs& args, c10::ArrayRef<double> directions,
                            std::optional<c10::ArrayRef<double>> top_weights, bool hessian, const at::Tensor& x) {
  const int64_t in_dims = args.spec.in_dims;
  const auto direction_numbers = static_cast<int64_t>(directions.size());
  TORCH_CHECK(!hessian && !args.spec.weighted_laplacian,
              "directions cannot be combined with hessian=True or laplacian_weights");
  TORCH_CHECK(in_dims >= 1 && direction_numbers % in_dims == 0 && direction_numbers >= in_dims &&
                  direction_numbers <= kMaxTaylorDirections * in_dims,
              "directions must hold R x D numbers (D = ", in_dims, " input dimensions, 1 <= R <= ",
              kMaxTaylorDirections, "), got ", direction_numbers);
  check_finite(directions, "directions");
  const int64_t count = direction_numbers / in_dims;
  const c10::ArrayRef<double> top = top_weights.value_or(c10::ArrayRef<double>{});
  const auto top_numbers = static_cast<int64_t>(top.size());
  TORCH_CHECK(top_numbers % count == 0 && top_numbers <= kMaxTaylorTopFields * count,
              "top_weights must hold M x R numbers (R = ", count, " directions, 0 <= M <= ", kMaxTaylorTopFields,
              "), got ", top_numbers);
  check_finite(top, "top_weights");
  args.spec.directions = count;
  args.spec.top_fields = top_numbers / count;
  std::vector<double> constants(top.begin(), top.end());
  constants.insert(constants.end(), directions.begin(), directions.end());
  // A few hundred bytes, copied to x's device once a call.
  args.taylor_constants = at::tensor(constants, at::dtype(at::kDouble)).to(x.device(), x.scalar_type());
}

}  // namespace

JetArgs check_jet_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                       c10::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear,
                       std::optional<c10::ArrayRef<double>> laplacian_weights,
                       std::optional<c10::ArrayRef<double>> directions,
                       std::optional<c10::ArrayRef<double>> top_weights) {
  if (directions.has_value()) {
    TORCH_CHECK(order >= 2 && order <= kMaxTaylorOrder, "a directional jet (directions given) needs order 2 to ",
                kMaxTaylorOrder, ", got order=", order);
  } else {
    TORCH_CHECK(order >= 0 && order <= 2, "order must be 0, 1 or 2, got ", order,
                " (orders 3 and 4 need directions)");
    TORCH_CHECK(!top_weights.has_value(), "top_weights needs directions");
  }
  TORCH_CHECK(!hessian || order == 2, "hessian=True needs order=2, got order=", order);
  TORCH_CHECK(!weights.empty(), "weights must hold at least one layer");
  TORCH_CHECK(weights.size() == biases.size(), "weights and biases must have one entry per layer, got ",
              weights.size(), " weights and ", biases.size(), " biases");
  TORCH_CHECK(omegas.size() == weights.size(), "omegas must have one entry per layer (", weights.size(), "), got ",
              omegas.size());
  JetArgs args;
  // Batched networks are told by the first weight: [B, out, in] instead of [out, in].
  args.batched = weights[0].dim() == 3;
  args.networks = args.batched ? weights[0].size(0) : 1;
  TORCH_CHECK(args.networks >= 1, "weights[0] is [B, out, in] with B = 0: a batch of networks needs B >= 1");
  const int64_t batch_dims = args.batched ? 1 : 0;
  if (args.batched) {
    TORCH_CHECK(x.dim() == 3 && x.size(0) == args.networks, "x must be [B, N, in_features] with B = ", args.networks,
                " (the networks in weights[0]), got shape ", x.sizes());
  } else {
    TORCH_CHECK(x.dim() == 2, "x must be [N, in_features], got shape ", x.sizes());
  }
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "x must be float32 or float64, got ", x.scalar_type());
  const int64_t in_dims = x.size(-1);
  args.x = x.contiguous();
  args.caller_x = x;
  args.outermost_linear = outermost_linear;
  args.spec = JetSpec{in_dims, order, hessian, laplacian_weights.has_value()};
  if (laplacian_weights.has_value()) {
    TORCH_CHECK(order == 2 && !hessian, "laplacian_weights needs order=2 and hessian=False, got order=", order,
                " and hessian=", hessian);
    TORCH_CHECK(static_cast<int64_t>(laplacian_weights->size()) == in_dims,
                "laplacian_weights must have one entry per input dimension (", in_dims, "), got ",
                laplacian_weights->size());
    check_finite(*laplacian_weights, "laplacian_weights");
    // A [D] copy on x's device: a handful of bytes, copied once a call.
    args.laplacian_weights = at::tensor(*laplacian_weights, at::dtype(at::kDouble)).to(x.device(), x.scalar_type());
  }
  if (directions.has_value()) check_taylor_constants(args, *directions, top_weights, hessian, x);
  args.omegas.assign(omegas.begin(), omegas.end());
  const std::string batch = args.batched ? "B, " : "";
  int64_t width = in_dims;
  for (size_t l = 0; l < weights.size(); ++l) {
    const at::Tensor& w = weights[l];
    const at::Tensor& b = biases[l];
    TORCH_CHECK(w.dim() == 2 + batch_dims && w.size(-1) == width && (!args.batched || w.size(0) == args.networks),
                "weights[", l, "] must be [", batch, "out, ", width, "]", args.batched ? " with B = " : "",
                args.batched ? std::to_string(args.networks) : "", ", got shape ", w.sizes());
    const int64_t out = w.size(-2);
    TORCH_CHECK(b.dim() == 1 + batch_dims && b.size(-1) == out && (!args.batched || b.size(0) == args.networks),
                "biases[", l, "] must be [", batch, out, "]", args.batched ? " with B = " : "",
                args.batched ? std::to_string(args.networks) : "", ", got shape ", b.sizes());
    TORCH_CHECK(w.scalar_type() == x.scalar_type() && b.scalar_type() == x.scalar_type(), "weights[", l,
                "] and biases[", l, "] must have x's dtype ", x.scalar_type(), ", got ", w.scalar_type(), " and ",
                b.scalar_type());
    TORCH_CHECK(w.device() == x.device() && b.device() == x.device(), "weights[", l, "] and biases[", l,
                "] must be on x's device ", x.device(), ", got ", w.device(), " and ", b.device());
    args.weights.push_back(w.contiguous());
    args.biases.push_back(b.contiguous());
    args.caller_weights.push_back(w);
    args.caller_biases.push_back(b);
    width = out;
  }
  return args;
}

std::vector<std::vector<int64_t>> saved_shapes(const JetArgs& args) {
  const int64_t rows = args.tile_rows();
  const int64_t tiles = jet_tile_count(args.num_points(), rows);
  std::vector<std::vector<int64_t>> shapes;
  for (int64_t l = 0; l < args.layers(); ++l) {
    if (args.is_sine(l)) shapes.push_back(args.batch_shape({tiles, args.spec.components(), rows, args.out_width(l)}));
  }
  return shapes;
}

std::vector<at::Tensor> check_saved(at::TensorList saved, const std::vector<std::vector<int64_t>>& expected,
                                    const at::Tensor& x) {
  TORCH_CHECK(saved.size() == expected.size(), "saved must hold the ", expected.size(),
              " tensors the forward saved, got ", saved.size());
  std::vector<at::Tensor> checked;
  for (size_t i = 0; i < saved.size(); ++i) {
    TORCH_CHECK(saved[i].sizes() == at::IntArrayRef(expected[i]), "saved[", i, "] must be ",
                at::IntArrayRef(expected[i]), ", got ", saved[i].sizes());
    TORCH_CHECK(saved[i].scalar_type() == x.scalar_type() && saved[i].device() == x.device(), "saved[", i,
                "] must be ", x.scalar_type(), " on ", x.device(), ", got ", saved[i].scalar_type(), " on ",
                saved[i].device());
    checked.push_back(saved[i].contiguous());
  }
  return checked;
}

GradRequest check_grad_request(bool input_grad, const std::optional<c10::List<bool>>& parameter_grads,
                               int64_t layers) {
  GradRequest request{input_grad, std::vector<bool>(layers, true), std::vector<bool>(layers, true)};
  if (!parameter_grads.has_value()) return request;
  TORCH_CHECK(static_cast<int64_t>(parameter_grads->size()) == 2 * layers, "parameter_grads must hold ", 2 * layers,
              " flags (whether each of the ", layers, " weights, then each bias, needs its gradient), got ",
              parameter_grads->size());
  for (int64_t l = 0; l < layers; ++l) {
    request.weights[l] = parameter_grads->get(l);
    request.biases[l] = parameter_grads->get(layers + l);
  }
  return request;
}

int64_t GradRequest::lowest_layer(bool modulated) const {
  const auto layers = static_cast<int64_t>(weights.size());
  if (x || modulated) return 0;
  for (int64_t l = 0; l < layers; ++l) {
    if (weights[l] || biases[l]) return l;
  }
  return layers;
}

JetGrads zero_grads(const JetArgs& args, WeightGradStorage storage, const GradRequest& request) {
  JetGrads grads{at::zeros_like(args.x), {}, {}, args.caller_x, args.caller_weights, args.caller_biases};
  for (int64_t l = 0; l < args.layers(); ++l) {
    const at::Tensor& w = args.weights[l];
    std::vector<int64_t> transposed_shape = w.sizes().vec();
    std::swap(transposed_shape[w.dim() - 1], transposed_shape[w.dim() - 2]);
    at::Tensor weight_grad;
    if (request.weights[l]) {
      weight_grad = storage == WeightGradStorage::kTransposed
                        ? at::zeros(transposed_shape, w.options()).transpose(-1, -2)
                        : at::zeros_like(w);
    }
    grads.weights.push_back(weight_grad);
    grads.biases.push_back(request.biases[l] ? at::zeros_like(args.biases[l]) : at::Tensor());
  }
  return grads;
}

namespace {

// The strides torch.empty_like(like) has: like's own where like is non-overlapping and dense, else row-major.
std::vector<int64_t> empty_like_strides(const at::Tensor& like) {
  if (like.is_non_overlapping_and_dense()) return like.strides().vec();
  std::vector<int64_t> strides(like.dim());
  int64_t stride = 1;
  for (int64_t d = like.dim() - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= std::max<int64_t>(like.size(d), 1);
  }
  return strides;
}

// `grad` itself when its strides are already those, else a copy with them. Comparing strides, not
// is_contiguous(): a [1, 64] gradient with strides (1, 1) counts as contiguous, yet DDP and the fake
// kernels expect the parameter's (64, 1).
at::Tensor in_layout_of(const at::Tensor& grad, const at::Tensor& like) {
  if (!grad.defined()) return at::empty({0}, like.options());  // not asked for
  const std::vector<int64_t> strides = empty_like_strides(like);
  if (grad.strides() == at::IntArrayRef(strides)) return grad;
  return at::empty_strided(like.sizes(), strides, grad.options()).copy_(grad);
}

}  // namespace

std::vector<at::Tensor> in_layouts_of(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& like) {
  std::vector<at::Tensor> laid_out;
  for (size_t i = 0; i < grads.size(); ++i) laid_out.push_back(in_layout_of(grads[i], like[i]));
  return laid_out;
}

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> JetGrads::as_tuple() const {
  return {in_layout_of(x, x_like), in_layouts_of(weights, weights_like), in_layouts_of(biases, biases_like)};
}

}  // namespace siren_fused
