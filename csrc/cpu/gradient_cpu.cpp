// Reverse-mode gradient of a one-output SIREN on the CPU, and its backward (sine_adjoint_tile.h
// has the math). For the value and the D-dim gradient, forward mode carries 1 + D components
// through every layer: 1 + D GEMMs a layer forward and 2 (1 + D) backward. Reverse mode needs 2
// forward (the layer and its adjoint) and 4 backward, whatever D is, so it is the cheaper way to
// train through first derivatives (Poisson from gradients, Eikonal SDF losses) once D >= 2.
//
// Points are independent, so both passes run a chunk of rows at a time: GEMMs big enough for
// every core, elementwise passes threaded over the chunk, and scratch the size of one chunk.
// The forward saves, for the backward, every sine layer's pre-activation z and every hidden
// layer's adjoint input p, as whole-batch [N, width] tensors.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "../jet_args.h"
#include "../jet_layout.h"
#include "jet_cpu.h"
#include "reusable_buffers.h"
#include "sine_tile_kernels.h"

namespace siren_fused::cpu {

namespace {

JetArgs check_gradient_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                            at::ArrayRef<double> omegas, bool outermost_linear) {
  JetArgs args = check_jet_args(x, weights, biases, omegas, /*order=*/1, /*hessian=*/false, outermost_linear,
                                /*laplacian_weights=*/std::nullopt);
  TORCH_CHECK(args.x.device().is_cpu(), "siren_fused CPU kernel got x on ", args.x.device());
  TORCH_CHECK(args.out_width(args.layers() - 1) == 1,
              "the reverse-mode gradient takes a net with one output (weights[-1] must be [1, in]), got weights[-1] "
              "of shape ", args.weights.back().sizes(), "; use jet_forward for several outputs");
  return args;
}

// Rows a chunk: a jet chunk's worth of elements of the widest layer.
int64_t chunk_rows(const JetArgs& args) { return std::max<int64_t>(64, kJetChunkElements / args.max_width()); }

// The saved tensors: z of each sine layer, then p of each layer below the last.
std::vector<std::vector<int64_t>> gradient_saved_shapes(const JetArgs& args) {
  std::vector<std::vector<int64_t>> shapes;
  for (int64_t l = 0; l < args.layers(); ++l) {
    if (args.is_sine(l)) shapes.push_back({args.num_points(), args.out_width(l)});
  }
  for (int64_t l = 0; l + 1 < args.layers(); ++l) shapes.push_back({args.num_points(), args.out_width(l)});
  return shapes;
}

// Runs an elementwise pass fn(offset, count) over `elements` contiguous elements, threaded.
template <typename Fn>
void parallel_elements(int64_t elements, const Fn& fn) {
  constexpr int64_t kGrain = 16384;
  at::parallel_for(0, elements, kGrain, [&](int64_t begin, int64_t end) { fn(begin, end - begin); });
}

// One layer's per-chunk tensors, either views of the saved whole-batch tensors or scratch.
struct LayerViews {
  std::vector<at::Tensor> z;  // [rows, width_l] pre-activation (defined for sine layers)
  std::vector<at::Tensor> p;  // [rows, width_l] adjoint input (layers below the last)
};

// Views of rows [first, first + rows) of the saved tensors, laid out as gradient_saved_shapes.
LayerViews saved_views(const JetArgs& args, at::TensorList saved, int64_t first, int64_t rows) {
  LayerViews views{std::vector<at::Tensor>(args.layers()), std::vector<at::Tensor>(args.layers())};
  size_t slot = 0;
  for (int64_t l = 0; l < args.layers(); ++l) {
    if (args.is_sine(l)) views.z[l] = saved[slot++].narrow(0, first, rows);
  }
  for (int64_t l = 0; l + 1 < args.layers(); ++l) views.p[l] = saved[slot++].narrow(0, first, rows);
  return views;
}

// One network's forward: its value [N, 1] and gradient [N, D], and `saved` (whole-batch tensors when
// `save`, else chunk-sized scratch).
void forward_network(const JetArgs& args, const at::Tensor& value, const at::Tensor& grad,
                     const std::vector<at::Tensor>& saved, bool save) {
  const int64_t n = args.num_points(), last = args.layers() - 1;
  const int64_t chunk = std::min(chunk_rows(args), std::max<int64_t>(n, 1));
  if (n == 0) return;
  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_gradient_forward_cpu", [&] {
    const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
    at::Tensor h_buffers = reusable_empty({2, chunk * args.max_width()}, args.x.options());
    for (int64_t first = 0; first < n; first += chunk) {
      const int64_t rows = std::min(chunk, n - first);
      const LayerViews views = saved_views(args, saved, save ? first : 0, rows);
      auto buffer = [&](int i, int64_t width) { return h_buffers[i].narrow(0, 0, rows * width).view({rows, width}); };

      // Forward chain: z_l = h_{l-1} W_l^T + b_l, h_l = sin(omega_l z_l).
      at::Tensor h = args.x.narrow(0, first, rows);
      for (int64_t l = 0; l <= last; ++l) {
        const int64_t width = args.out_width(l);
        at::Tensor z = args.is_sine(l) ? views.z[l] : value.narrow(0, first, rows);
        at::addmm_out(z, args.biases[l], h, args.weights[l].t());
        if (!args.is_sine(l)) break;  // the linear last layer wrote the value
        h = l == last ? value.narrow(0, first, rows) : buffer(l % 2, width);
        const scalar_t* zp = z.data_ptr<scalar_t>();
        scalar_t* hp = h.data_ptr<scalar_t>();
        const auto omega = static_cast<scalar_t>(args.omegas[l]);
        parallel_elements(rows * width, [&](int64_t o, int64_t c) { rule.value(zp + o, c, omega, hp + o); });
      }

      // Adjoint chain: a_l = f'(z_l) p_l from p_last = 1 down, p_{l-1} = a_l W_l, grad = a_0 W_0.
      at::Tensor a = at::ones({rows, 1}, args.x.options());  // a linear last layer's a is p_last = 1
      if (args.is_sine(last)) {
        const at::Tensor p_last = a;
        a = buffer(0, 1);
        rule.adjoint(views.z[last].data_ptr<scalar_t>(), p_last.data_ptr<scalar_t>(), rows,
                     static_cast<scalar_t>(args.omegas[last]), a.data_ptr<scalar_t>());
      }
      for (int64_t l = last; l >= 1; --l) {
        const int64_t width = args.out_width(l - 1);
        at::Tensor p = views.p[l - 1];
        at::mm_out(p, a, args.weights[l]);
        at::Tensor a_below = buffer(l % 2, width);
        const scalar_t* zp = views.z[l - 1].data_ptr<scalar_t>();
        const scalar_t* pp = p.data_ptr<scalar_t>();
        scalar_t* ap = a_below.data_ptr<scalar_t>();
        const auto omega = static_cast<scalar_t>(args.omegas[l - 1]);
        parallel_elements(rows * width, [&](int64_t o, int64_t c) { rule.adjoint(zp + o, pp + o, c, omega, ap + o); });
        a = a_below;
      }
      at::Tensor grad_rows = grad.narrow(0, first, rows);
      at::mm_out(grad_rows, a, args.weights[0]);
    }
  });
}

