// Backward of the forward jet on the CPU, tile by tile in reverse layer order. Per layer: the
// sine jet's vector-Jacobian product, the layer's input jet recomputed from the saved
// pre-activations (cheaper than storing it), then two GEMMs over the stacked components: the
// weight gradient and the gradient flowing to the previous layer. Each thread sums weight and
// bias gradients of its own tiles; the threads' sums are added at the end.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "../jet_args.h"
#include "../jet_layout.h"
#include "jet_cpu.h"
#include "jet_tiles.h"

namespace siren_fused::cpu {

std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> jet_backward(
    const at::Tensor& grad_out_in, const at::Tensor& x_in, at::TensorList weights, at::TensorList biases,
    at::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear, at::TensorList saved_in,
    bool input_grad) {
  const JetArgs args = check_jet_args(x_in, weights, biases, omegas, order, hessian, outermost_linear);
  TORCH_CHECK(args.x.device().is_cpu(), "siren_fused CPU kernel got x on ", args.x.device());
  const JetSpec spec = args.spec;
  const int64_t components = spec.components();
  const int64_t num_points = args.num_points();
  const int64_t rows = args.tile_rows();
  const int64_t tiles = jet_tile_count(num_points, rows);
  const int64_t last = args.layers() - 1;

  const std::vector<int64_t> out_shape{components, num_points, args.out_width(last)};
  TORCH_CHECK(grad_out_in.sizes() == at::IntArrayRef(out_shape), "grad_out must be ", at::IntArrayRef(out_shape),
              ", got ", grad_out_in.sizes());
  TORCH_CHECK(grad_out_in.scalar_type() == args.x.scalar_type(), "grad_out must be ", args.x.scalar_type(), ", got ",
              grad_out_in.scalar_type());
  const auto expected_saved = saved_shapes(args);
  TORCH_CHECK(saved_in.size() == expected_saved.size(), "saved must hold ", expected_saved.size(),
              " tensors (one per sine layer), got ", saved_in.size());
  std::vector<at::Tensor> saved;
  for (size_t i = 0; i < saved_in.size(); ++i) {
    TORCH_CHECK(saved_in[i].sizes() == at::IntArrayRef(expected_saved[i]), "saved[", i, "] must be ",
                at::IntArrayRef(expected_saved[i]), ", got ", saved_in[i].sizes());
    saved.push_back(saved_in[i].contiguous());
  }
  const at::Tensor grad_out = grad_out_in.contiguous();

  const int64_t threads = at::get_num_threads();
  std::vector<at::Tensor> weight_partials, bias_partials;
  for (int64_t l = 0; l <= last; ++l) {
    weight_partials.push_back(at::zeros({threads, args.out_width(l), args.in_width(l)}, args.x.options()));
    bias_partials.push_back(at::zeros({threads, args.out_width(l)}, args.x.options()));
  }
  at::Tensor grad_x = at::zeros_like(args.x);  // stays zero unless input_grad
  // Layer l's saved pre-activation jet is saved[sine_slot[l]].
  std::vector<int64_t> sine_slot(args.layers(), -1);
  for (int64_t l = 0, slot = 0; l <= last; ++l) {
    if (args.is_sine(l)) sine_slot[l] = slot++;
  }

  if (num_points > 0) {
    AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_jet_backward_cpu", [&] {
      at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
        const int64_t thread = at::get_thread_num();
        TileScratch<scalar_t> scratch(components, rows, args.max_width(), args.x.options());
        const int64_t stacked = components * rows;
        for (int64_t tile = begin; tile < end; ++tile) {
          // scratch.jet[upstream]: gradient of the layer's output jet; jet[2]: the layer's input jet.
          int upstream = 0;
          load_tile(grad_out.data_ptr<scalar_t>(), components, num_points, tile * rows, rows, args.out_width(last),
                    scratch.jet[upstream]);
          bool derivatives_ready = false;  // scratch.derivs hold layer l's derivatives
          for (int64_t l = last; l >= 0; --l) {
            const int64_t width = args.out_width(l);
            const int64_t in_width = args.in_width(l);
            int grad_z = upstream;
            if (args.is_sine(l)) {
              const scalar_t* z = saved[sine_slot[l]][tile].data_ptr<scalar_t>();
              const auto omega = static_cast<scalar_t>(args.omegas[l]);
              if (!derivatives_ready) sine_derivatives_tile(z, rows * width, omega, scratch.derivs);
              grad_z = 1 - upstream;
              sine_jet_vjp_tile(spec, z, scratch.jet[upstream], rows * width, scratch.derivs, scratch.jet[grad_z]);
            }
            const scalar_t* gz = scratch.jet[grad_z];
            scalar_t* gb = bias_partials[l][thread].data_ptr<scalar_t>();
            for (int64_t r = 0; r < rows; ++r) {
              for (int64_t j = 0; j < width; ++j) gb[j] += gz[r * width + j];
            }

            if (l == 0) {
              build_input_jet(spec, args.x.data_ptr<scalar_t>(), num_points, tile * rows, rows, scratch.jet[2]);
            } else {
              const scalar_t* z_prev = saved[sine_slot[l - 1]][tile].data_ptr<scalar_t>();
              const int64_t count = rows * in_width;
              sine_derivatives_tile(z_prev, count, static_cast<scalar_t>(args.omegas[l - 1]), scratch.derivs);
              sine_jet_forward_tile(spec, z_prev, count, scratch.derivs, scratch.jet[2]);
              derivatives_ready = true;
            }
            const at::Tensor gz_matrix = scratch.matrix(grad_z, stacked, width);
            weight_partials[l][thread].addmm_(gz_matrix.t(), scratch.matrix(2, stacked, in_width));

            if (l > 0) {
              upstream = 1 - grad_z;
              at::Tensor grad_input = scratch.matrix(upstream, stacked, in_width);
              at::mm_out(grad_input, gz_matrix, args.weights[l]);
            } else if (input_grad) {
              // Only the value component depends on x: the input tangents are constant unit vectors.
              const at::Tensor gx = at::mm(gz_matrix.narrow(0, 0, rows), args.weights[0]);
              store_tile(gx.data_ptr<scalar_t>(), 1, rows, in_width, grad_x.data_ptr<scalar_t>(), num_points,
                         tile * rows);
            }
          }
        }
      });
    });
  }

  std::vector<at::Tensor> grad_weights, grad_biases;
  for (int64_t l = 0; l <= last; ++l) {
    grad_weights.push_back(weight_partials[l].sum(0));
    grad_biases.push_back(bias_partials[l].sum(0));
  }
  return {grad_x, grad_weights, grad_biases};
}

}  // namespace siren_fused::cpu
