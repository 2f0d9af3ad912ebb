// Backward of the forward jet on the CPU, a chunk of tiles at a time in reverse layer order. With
// gz_l the gradient of layer l's pre-activation jet, each layer l > 0 takes one GEMM to the
// gradient of its input jet (gz_l W_l), then one pass, a thread per tile, that evaluates the
// sines of the layer below once for two uses: its output jet, recomputed from the saved
// pre-activations (cheaper than storing it) for W_l's gradient, and the sine jet's
// vector-Jacobian product, which turns the input gradient into gz_{l-1} in place. The second GEMM
// is W_l's gradient. As in the forward, each thread takes whole chunks with a single-threaded BLAS
// in one parallel region a call; the parameter gradients are summed per work unit and the units in
// order (unit_gradients.h), so they do not depend on which thread ran what. A modulated SIREN's
// layers with scales modulate the saved jet into a scratch tile before the sine rule, and the
// modulation's vector-Jacobian product follows the rule's, summing the shift's and scale's gradients
// per tile. A shift alone is in the saved jet already (jet_forward_cpu.cpp), and its gradient is the
// bias's: the same column sums for a network, the value component's rows per point. A frozen layer
// (its weight's gradient not asked for) skips its weight-gradient GEMM and the input jet only that needs;
// below the lowest layer anything is asked of (x frozen, the lower layers too), nothing runs.
#include <ATen/ATen.h>

#include "jet_cpu.h"
#include "jet_tiles.h"
#include "modulation_tile.h"
#include "unit_gradients.h"

