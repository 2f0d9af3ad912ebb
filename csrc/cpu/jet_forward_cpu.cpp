// Forward jet on the CPU. Each thread takes tiles of rows through every layer: one GEMM over the
// stacked jet components, then one pass of the sine jet rule, all in cache-sized buffers. Only
// the output and, when autograd needs them, the pre-activation jets reach memory.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "../jet_args.h"
#include "../jet_layout.h"
#include "jet_cpu.h"
#include "jet_tiles.h"

namespace siren_fused::cpu {

std::tuple<at::Tensor, std::vector<at::Tensor>> jet_forward(const at::Tensor& x_in, at::TensorList weights,
                                                            at::TensorList biases, at::ArrayRef<double> omegas,
                                                            int64_t order, bool hessian, bool outermost_linear,
                                                            bool save) {
  const JetArgs args = check_jet_args(x_in, weights, biases, omegas, order, hessian, outermost_linear);
  TORCH_CHECK(args.x.device().is_cpu(), "siren_fused CPU kernel got x on ", args.x.device());
  const JetSpec spec = args.spec;
  const int64_t components = spec.components();
  const int64_t num_points = args.num_points();
  const int64_t rows = args.tile_rows();
  const int64_t tiles = jet_tile_count(num_points, rows);
  const int64_t last = args.layers() - 1;

  at::Tensor out = at::empty({components, num_points, args.out_width(last)}, args.x.options());
  std::vector<at::Tensor> saved;
  if (save) {
    for (const auto& shape : saved_shapes(args)) saved.push_back(at::empty(shape, args.x.options()));
  }
  if (num_points == 0) return {out, saved};

  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_jet_forward_cpu", [&] {
    at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
      TileScratch<scalar_t> scratch(components, rows, args.max_width(), args.x.options());
      for (int64_t tile = begin; tile < end; ++tile) {
        build_input_jet(spec, args.x.data_ptr<scalar_t>(), num_points, tile * rows, rows, scratch.jet[0]);
        int current = 0;  // the jet entering the layer is scratch.jet[current]; jet[2] holds z
        int64_t sine_index = 0;
        for (int64_t l = 0; l <= last; ++l) {
          const int64_t width = args.out_width(l);
          const bool keep = save && args.is_sine(l);
          at::Tensor z = keep ? saved[sine_index][tile].view({components * rows, width})
                              : scratch.matrix(2, components * rows, width);
          at::mm_out(z, scratch.matrix(current, components * rows, args.in_width(l)), args.weights[l].t());
          scalar_t* zp = z.data_ptr<scalar_t>();
          add_bias(zp, args.biases[l].data_ptr<scalar_t>(), rows, width);
          const scalar_t* result = zp;
          if (args.is_sine(l)) {
            const int64_t count = rows * width;
            const auto omega = static_cast<scalar_t>(args.omegas[l]);
            sine_derivatives_tile(zp, count, omega, scratch.derivs);
            current = 1 - current;
            sine_jet_forward_tile(spec, zp, count, scratch.derivs, scratch.jet[current]);
            result = scratch.jet[current];
            ++sine_index;
          }
          if (l == last) store_tile(result, components, rows, width, out.data_ptr<scalar_t>(), num_points, tile * rows);
        }
      }
    });
  });
  return {out, saved};
}

}  // namespace siren_fused::cpu
