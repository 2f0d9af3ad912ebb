// Backward of the forward jet on the CPU, a chunk of tiles at a time in reverse layer order. With
// gz_l the gradient of layer l's pre-activation jet, each layer l > 0 takes one GEMM to the
// gradient of its input jet (gz_l W_l), then one pass, a thread per tile, that evaluates the
// sines of the layer below once for two uses: its output jet, recomputed from the saved
// pre-activations (cheaper than storing it) for W_l's gradient, and the sine jet's
// vector-Jacobian product, which turns the input gradient into gz_{l-1} in place. The second GEMM
// is W_l's gradient. As in the forward, the GEMMs run outside any parallel region of ours.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "jet_cpu.h"
#include "jet_tiles.h"

namespace siren_fused::cpu {

namespace {

// One network's backward: accumulates into `grads` (that network's, zeroed) from its `grad_out`
// [components, N, out] and saved pre-activation jets.
void backward_network(const JetArgs& args, const at::Tensor& grad_out, const std::vector<at::Tensor>& saved,
                      bool input_grad, JetGrads& grads) {
  const TilePlan plan(args);
  // Layer l's saved pre-activation jet is saved[sine_slot[l]].
  std::vector<int64_t> sine_slot(args.layers(), -1);
  for (int64_t l = 0, slot = 0; l <= plan.last; ++l) {
    if (args.is_sine(l)) sine_slot[l] = slot++;
  }
  if (plan.num_points == 0) return;

  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_jet_backward_cpu", [&] {
    const int64_t chunk_tiles = std::min(plan.tiles, jet_chunk_tiles(plan.components, plan.rows, args.max_width()));
    const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
    const scalar_t* laplacian_weights = args.laplacian_weights_data<scalar_t>();
    ChunkBuffers<scalar_t> buffers(chunk_tiles, plan.components, plan.rows, args.max_width(), args.x.options());
    // Per-tile partial sums of a bias gradient ([width]: column sums of the value component, the only one
    // the bias reaches) or of the first layer's weight gradient ([D, width]).
    at::Tensor tile_sums_tensor =
        at::empty({chunk_tiles * std::max<int64_t>(1, plan.spec.in_dims) * args.max_width()}, args.x.options());
    scalar_t* tile_sums = tile_sums_tensor.data_ptr<scalar_t>();
    // The sum over a chunk's `count` tiles of their partial sums, `per_tile` elements each.
    auto total_of_tile_sums = [&](int64_t count, int64_t per_tile) {
      return tile_sums_tensor.narrow(0, 0, count * per_tile).view({count, per_tile}).sum(0);
    };
    const scalar_t* x = args.x.data_ptr<scalar_t>();
    for (int64_t first = 0; first < plan.tiles; first += chunk_tiles) {
      const int64_t count = std::min(chunk_tiles, plan.tiles - first);
      const int64_t chunk_rows = count * plan.tile_jet_rows;
      // buffers.jet[gz]: gz_l; jet[1 - gz]: gz_l W_l, then gz_{l-1}; jet[2]: layer l's input jet.
      int gz = 0;
      const int64_t out_width = args.out_width(plan.last);
      const scalar_t* z_last = args.is_sine(plan.last) ? saved[sine_slot[plan.last]][first].data_ptr<scalar_t>() : nullptr;
      const auto omega_last = static_cast<scalar_t>(args.omegas[plan.last]);
      for_each_tile(count, [&](int64_t i) {
        const int64_t offset = i * plan.tile_jet_rows * out_width;
        scalar_t* tile = buffers.jet[gz] + offset;
        load_tile(grad_out.data_ptr<scalar_t>(), plan.components, plan.num_points, (first + i) * plan.rows, plan.rows,
                  out_width, tile);
        if (z_last) {
          rule.vjp(plan.spec, laplacian_weights, z_last + offset, tile, plan.rows * out_width, omega_last, tile);
        }
        column_sums(tile, plan.rows, out_width, tile_sums + i * out_width);
      });
      grads.biases[plan.last] += total_of_tile_sums(count, out_width);

      for (int64_t l = plan.last; l >= 0; --l) {
        const int64_t in_width = args.in_width(l);
        const at::Tensor gz_l = buffers.matrix(gz, chunk_rows, args.out_width(l));
        if (l == 0) {
          const int64_t dims = plan.spec.in_dims, width = args.out_width(0);
          for_each_tile(count, [&](int64_t i) {
            input_layer_weight_grad(plan.spec, x, plan.num_points, (first + i) * plan.rows, plan.rows,
                                    buffers.jet[gz] + i * plan.tile_jet_rows * width, width,
                                    tile_sums + i * dims * width);
          });
          grads.weights[0].t().add_(total_of_tile_sums(count, dims * width).view({dims, width}));
          if (input_grad) {
            // Only the value component depends on x: the input tangents are constant unit vectors.
            const at::Tensor value_grad =
                gz_l.view({count, plan.components, plan.rows, width}).select(1, 0).reshape({-1, width});
            const at::Tensor gx = at::mm(value_grad, args.weights[0]);
            const int64_t valid = std::min(count * plan.rows, plan.num_points - first * plan.rows);
            grads.x.narrow(0, first * plan.rows, valid).copy_(gx.narrow(0, 0, valid));
          }
          break;
        }
        const int below = 1 - gz;
        at::Tensor gz_below = buffers.matrix(below, chunk_rows, in_width);
        at::mm_out(gz_below, gz_l, args.weights[l]);
        const scalar_t* z_below = saved[sine_slot[l - 1]][first].data_ptr<scalar_t>();
        const auto omega = static_cast<scalar_t>(args.omegas[l - 1]);
        for_each_tile(count, [&](int64_t i) {
          const int64_t offset = i * plan.tile_jet_rows * in_width;
          rule.forward_vjp(plan.spec, laplacian_weights, z_below + offset, plan.rows * in_width, omega,
                           buffers.jet[2] + offset, buffers.jet[below] + offset);
          column_sums(buffers.jet[below] + offset, plan.rows, in_width, tile_sums + i * in_width);
        });
        grads.biases[l - 1] += total_of_tile_sums(count, in_width);
        grads.weights[l].addmm_(gz_l.t(), buffers.matrix(2, chunk_rows, in_width));
        gz = below;
      }
    }
  });
}

}  // namespace

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> jet_backward(
    const at::Tensor& grad_out_in, const at::Tensor& x_in, at::TensorList weights, at::TensorList biases,
    at::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear, at::TensorList saved_in,
    bool input_grad, std::optional<at::ArrayRef<double>> laplacian_weights) {
  const JetArgs args =
      check_jet_args(x_in, weights, biases, omegas, order, hessian, outermost_linear, laplacian_weights);
  const std::vector<int64_t> out_shape =
      args.batch_shape({args.spec.components(), args.num_points(), args.out_width(args.layers() - 1)});
  TORCH_CHECK(grad_out_in.sizes() == at::IntArrayRef(out_shape), "grad_out must be ", at::IntArrayRef(out_shape),
              ", got ", grad_out_in.sizes());
  TORCH_CHECK(grad_out_in.scalar_type() == args.x.scalar_type(), "grad_out must be ", args.x.scalar_type(), ", got ",
              grad_out_in.scalar_type());
  const std::vector<at::Tensor> saved = check_saved(saved_in, saved_shapes(args), args.x);
  const at::Tensor grad_out = grad_out_in.contiguous();
  const JetGrads grads = zero_grads(args, WeightGradStorage::kTransposed);
  for (int64_t b = 0; b < args.networks; ++b) {
    std::vector<at::Tensor> saved_b;
    for (const at::Tensor& tensor : saved) saved_b.push_back(args.of_network(tensor, b));
    JetGrads grads_b = grads.network(args, b);
    backward_network(args.network(b), args.of_network(grad_out, b), saved_b, input_grad, grads_b);
  }
  return grads.as_tuple();
}

}  // namespace siren_fused::cpu