// One network's backward: accumulates into `grads` (that network's, zeroed).
void backward_network(const JetArgs& args, const at::Tensor& grad_value, const at::Tensor& grad_grad,
                      const std::vector<at::Tensor>& saved, bool input_grad, JetGrads& grads) {
  const int64_t n = args.num_points(), last = args.layers() - 1;
  if (n == 0) return;
  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_gradient_backward_cpu", [&] {
    const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
    const int64_t chunk = std::min(chunk_rows(args), n);
    const int64_t width_max = args.max_width();
    // abar of every layer lives from the upward sweep to the downward one; a and pbar alternate.
    at::Tensor abar_store = reusable_empty({args.layers(), chunk * width_max}, args.x.options());
    at::Tensor work = reusable_empty({4, chunk * width_max}, args.x.options());
    for (int64_t first = 0; first < n; first += chunk) {
      const int64_t rows = std::min(chunk, n - first);
      const LayerViews views = saved_views(args, saved, first, rows);
      auto matrix = [&](const at::Tensor& store, int64_t i, int64_t width) {
        return store[i].narrow(0, 0, rows * width).view({rows, width});
      };
      const at::Tensor ones = at::ones({rows, 1}, args.x.options());
      auto p_of = [&](int64_t l) { return l == last ? ones : views.p[l]; };

      // Upward through the adjoint chain's backward, from grad = a_0 W_0: abar_l = pbar_{l-1} W_l^T,
      // then pbar_l = f'(z_l) abar_l, and W_l's gradient gets a_l^T pbar_{l-1}.
      at::Tensor pbar = grad_grad.narrow(0, first, rows);
      for (int64_t l = 0; l <= last; ++l) {
        if (!args.is_sine(l)) {  // linear last layer: a = 1, and nothing depends on its abar
          grads.weights[l].add_(pbar.sum(0, /*keepdim=*/true));
          break;
        }
        const int64_t width = args.out_width(l);
        at::Tensor abar = matrix(abar_store, l, width);
        at::mm_out(abar, pbar, args.weights[l].t());
        const at::Tensor a = matrix(work, 2 * (l % 2), width);
        const at::Tensor pbar_next = matrix(work, 2 * (l % 2) + 1, width);
        const scalar_t* zp = views.z[l].data_ptr<scalar_t>();
        const scalar_t* pp = p_of(l).data_ptr<scalar_t>();
        const scalar_t* abp = abar.data_ptr<scalar_t>();
        scalar_t* ap = a.data_ptr<scalar_t>();
        scalar_t* pbp = pbar_next.data_ptr<scalar_t>();
        const auto omega = static_cast<scalar_t>(args.omegas[l]);
        parallel_elements(rows * width, [&](int64_t o, int64_t c) {
          rule.adjoint_vjp(zp + o, pp + o, abp + o, c, omega, ap + o, pbp + o);
        });
        grads.weights[l].addmm_(a.t(), pbar);
        pbar = pbar_next;
      }

      // Downward through the forward chain's backward: zbar_l = f'(z_l) hbar_l + f''(z_l) p_l abar_l,
      // hbar_{l-1} = zbar_l W_l, and W_l's gradient gets zbar_l^T h_{l-1}.
      // zbar sits in work slot `zbar_slot`; each layer takes the other three, in rotation.
      int zbar_slot = 0;
      at::Tensor zbar = grad_value.narrow(0, first, rows);
      if (args.is_sine(last)) {
        zbar = matrix(work, zbar_slot, 1);
        const at::Tensor unused_h = matrix(work, zbar_slot + 1, 1);
        rule.value_vjp(views.z[last].data_ptr<scalar_t>(), grad_value.data_ptr<scalar_t>() + first,
                       ones.data_ptr<scalar_t>(), matrix(abar_store, last, 1).data_ptr<scalar_t>(), rows,
                       static_cast<scalar_t>(args.omegas[last]), unused_h.data_ptr<scalar_t>(),
                       zbar.data_ptr<scalar_t>());
      }
      for (int64_t l = last; l >= 0; --l) {
        grads.biases[l] += zbar.sum(0);
        if (l == 0) {
          grads.weights[0].addmm_(zbar.t(), args.x.narrow(0, first, rows));
          if (input_grad) grads.x.narrow(0, first, rows).copy_(at::mm(zbar, args.weights[0]));
          break;
        }
        const int64_t width = args.out_width(l - 1);
        at::Tensor hbar = matrix(work, (zbar_slot + 1) % 4, width);
        at::mm_out(hbar, zbar, args.weights[l]);
        const at::Tensor h = matrix(work, (zbar_slot + 2) % 4, width);
        const at::Tensor zbar_below = matrix(work, (zbar_slot + 3) % 4, width);
        const scalar_t* zp = views.z[l - 1].data_ptr<scalar_t>();
        const scalar_t* hbp = hbar.data_ptr<scalar_t>();
        const scalar_t* pp = views.p[l - 1].data_ptr<scalar_t>();
        const scalar_t* abp = matrix(abar_store, l - 1, width).data_ptr<scalar_t>();
        scalar_t* hp = h.data_ptr<scalar_t>();
        scalar_t* zbp = zbar_below.data_ptr<scalar_t>();
        const auto omega = static_cast<scalar_t>(args.omegas[l - 1]);
        parallel_elements(rows * width, [&](int64_t o, int64_t c) {
          rule.value_vjp(zp + o, hbp + o, pp + o, abp + o, c, omega, hp + o, zbp + o);
        });
        grads.weights[l].addmm_(zbar.t(), h);
        zbar = zbar_below;
        zbar_slot = (zbar_slot + 3) % 4;
      }
    }
  });
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gradient_forward(
    const at::Tensor& x_in, at::TensorList weights, at::TensorList biases, at::ArrayRef<double> omegas,
    bool outermost_linear, bool save) {
  const JetArgs args = check_gradient_args(x_in, weights, biases, omegas, outermost_linear);
  const int64_t n = args.num_points();
  at::Tensor value = at::empty(args.batch_shape({n, 1}), args.x.options());
  at::Tensor grad = at::empty(args.batch_shape({n, args.spec.in_dims}), args.x.options());
  // Without save, whole-batch "saved" tensors would be scratch the size of the batch: use
  // chunk-sized ones instead, shared by the networks.
  const int64_t chunk = std::min(chunk_rows(args), std::max<int64_t>(n, 1));
  std::vector<at::Tensor> saved, scratch;
  for (const auto& shape : gradient_saved_shapes(args)) {
    if (save) {
      saved.push_back(reusable_empty(args.batch_shape(shape), args.x.options()));
    } else {
      scratch.push_back(reusable_empty({chunk, shape[1]}, args.x.options()));
    }
  }
  for (int64_t b = 0; b < args.networks; ++b) {
    forward_network(args.network(b), args.of_network(value, b), args.of_network(grad, b),
                    save ? args.of_network(saved, b) : scratch, save);
  }
  return {value, grad, saved};
}

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> gradient_backward(
    const at::Tensor& grad_value_in, const at::Tensor& grad_grad_in, const at::Tensor& x_in, at::TensorList weights,
    at::TensorList biases, at::ArrayRef<double> omegas, bool outermost_linear, at::TensorList saved_in,
    bool input_grad) {
  const JetArgs args = check_gradient_args(x_in, weights, biases, omegas, outermost_linear);
  const int64_t n = args.num_points(), dims = args.spec.in_dims;
  const std::vector<int64_t> value_shape = args.batch_shape({n, 1}), grad_shape = args.batch_shape({n, dims});
  TORCH_CHECK(grad_value_in.sizes() == at::IntArrayRef(value_shape) &&
                  grad_value_in.scalar_type() == args.x.scalar_type(),
              "grad_value must be ", at::IntArrayRef(value_shape), " of ", args.x.scalar_type(), ", got ",
              grad_value_in.sizes(), " of ", grad_value_in.scalar_type());
  TORCH_CHECK(grad_grad_in.sizes() == at::IntArrayRef(grad_shape) && grad_grad_in.scalar_type() == args.x.scalar_type(),
              "grad_grad must be ", at::IntArrayRef(grad_shape), " of ", args.x.scalar_type(), ", got ",
              grad_grad_in.sizes(), " of ", grad_grad_in.scalar_type());
  std::vector<std::vector<int64_t>> saved_shapes;
  for (const auto& shape : gradient_saved_shapes(args)) saved_shapes.push_back(args.batch_shape(shape));
  const std::vector<at::Tensor> saved = check_saved(saved_in, saved_shapes, args.x);
  const at::Tensor grad_value = grad_value_in.contiguous(), grad_grad = grad_grad_in.contiguous();
  const JetGrads grads = zero_grads(args, WeightGradStorage::kTransposed);
  for (int64_t b = 0; b < args.networks; ++b) {
    JetGrads grads_b = grads.network(args, b);
    backward_network(args.network(b), args.of_network(grad_value, b), args.of_network(grad_grad, b),
                     args.of_network(saved, b), input_grad, grads_b);
  }
  return grads.as_tuple();
}

}  // namespace siren_fused::cpu
