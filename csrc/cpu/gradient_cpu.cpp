// Reverse-mode gradient of a one-output SIREN on the CPU, and its backward (sine_adjoint_tile.h
// has the math). For the value and the D-dim gradient, forward mode carries 1 + D components
// through every layer: 1 + D GEMMs a layer forward and 2 (1 + D) backward. Reverse mode needs 2
// forward (the layer and its adjoint) and 4 backward, whatever D is, so it is the cheaper way to
// train through first derivatives (Poisson from gradients, Eikonal SDF losses) once D >= 2.
//
// Points are independent, so both passes run a chunk of rows at a time, each thread whole chunks
// with a single-threaded BLAS and scratch the size of one chunk, in one parallel region a call
// (chunk_scheduler.h); the backward sums parameter gradients per work unit (unit_gradients.h).
// The forward saves, for the backward, every sine layer's pre-activation z and every hidden
// layer's adjoint input p, as whole-batch [N, width] tensors.
#include <ATen/ATen.h>

#include <algorithm>

#include "../jet_args.h"
#include "../jet_layout.h"
#include "jet_cpu.h"
#include "chunk_scheduler.h"
#include "reusable_buffers.h"
#include "sine_tile_kernels.h"
#include "unit_gradients.h"

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

// Every network's rows, chunk_rows(args) at a time.
std::vector<Chunk> row_chunks(const JetArgs& args) {
  const int64_t n = args.num_points(), rows = chunk_rows(args);
  std::vector<Chunk> chunks;
  for (int64_t b = 0; b < args.networks; ++b) {
    for (int64_t first = 0; first < n; first += rows) chunks.push_back({b, 1, first, std::min(rows, n - first)});
  }
  return chunks;
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

// Rows [first, first + rows) of one network's forward, single-threaded: its value ([N, 1]) and gradient
// ([N, D]) rows, and the chunk's views of the saved tensors (or of a thread's scratch). h_buffers: two
// chunk-sized buffers of the thread's.
template <typename scalar_t>
void forward_chunk(const JetArgs& args, int64_t first, int64_t rows, const at::Tensor& value, const at::Tensor& grad,
                   const LayerViews& views, const at::Tensor& h_buffers) {
  const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
  const int64_t last = args.layers() - 1;
  auto buffer = [&](int i, int64_t width) { return h_buffers[i].narrow(0, 0, rows * width).view({rows, width}); };

  // Forward chain: z_l = h_{l-1} W_l^T + b_l, h_l = sin(omega_l z_l).
  at::Tensor h = args.x.narrow(0, first, rows);
  for (int64_t l = 0; l <= last; ++l) {
    const int64_t width = args.out_width(l);
    at::Tensor z = args.is_sine(l) ? views.z[l] : value.narrow(0, first, rows);
    at::addmm_out(z, args.biases[l], h, args.weights[l].t());
    if (!args.is_sine(l)) break;  // the linear last layer wrote the value
    h = l == last ? value.narrow(0, first, rows) : buffer(l % 2, width);
    rule.value(z.data_ptr<scalar_t>(), rows * width, static_cast<scalar_t>(args.omegas[l]), h.data_ptr<scalar_t>());
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
    rule.adjoint(views.z[l - 1].data_ptr<scalar_t>(), p.data_ptr<scalar_t>(), rows * width,
                 static_cast<scalar_t>(args.omegas[l - 1]), a_below.data_ptr<scalar_t>());
    a = a_below;
  }
  at::Tensor grad_rows = grad.narrow(0, first, rows);
  at::mm_out(grad_rows, a, args.weights[0]);
}

// The parameter gradients a chunk of one network adds into (views), and that network's x gradient.
struct ChunkGradients {
  std::vector<at::Tensor> weights;  // [out, in] each, transposed storage
  std::vector<at::Tensor> biases;
  at::Tensor x;  // the network's [N, D]
};

// Rows [first, first + rows) of one network's backward, single-threaded, from the upstream gradients
// grad_value ([N, 1]) and grad_grad ([N, D]) of the network. abar_store: [layers, chunk * max width] and
// work: [4, chunk * max width], the thread's scratch.
template <typename scalar_t>
void backward_chunk(const JetArgs& args, int64_t first, int64_t rows, const at::Tensor& grad_value,
                    const at::Tensor& grad_grad, const LayerViews& views, bool input_grad, const ChunkGradients& grads,
                    const at::Tensor& abar_store, const at::Tensor& work) {
  const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
  const int64_t last = args.layers() - 1;
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
    const at::Tensor p = p_of(l);
    rule.adjoint_vjp(views.z[l].data_ptr<scalar_t>(), p.data_ptr<scalar_t>(), abar.data_ptr<scalar_t>(),
                     rows * width, static_cast<scalar_t>(args.omegas[l]), a.data_ptr<scalar_t>(),
                     pbar_next.data_ptr<scalar_t>());
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
    const at::Tensor abar_last = matrix(abar_store, last, 1);
    rule.value_vjp(views.z[last].data_ptr<scalar_t>(), grad_value.data_ptr<scalar_t>() + first,
                   ones.data_ptr<scalar_t>(), abar_last.data_ptr<scalar_t>(), rows,
                   static_cast<scalar_t>(args.omegas[last]), unused_h.data_ptr<scalar_t>(), zbar.data_ptr<scalar_t>());
  }
  for (int64_t l = last; l >= 0; --l) {
    grads.biases[l].add_(zbar.sum(0));
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
    const at::Tensor abar = matrix(abar_store, l - 1, width);
    rule.value_vjp(views.z[l - 1].data_ptr<scalar_t>(), hbar.data_ptr<scalar_t>(), views.p[l - 1].data_ptr<scalar_t>(),
                   abar.data_ptr<scalar_t>(), rows * width,
                   static_cast<scalar_t>(args.omegas[l - 1]), h.data_ptr<scalar_t>(), zbar_below.data_ptr<scalar_t>());
    grads.weights[l].addmm_(zbar.t(), h);
    zbar = zbar_below;
    zbar_slot = (zbar_slot + 3) % 4;
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gradient_forward(
    const at::Tensor& x_in, at::TensorList weights, at::TensorList biases, at::ArrayRef<double> omegas,
    bool outermost_linear, bool save) {
  const JetArgs args = check_gradient_args(x_in, weights, biases, omegas, outermost_linear);
  const int64_t n = args.num_points();
  at::Tensor value = at::empty(args.batch_shape({n, 1}), args.x.options());
  at::Tensor grad = at::empty(args.batch_shape({n, args.spec.in_dims}), args.x.options());
  // Without save, whole-batch "saved" tensors would be scratch the size of the batch: each thread
  // uses chunk-sized ones instead.
  const std::vector<Chunk> chunks = row_chunks(args);
  const int64_t workers = worker_count(static_cast<int64_t>(chunks.size()));
  const int64_t rows = std::min(chunk_rows(args), std::max<int64_t>(n, 1));
  std::vector<at::Tensor> saved;
  std::vector<std::vector<at::Tensor>> scratch(workers);
  for (const auto& shape : gradient_saved_shapes(args)) {
    if (save) saved.push_back(reusable_empty(args.batch_shape(shape), args.x.options()));
    for (int64_t w = 0; w < workers && !save; ++w) scratch[w].push_back(reusable_empty({rows, shape[1]}, args.x.options()));
  }
  if (chunks.empty()) return {value, grad, saved};
  std::vector<at::Tensor> h_buffers;
  for (int64_t w = 0; w < workers; ++w) h_buffers.push_back(at::empty({2, rows * args.max_width()}, args.x.options()));
  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_gradient_forward_cpu", [&] {
    for_each_item(static_cast<int64_t>(chunks.size()), workers, [&](int64_t c, int64_t worker) {
      const Chunk& chunk = chunks[c];
      const JetArgs net = args.network(chunk.network);
      const LayerViews views = save ? saved_views(net, args.of_network(saved, chunk.network), chunk.first, chunk.count)
                                    : saved_views(net, scratch[worker], 0, chunk.count);
      forward_chunk<scalar_t>(net, chunk.first, chunk.count, args.of_network(value, chunk.network),
                              args.of_network(grad, chunk.network), views, h_buffers[worker]);
    });
  });
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
  const std::vector<Chunk> chunks = row_chunks(args);
  if (chunks.empty()) return grads.as_tuple();
  const WorkUnits units(static_cast<int64_t>(chunks.size()), at::get_num_threads());
  const int64_t workers = worker_count(units.count());
  const UnitGradients unit_grads(args, grads, chunks, units);
  // A thread's scratch: abar of every layer lives from the upward sweep to the downward one; a and pbar alternate.
  const int64_t rows = std::min(chunk_rows(args), n);
  std::vector<at::Tensor> abar_stores, works;
  for (int64_t w = 0; w < workers; ++w) {
    abar_stores.push_back(at::empty({args.layers(), rows * args.max_width()}, args.x.options()));
    works.push_back(at::empty({4, rows * args.max_width()}, args.x.options()));
  }
  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_gradient_backward_cpu", [&] {
    for_each_item(units.count(), workers, [&](int64_t u, int64_t worker) {
      for (int64_t c = units.begin[u]; c < units.begin[u + 1]; ++c) {
        const Chunk& chunk = chunks[c];
        const int64_t b = chunk.network;
        const JetArgs net = args.network(b);
        ChunkGradients target{{}, {}, args.of_network(grads.x, b)};
        for (int64_t l = 0; l < args.layers(); ++l) {
          target.weights.push_back(unit_grads.weight(u, chunk, l).select(0, 0));
          target.biases.push_back(unit_grads.bias(u, chunk, l).select(0, 0));
        }
        backward_chunk<scalar_t>(net, chunk.first, chunk.count, args.of_network(grad_value, b),
                                 args.of_network(grad_grad, b),
                                 saved_views(net, args.of_network(saved, b), chunk.first, chunk.count), input_grad,
                                 target, abar_stores[worker], works[worker]);
      }
    });
  });
  unit_grads.reduce();
  return grads.as_tuple();
}

}  // namespace siren_fused::cpu
