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
//
// A modulated SIREN (modulation_args.h) takes the same passes: hidden layer l's sine reads
// u_l = gamma_l z_l + beta_l, so the adjoint through it is a_l = f'(u_l) q_l with q_l = gamma_l p_l,
// and the rules above run unchanged on (u, q), which the forward saves in z's and p's places. The
// modulation's vector-Jacobian products follow the rules' (modulation_tile.h): upward, pbar_l =
// gamma_l qbar_l; downward, zbar_l = gamma_l ubar_l; the shift's gradient sums ubar, the scale's
// z ubar + p qbar, for which a scaled modulation also saves each hidden layer's unmodulated z and p.
#include <ATen/ATen.h>

#include <algorithm>

#include "../jet_args.h"
#include "../jet_layout.h"
#include "../modulation_args.h"
#include "jet_cpu.h"
#include "chunk_scheduler.h"
#include "modulation_tile.h"
#include "reusable_buffers.h"
#include "sine_tile_kernels.h"
#include "unit_gradients.h"

namespace siren_fused::cpu {

namespace {

// The jet arguments (check_jet_args or check_modulated_jet_args at order 1), checked for the reverse mode.
JetArgs checked_for_gradient(JetArgs args) {
  TORCH_CHECK(args.x.device().is_cpu(), "siren_fused CPU kernel got x on ", args.x.device());
  TORCH_CHECK(args.out_width(args.layers() - 1) == 1,
              "the reverse-mode gradient takes a net with one output (weights[-1] must be [1, in]), got weights[-1] "
              "of shape ", args.weights.back().sizes(), "; use jet_forward for several outputs");
  return args;
}

JetArgs check_gradient_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                            at::ArrayRef<double> omegas, bool outermost_linear) {
  return checked_for_gradient(check_jet_args(x, weights, biases, omegas, /*order=*/1, /*hessian=*/false,
                                             outermost_linear, /*laplacian_weights=*/std::nullopt));
}

JetArgs check_modulated_gradient_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                                      at::TensorList shifts, at::TensorList scales, at::ArrayRef<double> omegas,
                                      bool outermost_linear, Modulation& modulation) {
  return checked_for_gradient(check_modulated_jet_args(x, weights, biases, shifts, scales, omegas, /*order=*/1,
                                                       /*hessian=*/false, outermost_linear,
                                                       /*laplacian_weights=*/std::nullopt, modulation));
}

bool is_scaled(const Modulation* modulation) { return modulation != nullptr && modulation->scaled(); }

// Rows a chunk: a jet chunk's worth of elements of the widest layer.
int64_t chunk_rows(const JetArgs& args) { return std::max<int64_t>(64, kJetChunkElements / args.max_width()); }

// The saved tensors: z (modulated: u) of each sine layer, then p (modulated: q) of each layer below the
// last; with scales, then the unmodulated z and then p of each layer below the last (the hidden layers).
std::vector<std::vector<int64_t>> gradient_saved_shapes(const JetArgs& args, const Modulation* modulation) {
  std::vector<std::vector<int64_t>> shapes;
  for (int64_t l = 0; l < args.layers(); ++l) {
    if (args.is_sine(l)) shapes.push_back({args.num_points(), args.out_width(l)});
  }
  for (int pass = 0; pass < (is_scaled(modulation) ? 3 : 1); ++pass) {
    for (int64_t l = 0; l + 1 < args.layers(); ++l) shapes.push_back({args.num_points(), args.out_width(l)});
  }
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
  std::vector<at::Tensor> z;  // [rows, width_l] the sine's argument: z, or u where modulated (sine layers)
  std::vector<at::Tensor> p;  // [rows, width_l] the adjoint's input: p, or q where scaled (layers below the last)
  // With scales, the unmodulated z and p of the layers below the last.
  std::vector<at::Tensor> unmodulated_z;
  std::vector<at::Tensor> unmodulated_p;
};