namespace siren_fused::cpu {

JetGrads JetKernels::backward(const JetArgs& args, const Modulation* modulation,
                              const ModulationGrads& modulation_grads, const at::Tensor& grad_out_in,
                              at::TensorList saved_in, const GradRequest& request) {
  const TilePlan plan(args);
  const std::vector<int64_t> out_shape =
      args.batch_shape({plan.components, plan.num_points, args.out_width(plan.last)});
  TORCH_CHECK(grad_out_in.sizes() == at::IntArrayRef(out_shape), "grad_out must be ", at::IntArrayRef(out_shape),
              ", got ", grad_out_in.sizes());
  TORCH_CHECK(grad_out_in.scalar_type() == args.x.scalar_type(), "grad_out must be ", args.x.scalar_type(), ", got ",
              grad_out_in.scalar_type());
  const std::vector<at::Tensor> saved = check_saved(saved_in, saved_shapes(args), args.x);
  const at::Tensor grad_out = grad_out_in.contiguous();
  // Row-major: the batched GEMMs below write their own products, which are added in.
  JetGrads grads = zero_grads(args, WeightGradStorage::kRowMajor, request);
  // Layer l's saved pre-activation jet is saved[sine_slot[l]].
  std::vector<int64_t> sine_slot(args.layers(), -1);
  for (int64_t l = 0, slot = 0; l <= plan.last; ++l) {
    if (args.is_sine(l)) sine_slot[l] = slot++;
  }
  if (plan.chunks.empty()) return grads;
  // Per-network modulation gradients are summed over a network's tiles like its bias's; per-point ones
  // are each one row's, which the tile pass writes in place.
  const bool network_modulation = modulation && !modulation->per_point;
  const int64_t hidden = modulation ? static_cast<int64_t>(modulation->shifts.size()) : 0;
  const std::vector<at::Tensor> summed_modulation_grads =
      ModulationGrads::summed_per_network(modulation, modulation_grads);
  // The backward stops at the lowest layer anything is asked of.
  const int64_t lowest = request.lowest_layer(modulation != nullptr);

  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_jet_backward_cpu", [&] {
    const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
    const scalar_t* rule_constants = args.rule_constants_data<scalar_t>();
    const scalar_t* input_directions = args.directions_data<scalar_t>();
    const int64_t largest_chunk = plan.largest_chunk();
    const int64_t chunk_count = static_cast<int64_t>(plan.chunks.size());
    const WorkUnits units(chunk_count, at::get_num_threads());
    const int64_t workers = worker_count(units.count());
    const UnitGradients unit_grads(args, grads, plan.chunks, units, summed_modulation_grads);
    // A thread's chunk jets, and its per-tile partial sums of a bias gradient ([width]: column sums of the
    // value component, the only one the bias reaches) or of the first layer's weight gradient ([D, width]);
    // with scales, a tile's modulated jet and its partial sums of the shift's and scale's gradients.
    std::vector<ChunkBuffers<scalar_t>> worker_buffers;
    std::vector<at::Tensor> worker_tile_sums, worker_modulated, worker_modulation_sums;
    for (int64_t w = 0; w < workers; ++w) {
      worker_buffers.emplace_back(largest_chunk, plan.components, plan.rows, args.max_width(), args.x.options());
      worker_tile_sums.push_back(
          at::empty({largest_chunk * std::max<int64_t>(1, plan.spec.in_dims) * args.max_width()}, args.x.options()));
      if (modulation && modulation->scaled()) {
        worker_modulated.push_back(at::empty({plan.tile_jet_rows * args.max_width()}, args.x.options()));
        worker_modulation_sums.push_back(at::empty({2, largest_chunk * args.max_width()}, args.x.options()));
      }
    }
    const scalar_t* x = args.x.data_ptr<scalar_t>();
    const scalar_t* grad_out_data = grad_out.data_ptr<scalar_t>();
    const int64_t out_width = args.out_width(plan.last);
    // Network g's points, and the start of tile t of network g in a saved jet of this width.
    auto x_of = [&](int64_t g) { return x + g * plan.num_points * plan.spec.in_dims; };
    auto saved_tile = [&](const at::Tensor& tensor, int64_t g, int64_t t, int64_t width) {
      return tensor.data_ptr<scalar_t>() + (g * plan.tiles + t) * plan.tile_jet_rows * width;
    };
    // Each of the chunk's networks' sum over its tiles of their partial sums in `sums`, `per_tile` elements
    // each: [networks, per_tile].
    auto per_network_sums = [](const at::Tensor& sums, const Chunk& chunk, int64_t per_tile) {
      return sums.narrow(0, 0, chunk.tiles() * per_tile).view({chunk.networks, chunk.count, per_tile}).sum(1);
    };
    // Unit by unit, each unit's chunks in order.
    for_each_item(units.count(), workers, [&](int64_t u, int64_t worker) {
      const ChunkBuffers<scalar_t>& buffers = worker_buffers[worker];
      const at::Tensor& tile_sums_tensor = worker_tile_sums[worker];
      scalar_t* tile_sums = tile_sums_tensor.data_ptr<scalar_t>();
      for (int64_t c = units.begin[u]; c < units.begin[u + 1]; ++c) {
        const Chunk& chunk = plan.chunks[c];
        const int64_t count = chunk.tiles(), networks = chunk.networks;
        const int64_t matrix_rows = chunk.count * plan.tile_jet_rows;  // one network's rows of the chunk
        // buffers.jet[gz]: gz_l; jet[1 - gz]: gz_l W_l, then gz_{l-1}; jet[2]: layer l's input jet.
        int gz = 0;
        const at::Tensor* z_last = args.is_sine(plan.last) ? &saved[sine_slot[plan.last]] : nullptr;
        const auto omega_last = static_cast<scalar_t>(args.omegas[plan.last]);
        for (int64_t i = 0; i < count; ++i) {
          const int64_t g = chunk.network_of(i), t = chunk.tile_of(i);
          scalar_t* tile = buffers.jet[gz] + i * plan.tile_jet_rows * out_width;
          load_tile(grad_out_data + g * plan.components * plan.num_points * out_width, plan.components,
                    plan.num_points, t * plan.rows, plan.rows, out_width, tile);
          if (z_last) {
            rule.vjp(plan.spec, rule_constants, saved_tile(*z_last, g, t, out_width), tile,
                     plan.rows * out_width, omega_last, tile);
          }
          column_sums(tile, plan.rows, out_width, tile_sums + i * out_width);
        }
        unit_grads.add_bias(u, chunk, plan.last, per_network_sums(tile_sums_tensor, chunk, out_width));
        for (int64_t l = plan.last; l >= 0; --l) {
          const int64_t in_width = args.in_width(l);
          const at::Tensor gz_l = buffers.matrices(gz, networks, matrix_rows, args.out_width(l));
          const bool weight_grad = grads.weights[l].defined();
          if (l == 0) {
            const int64_t dims = plan.spec.in_dims, width = args.out_width(0);
            for (int64_t i = 0; i < count && weight_grad; ++i) {
              input_layer_weight_grad(plan.spec, input_directions, x_of(chunk.network_of(i)), plan.num_points,
                                      chunk.tile_of(i) * plan.rows, plan.rows,
                                      buffers.jet[gz] + i * plan.tile_jet_rows * width, width,
                                      tile_sums + i * dims * width);
            }
            if (weight_grad) {
              unit_grads.add_weight(u, chunk, 0,
                                    per_network_sums(tile_sums_tensor, chunk, dims * width)
                                        .view({networks, dims, width})
                                        .transpose(1, 2));
            }
            if (request.x) {
              // Only the value component depends on x: the input tangents are constant unit vectors.
              const at::Tensor value_grad = gz_l.view({networks, chunk.count, plan.components, plan.rows, width})
                                                .select(2, 0)
                                                .reshape({networks, -1, width});
              const at::Tensor gx = at::empty({networks, value_grad.size(1), dims}, value_grad.options());
              TilePlan::product_out(args, gx, value_grad, args.weights[0], chunk, false);
              const int64_t first_row = chunk.first * plan.rows;
              const int64_t valid = std::min(chunk.count * plan.rows, plan.num_points - first_row);
              TilePlan::networks_of(args, grads.x, chunk).narrow(-2, first_row, valid).copy_(gx.narrow(1, 0, valid));
            }
            break;
          }
          // Whether the gradient goes on below this layer: not where nothing below it is asked for.
          const bool onward = l - 1 >= lowest;
          if (!onward && !weight_grad) break;
          const int below = 1 - gz;
          const at::Tensor gz_below = buffers.matrices(below, networks, matrix_rows, in_width);
          if (onward) TilePlan::product_out(args, gz_below, gz_l, args.weights[l], chunk, false);
          const at::Tensor& z_below = saved[sine_slot[l - 1]];
          const auto omega = static_cast<scalar_t>(args.omegas[l - 1]);
          const bool modulated = modulation && modulation->modulates(l - 1);
          const bool scaled = modulated && modulation->scaled();
          for (int64_t i = 0; i < count; ++i) {
            const int64_t offset = i * plan.tile_jet_rows * in_width;
            const int64_t g = chunk.network_of(i), first_row = chunk.tile_of(i) * plan.rows;
            const scalar_t* z_tile = saved_tile(z_below, g, chunk.tile_of(i), in_width);
            scalar_t* g_tile = buffers.jet[below] + offset;
            const auto tile_modulation =
                modulated ? TileModulation<scalar_t>::of(*modulation, l - 1, g, first_row, plan.rows, plan.num_points)
                          : TileModulation<scalar_t>{};
            const scalar_t* argument = z_tile;  // the sine's argument
            if (scaled) {
              scalar_t* u_tile = worker_modulated[worker].data_ptr<scalar_t>();
              modulate_tile(tile_modulation, plan.components, plan.rows, in_width, z_tile, u_tile);
              argument = u_tile;
            }
            if (!onward) {  // the layer's input jet alone, for its weight gradient (never modulated: lowest is 0)
              rule.forward(plan.spec, rule_constants, argument, plan.rows * in_width, omega, buffers.jet[2] + offset);
              continue;
            }
            if (weight_grad) {  // the layer's input jet too, for its weight gradient
              rule.forward_vjp(plan.spec, rule_constants, argument, plan.rows * in_width, omega,
                               buffers.jet[2] + offset, g_tile);
            } else {
              rule.vjp(plan.spec, rule_constants, argument, g_tile, plan.rows * in_width, omega, g_tile);
            }
            if (modulated && modulation->per_point) {  // straight into the gradients' rows
              const int64_t row_offset = first_row * in_width;
              modulation_vjp_tile(tile_modulation, plan.components, plan.rows, in_width, z_tile, g_tile,
                                  modulation_grads.shifts[l - 1].data_ptr<scalar_t>() + row_offset,
                                  scaled ? modulation_grads.scales[l - 1].data_ptr<scalar_t>() + row_offset : nullptr);
            } else if (scaled) {  // per network: into the tile's partial sums
              scalar_t* shift_grad = worker_modulation_sums[worker].data_ptr<scalar_t>() + i * in_width;
              scalar_t* scale_grad = shift_grad + largest_chunk * args.max_width();
              std::fill(shift_grad, shift_grad + in_width, scalar_t(0));
              std::fill(scale_grad, scale_grad + in_width, scalar_t(0));
              modulation_vjp_tile(tile_modulation, plan.components, plan.rows, in_width, z_tile, g_tile, shift_grad,
                                  scale_grad);
            }
            column_sums(g_tile, plan.rows, in_width, tile_sums + i * in_width);
          }
          if (weight_grad) {
            unit_grads.add_weight_product(u, chunk, l, gz_l, buffers.matrices(2, networks, matrix_rows, in_width));
          }
          if (!onward) break;
          const at::Tensor bias_sums = per_network_sums(tile_sums_tensor, chunk, in_width);
          if (modulated && network_modulation && !scaled) {
            unit_grads.add_modulation(u, chunk, l - 1, bias_sums);  // a shift alone: the bias's gradient
          } else if (modulated && network_modulation) {
            const at::Tensor& sums = worker_modulation_sums[worker];
            unit_grads.add_modulation(u, chunk, l - 1, per_network_sums(sums[0], chunk, in_width));
            unit_grads.add_modulation(u, chunk, hidden + l - 1, per_network_sums(sums[1], chunk, in_width));
          }
          unit_grads.add_bias(u, chunk, l - 1, bias_sums);
          gz = below;
        }
      }
    });
    unit_grads.reduce();
  });
  return grads;
}

}  // namespace siren_fused::cpu
