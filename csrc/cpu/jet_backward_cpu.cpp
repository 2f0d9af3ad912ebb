// Backward of the forward jet on the CPU, a chunk of tiles at a time in reverse layer order. Per
// layer: the sine jet's vector-Jacobian product (a thread per tile), the layer's input jet
// recomputed from the saved pre-activations (cheaper than storing it), then two GEMMs over the
// chunk's stacked components: the weight gradient and the gradient flowing to the previous layer.
// As in the forward, the GEMMs run outside any parallel region of ours.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "jet_cpu.h"
#include "jet_tiles.h"

namespace siren_fused::cpu {

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> jet_backward(
    const at::Tensor& grad_out_in, const at::Tensor& x_in, at::TensorList weights, at::TensorList biases,
    at::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear, at::TensorList saved_in,
    bool input_grad) {
  const JetArgs args = check_jet_args(x_in, weights, biases, omegas, order, hessian, outermost_linear);
  const TilePlan plan(args);

  const std::vector<int64_t> out_shape{plan.components, plan.num_points, args.out_width(plan.last)};
  TORCH_CHECK(grad_out_in.sizes() == at::IntArrayRef(out_shape), "grad_out must be ", at::IntArrayRef(out_shape),
              ", got ", grad_out_in.sizes());
  TORCH_CHECK(grad_out_in.scalar_type() == args.x.scalar_type(), "grad_out must be ", args.x.scalar_type(), ", got ",
              grad_out_in.scalar_type());
  const std::vector<at::Tensor> saved = check_saved(saved_in, saved_shapes(args), args.x);
  const at::Tensor grad_out = grad_out_in.contiguous();
  JetGrads grads = zero_grads(args);
  // Layer l's saved pre-activation jet is saved[sine_slot[l]].
  std::vector<int64_t> sine_slot(args.layers(), -1);
  for (int64_t l = 0, slot = 0; l <= plan.last; ++l) {
    if (args.is_sine(l)) sine_slot[l] = slot++;
  }
  if (plan.num_points == 0) return {grads.x, grads.weights, grads.biases};

  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_jet_backward_cpu", [&] {
    const int64_t chunk_tiles = std::min(plan.tiles, jet_chunk_tiles(plan.components, plan.rows, args.max_width()));
    const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
    ChunkBuffers<scalar_t> buffers(chunk_tiles, plan.components, plan.rows, args.max_width(), args.x.options());
    at::Tensor tile_bias_sums = at::empty({chunk_tiles * args.max_width()}, args.x.options());
    for (int64_t first = 0; first < plan.tiles; first += chunk_tiles) {
      const int64_t count = std::min(chunk_tiles, plan.tiles - first);
      const int64_t chunk_rows = count * plan.tile_jet_rows;
      // buffers.jet[upstream]: gradient of the layer's output jet; jet[2]: the layer's input jet.
      int upstream = 0;
      for_each_tile(count, [&](int64_t i) {
        load_tile(grad_out.data_ptr<scalar_t>(), plan.components, plan.num_points, (first + i) * plan.rows, plan.rows,
                  args.out_width(plan.last), buffers.jet[upstream] + i * plan.tile_jet_rows * args.out_width(plan.last));
      });
      for (int64_t l = plan.last; l >= 0; --l) {
        const int64_t width = args.out_width(l);
        const int64_t in_width = args.in_width(l);
        const bool sine = args.is_sine(l);
        const int grad_z = sine ? 1 - upstream : upstream;
        const scalar_t* z = sine ? saved[sine_slot[l]][first].data_ptr<scalar_t>() : nullptr;
        const auto omega = static_cast<scalar_t>(args.omegas[l]);
        scalar_t* bias_sums = tile_bias_sums.data_ptr<scalar_t>();
        for_each_tile(count, [&](int64_t i) {
          const int64_t offset = i * plan.tile_jet_rows * width;
          if (sine) {
            rule.vjp(plan.spec, z + offset, buffers.jet[upstream] + offset, plan.rows * width, omega,
                     buffers.jet[grad_z] + offset);
          }
          // Only the value component carries the bias.
          column_sums(buffers.jet[grad_z] + offset, plan.rows, width, bias_sums + i * width);
        });
        grads.biases[l] += tile_bias_sums.narrow(0, 0, count * width).view({count, width}).sum(0);
        const at::Tensor gz = buffers.matrix(grad_z, chunk_rows, width);

        if (l == 0) {
          for_each_tile(count, [&](int64_t i) {
            build_input_jet(plan.spec, args.x.data_ptr<scalar_t>(), plan.num_points, (first + i) * plan.rows, plan.rows,
                            buffers.jet[2] + i * plan.tile_jet_rows * in_width);
          });
        } else {
          const scalar_t* z_prev = saved[sine_slot[l - 1]][first].data_ptr<scalar_t>();
          const auto omega = static_cast<scalar_t>(args.omegas[l - 1]);
          const int64_t tile_elements = plan.rows * in_width;
          for_each_tile(count, [&](int64_t i) {
            const int64_t offset = i * plan.tile_jet_rows * in_width;
            rule.forward(plan.spec, z_prev + offset, tile_elements, omega, buffers.jet[2] + offset);
          });
        }
        grads.weights[l].addmm_(gz.t(), buffers.matrix(2, chunk_rows, in_width));

        if (l > 0) {
          upstream = 1 - grad_z;
          at::Tensor grad_input = buffers.matrix(upstream, chunk_rows, in_width);
          at::mm_out(grad_input, gz, args.weights[l]);
        } else if (input_grad) {
          // Only the value component depends on x: the input tangents are constant unit vectors.
          const at::Tensor value_grad = gz.view({count, plan.components, plan.rows, width}).select(1, 0).reshape({-1, width});
          const at::Tensor gx = at::mm(value_grad, args.weights[0]);
          const int64_t valid = std::min(count * plan.rows, plan.num_points - first * plan.rows);
          grads.x.narrow(0, first * plan.rows, valid).copy_(gx.narrow(0, 0, valid));
        }
      }
    }
  });
  return {grads.x, grads.weights, grads.biases};
}

}  // namespace siren_fused::cpu