// Views of rows [first, first + rows) of the saved tensors, laid out as gradient_saved_shapes.
LayerViews saved_views(const JetArgs& args, const Modulation* modulation, at::TensorList saved, int64_t first,
                       int64_t rows) {
  const auto layers = static_cast<size_t>(args.layers());
  LayerViews views{std::vector<at::Tensor>(layers), std::vector<at::Tensor>(layers), {}, {}};
  if (is_scaled(modulation)) {
    views.unmodulated_z.resize(layers);
    views.unmodulated_p.resize(layers);
  }
  size_t slot = 0;
  for (int64_t l = 0; l < args.layers(); ++l) {
    if (args.is_sine(l)) views.z[l] = saved[slot++].narrow(0, first, rows);
  }
  for (auto* below_last : {&views.p, &views.unmodulated_z, &views.unmodulated_p}) {
    if (below_last->empty()) continue;
    for (int64_t l = 0; l + 1 < args.layers(); ++l) (*below_last)[l] = saved[slot++].narrow(0, first, rows);
  }
  return views;
}

// A chunk's rows of one network of a modulated SIREN, or of a plain SIREN (modulation null).
struct ChunkModulation {
  const Modulation* modulation;
  int64_t network;

  bool modulates(int64_t l) const { return modulation != nullptr && modulation->modulates(l); }
  bool scales(int64_t l) const { return modulates(l) && modulation->scaled(); }
  // Layer l's modulation of the chunk's rows [first, first + rows) of its network's num_points.
  template <typename scalar_t>
  TileModulation<scalar_t> of(int64_t l, int64_t first, int64_t rows, int64_t num_points) const {
    return TileModulation<scalar_t>::of(*modulation, l, network, first, rows, num_points);
  }
};

// Rows [first, first + rows) of one network's forward, single-threaded: its value ([N, 1]) and gradient
// ([N, D]) rows, and the chunk's views of the saved tensors (or of a thread's scratch). h_buffers: two
// chunk-sized buffers of the thread's.
template <typename scalar_t>
void forward_chunk(const JetArgs& args, const ChunkModulation& modulation, int64_t first, int64_t rows,
                   const at::Tensor& value, const at::Tensor& grad, const LayerViews& views,
                   const at::Tensor& h_buffers) {
  const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
  const int64_t last = args.layers() - 1;
  auto buffer = [&](int i, int64_t width) { return h_buffers[i].narrow(0, 0, rows * width).view({rows, width}); };
  auto rows_modulation = [&](int64_t l) { return modulation.of<scalar_t>(l, first, rows, args.num_points()); };

  // Forward chain: z_l = h_{l-1} W_l^T + b_l, u_l = gamma_l z_l + beta_l where modulated (else z_l),
  // h_l = sin(omega_l u_l). A shift alone is added in place.
  at::Tensor h = args.x.narrow(0, first, rows);
  for (int64_t l = 0; l <= last; ++l) {
    const int64_t width = args.out_width(l);
    at::Tensor z = args.is_sine(l) ? views.z[l] : value.narrow(0, first, rows);
    at::Tensor unmodulated = modulation.scales(l) ? views.unmodulated_z[l] : z;
    at::addmm_out(unmodulated, args.biases[l], h, args.weights[l].t());
    if (modulation.modulates(l)) {
      modulate_value_rows(rows_modulation(l), width, unmodulated.data_ptr<scalar_t>(), z.data_ptr<scalar_t>());
    }
    if (!args.is_sine(l)) break;  // the linear last layer wrote the value
    h = l == last ? value.narrow(0, first, rows) : buffer(l % 2, width);
    rule.value(z.data_ptr<scalar_t>(), rows * width, static_cast<scalar_t>(args.omegas[l]), h.data_ptr<scalar_t>());
  }

  // Adjoint chain: a_l = f'(u_l) q_l from p_last = 1 down, q_l = gamma_l p_l where scaled (else p_l),
  // p_{l-1} = a_l W_l, grad = a_0 W_0.
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
    at::Tensor unmodulated = modulation.scales(l - 1) ? views.unmodulated_p[l - 1] : p;
    at::mm_out(unmodulated, a, args.weights[l]);
    if (modulation.scales(l - 1)) {
      modulate_derivative_rows(rows_modulation(l - 1), width, unmodulated.data_ptr<scalar_t>(), p.data_ptr<scalar_t>());
    }
    at::Tensor a_below = buffer(l % 2, width);
    rule.adjoint(views.z[l - 1].data_ptr<scalar_t>(), p.data_ptr<scalar_t>(), rows * width,
                 static_cast<scalar_t>(args.omegas[l - 1]), a_below.data_ptr<scalar_t>());
    a = a_below;
  }
  at::Tensor grad_rows = grad.narrow(0, first, rows);
  at::mm_out(grad_rows, a, args.weights[0]);
}

// The parameter gradients a chunk of one network adds into (views; undefined where not asked for, which
// skips their GEMMs), and that network's x gradient.
struct ChunkGradients {
  std::vector<at::Tensor> weights;  // [out, in] each, transposed storage
  std::vector<at::Tensor> biases;
  at::Tensor x;  // the network's [N, D]
  // A modulated SIREN's, per hidden layer, at the modulation's row stride (modulation_tile.h): the
  // network's [width] sum, or the chunk's [rows, width] rows per point. scales: empty without scales.
  std::vector<at::Tensor> shifts;
  std::vector<at::Tensor> scales;
};

// Rows [first, first + rows) of one network's backward, single-threaded, from the upstream gradients
// grad_value ([N, 1]) and grad_grad ([N, D]) of the network. abar_store: [layers, chunk * max width] and
// work: [4, chunk * max width], the thread's scratch. The downward sweep stops at layer `lowest`, below which
// nothing is asked for (GradRequest::lowest_layer); the upward one cannot: every weight's gradient reads it.
template <typename scalar_t>
void backward_chunk(const JetArgs& args, const ChunkModulation& modulation, int64_t first, int64_t rows,
                    const at::Tensor& grad_value, const at::Tensor& grad_grad, const LayerViews& views,
                    bool input_grad, int64_t lowest, const ChunkGradients& grads, const at::Tensor& abar_store,
                    const at::Tensor& work) {
  const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
  const int64_t last = args.layers() - 1;
  auto matrix = [&](const at::Tensor& store, int64_t i, int64_t width) {
    return store[i].narrow(0, 0, rows * width).view({rows, width});
  };
  auto rows_modulation = [&](int64_t l) { return modulation.of<scalar_t>(l, first, rows, args.num_points()); };
  const at::Tensor ones = at::ones({rows, 1}, args.x.options());
  auto p_of = [&](int64_t l) { return l == last ? ones : views.p[l]; };

  // Upward through the adjoint chain's backward, from grad = a_0 W_0: abar_l = pbar_{l-1} W_l^T,
  // then qbar_l = f'(u_l) abar_l, pbar_l = gamma_l qbar_l where scaled (else qbar_l), and W_l's gradient
  // gets a_l^T pbar_{l-1}.
  at::Tensor pbar = grad_grad.narrow(0, first, rows);
  for (int64_t l = 0; l <= last; ++l) {
    if (!args.is_sine(l)) {  // linear last layer: a = 1, and nothing depends on its abar
      if (grads.weights[l].defined()) grads.weights[l].add_(pbar.sum(0, /*keepdim=*/true));
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
    if (grads.weights[l].defined()) grads.weights[l].addmm_(a.t(), pbar);
    if (modulation.scales(l)) {
      modulation_derivative_vjp_rows(rows_modulation(l), width, views.unmodulated_p[l].data_ptr<scalar_t>(),
                                     pbar_next.data_ptr<scalar_t>(), grads.scales[l].data_ptr<scalar_t>());
    }
    pbar = pbar_next;
  }

  // Downward through the forward chain's backward: ubar_l = f'(u_l) hbar_l + f''(u_l) q_l abar_l,
  // zbar_l = gamma_l ubar_l where scaled (else ubar_l), hbar_{l-1} = zbar_l W_l, and W_l's gradient gets
  // zbar_l^T h_{l-1}.
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
    if (grads.biases[l].defined()) grads.biases[l].add_(zbar.sum(0));
    if (l == 0) {
      if (grads.weights[0].defined()) grads.weights[0].addmm_(zbar.t(), args.x.narrow(0, first, rows));
      if (input_grad) grads.x.narrow(0, first, rows).copy_(at::mm(zbar, args.weights[0]));
      break;
    }
    const int64_t width = args.out_width(l - 1);
    const at::Tensor h = matrix(work, (zbar_slot + 2) % 4, width);
    if (l - 1 < lowest) {  // nothing below: layer l's input h alone, for its weight's gradient
      if (grads.weights[l].defined()) {
        rule.value(views.z[l - 1].data_ptr<scalar_t>(), rows * width, static_cast<scalar_t>(args.omegas[l - 1]),
                   h.data_ptr<scalar_t>());
        grads.weights[l].addmm_(zbar.t(), h);
      }
      break;
    }
    at::Tensor hbar = matrix(work, (zbar_slot + 1) % 4, width);
    at::mm_out(hbar, zbar, args.weights[l]);
    const at::Tensor zbar_below = matrix(work, (zbar_slot + 3) % 4, width);
    const at::Tensor abar = matrix(abar_store, l - 1, width);
    rule.value_vjp(views.z[l - 1].data_ptr<scalar_t>(), hbar.data_ptr<scalar_t>(), views.p[l - 1].data_ptr<scalar_t>(),
                   abar.data_ptr<scalar_t>(), rows * width,
                   static_cast<scalar_t>(args.omegas[l - 1]), h.data_ptr<scalar_t>(), zbar_below.data_ptr<scalar_t>());
    if (modulation.modulates(l - 1)) {
      const bool scaled = modulation.scales(l - 1);
      modulation_value_vjp_rows(rows_modulation(l - 1), width,
                                scaled ? views.unmodulated_z[l - 1].data_ptr<scalar_t>() : nullptr,
                                zbar_below.data_ptr<scalar_t>(), grads.shifts[l - 1].data_ptr<scalar_t>(),
                                scaled ? grads.scales[l - 1].data_ptr<scalar_t>() : nullptr);
    }
    if (grads.weights[l].defined()) grads.weights[l].addmm_(zbar.t(), h);
    zbar = zbar_below;
    zbar_slot = (zbar_slot + 3) % 4;
  }
}

// The forward of one network, a batch of networks, or a modulated SIREN (`modulation` not null).
std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> forward(const JetArgs& args, const Modulation* modulation,
                                                                    bool save) {
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
  for (const auto& shape : gradient_saved_shapes(args, modulation)) {
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
      const LayerViews views =
          save ? saved_views(net, modulation, args.of_network(saved, chunk.network), chunk.first, chunk.count)
               : saved_views(net, modulation, scratch[worker], 0, chunk.count);
      forward_chunk<scalar_t>(net, {modulation, chunk.network}, chunk.first, chunk.count,
                              args.of_network(value, chunk.network), args.of_network(grad, chunk.network), views,
                              h_buffers[worker]);
    });
  });
  return {value, grad, saved};
}

// The backward of one network, a batch of networks, or a modulated SIREN (`modulation` not null, and
// modulation_grads then its gradients, zeroed, to fill).
// A parameter gradient not in `request` is left undefined, and its GEMMs skipped.
JetGrads backward(const JetArgs& args, const Modulation* modulation, const ModulationGrads& modulation_grads,
                  const at::Tensor& grad_value_in, const at::Tensor& grad_grad_in, at::TensorList saved_in,
                  const GradRequest& request) {
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
  for (const auto& shape : gradient_saved_shapes(args, modulation)) saved_shapes.push_back(args.batch_shape(shape));
  const std::vector<at::Tensor> saved = check_saved(saved_in, saved_shapes, args.x);
  const at::Tensor grad_value = grad_value_in.contiguous(), grad_grad = grad_grad_in.contiguous();
  const JetGrads grads = zero_grads(args, WeightGradStorage::kTransposed, request);
  const std::vector<Chunk> chunks = row_chunks(args);
  if (chunks.empty()) return grads;
  const WorkUnits units(static_cast<int64_t>(chunks.size()), at::get_num_threads());
  const int64_t workers = worker_count(units.count());
  // Per-network modulation gradients are summed over a network's chunks like its bias's; per-point ones
  // are each one row's, which the chunk writes in place.
  const int64_t hidden = modulation ? static_cast<int64_t>(modulation->shifts.size()) : 0;
  const std::vector<at::Tensor> summed_modulation_grads =
      ModulationGrads::summed_per_network(modulation, modulation_grads);
  const UnitGradients unit_grads(args, grads, chunks, units, summed_modulation_grads);
  const int64_t lowest = request.lowest_layer(modulation != nullptr);
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
        ChunkGradients target{{}, {}, args.of_network(grads.x, b), {}, {}};
        for (int64_t l = 0; l < args.layers(); ++l) {
          target.weights.push_back(unit_grads.weight(u, chunk, l));
          target.biases.push_back(unit_grads.bias(u, chunk, l));
        }
        // Modulation gradient k: the shifts', then the scales'.
        for (int64_t k = 0; k < static_cast<int64_t>(summed_modulation_grads.size()); ++k) {
          (k < hidden ? target.shifts : target.scales).push_back(unit_grads.modulation(u, chunk, k));
        }
        for (int64_t l = 0; l < hidden && modulation->per_point; ++l) {  // the chunk's rows
          target.shifts.push_back(modulation_grads.shifts[l].narrow(0, chunk.first, chunk.count));
          if (modulation->scaled()) {
            target.scales.push_back(modulation_grads.scales[l].narrow(0, chunk.first, chunk.count));
          }
        }
        backward_chunk<scalar_t>(net, {modulation, b}, chunk.first, chunk.count, args.of_network(grad_value, b),
                                 args.of_network(grad_grad, b),
                                 saved_views(net, modulation, args.of_network(saved, b), chunk.first, chunk.count),
                                 request.x, lowest, target, abar_stores[worker], works[worker]);
      }
    });
  });
  unit_grads.reduce();
  return grads;
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gradient_forward(
    const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::ArrayRef<double> omegas,
    bool outermost_linear, bool save) {
  return forward(check_gradient_args(x, weights, biases, omegas, outermost_linear), nullptr, save);
}

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> gradient_backward(
    const at::Tensor& grad_value, const at::Tensor& grad_grad, const at::Tensor& x, at::TensorList weights,
    at::TensorList biases, at::ArrayRef<double> omegas, bool outermost_linear, at::TensorList saved,
    bool input_grad, const std::optional<c10::List<bool>>& parameter_grads) {
  const JetArgs args = check_gradient_args(x, weights, biases, omegas, outermost_linear);
  const GradRequest request = check_grad_request(input_grad, parameter_grads, args.layers());
  return backward(args, nullptr, {}, grad_value, grad_grad, saved, request).as_tuple();
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> modulated_gradient_forward(
    const at::Tensor& x, at::TensorList weights, at::TensorList biases, at::TensorList shifts, at::TensorList scales,
    at::ArrayRef<double> omegas, bool outermost_linear, bool save) {
  Modulation modulation;
  const JetArgs args =
      check_modulated_gradient_args(x, weights, biases, shifts, scales, omegas, outermost_linear, modulation);
  return forward(args, &modulation, save);
}

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<at::Tensor>,
           std::vector<at::Tensor>>
modulated_gradient_backward(const at::Tensor& grad_value, const at::Tensor& grad_grad, const at::Tensor& x,
                            at::TensorList weights, at::TensorList biases, at::TensorList shifts,
                            at::TensorList scales, at::ArrayRef<double> omegas, bool outermost_linear,
                            at::TensorList saved, bool input_grad,
                            const std::optional<c10::List<bool>>& parameter_grads) {
  Modulation modulation;
  const JetArgs args =
      check_modulated_gradient_args(x, weights, biases, shifts, scales, omegas, outermost_linear, modulation);
  const GradRequest request = check_grad_request(input_grad, parameter_grads, args.layers());
  const ModulationGrads modulation_grads = ModulationGrads::zeros_for(modulation);
  const auto [grad_x, grad_weights, grad_biases] =
      backward(args, &modulation, modulation_grads, grad_value, grad_grad, saved, request).as_tuple();
  const auto [grad_shifts, grad_scales] = modulation_grads.in_caller_layouts(modulation);
  return {grad_x, grad_weights, grad_biases, grad_shifts, grad_scales};
}

}  // namespace siren_fused::cpu
