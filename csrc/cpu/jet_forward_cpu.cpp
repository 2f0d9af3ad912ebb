// Forward jet on the CPU, a chunk of tiles at a time through every layer: one GEMM over the
// chunk's stacked jet components (threaded by the BLAS), then the sine jet rule, a thread per
// tile, in buffers that stay in cache. Only the output and, when autograd needs them, the
// pre-activation jets reach memory. No GEMM runs inside a parallel region: nesting the BLAS in
// our own threads is what made an earlier tile-per-thread design collapse on a busy machine.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "jet_cpu.h"
#include "jet_tiles.h"

namespace siren_fused::cpu {

namespace {

// One network's forward into its packed jet `out` [components, N, out] and, when `saved` is not
// empty, its pre-activation jets.
void forward_network(const JetArgs& args, const at::Tensor& out, const std::vector<at::Tensor>& saved) {
  const TilePlan plan(args);
  const bool save = !saved.empty();
  if (plan.num_points == 0) return;

  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_jet_forward_cpu", [&] {
    const int64_t chunk_tiles = std::min(plan.tiles, jet_chunk_tiles(plan.components, plan.rows, args.max_width()));
    const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
    const scalar_t* laplacian_weights = args.laplacian_weights_data<scalar_t>();
    ChunkBuffers<scalar_t> buffers(chunk_tiles, plan.components, plan.rows, args.max_width(), args.x.options());
    const scalar_t* x = args.x.data_ptr<scalar_t>();
    for (int64_t first = 0; first < plan.tiles; first += chunk_tiles) {
      const int64_t count = std::min(chunk_tiles, plan.tiles - first);
      for_each_tile(count, [&](int64_t i) {
        build_input_jet(plan.spec, x, plan.num_points, (first + i) * plan.rows, plan.rows, buffers.jet[0] + i * plan.tile_jet_rows * plan.spec.in_dims);
      });
      int current = 0;  // the jet entering the layer is buffers.jet[current]; jet[2] holds z
      int64_t sine_index = 0;
      for (int64_t l = 0; l <= plan.last; ++l) {
        const int64_t width = args.out_width(l);
        const bool keep = save && args.is_sine(l);
        at::Tensor z = keep ? saved[sine_index].narrow(0, first, count).view({count * plan.tile_jet_rows, width})
                            : buffers.matrix(2, count * plan.tile_jet_rows, width);
        at::mm_out(z, buffers.matrix(current, count * plan.tile_jet_rows, args.in_width(l)), args.weights[l].t());
        scalar_t* zp = z.data_ptr<scalar_t>();
        const scalar_t* bias = args.biases[l].data_ptr<scalar_t>();
        const bool sine = args.is_sine(l);
        const int next = sine ? 1 - current : current;
        const scalar_t* result = sine ? buffers.jet[next] : zp;
        const auto omega = static_cast<scalar_t>(args.omegas[l]);
        const int64_t tile_elements = plan.rows * width;
        for_each_tile(count, [&](int64_t i) {
          scalar_t* zi = zp + i * plan.tile_jet_rows * width;
          add_bias(zi, bias, plan.rows, width);
          if (sine) {
            rule.forward(plan.spec, laplacian_weights, zi, tile_elements, omega,
                         buffers.jet[next] + i * plan.tile_jet_rows * width);
          }
          if (l == plan.last) {
            store_tile(result + i * plan.tile_jet_rows * width, plan.components, plan.rows, width, out.data_ptr<scalar_t>(),
                       plan.num_points, (first + i) * plan.rows);
          }
        });
        current = next;
        sine_index += sine ? 1 : 0;
      }
    }
  });
}

}  // namespace

std::tuple<at::Tensor, std::vector<at::Tensor>> jet_forward(const at::Tensor& x_in, at::TensorList weights,
                                                            at::TensorList biases, at::ArrayRef<double> omegas,
                                                            int64_t order, bool hessian, bool outermost_linear,
                                                            bool save,
                                                            std::optional<at::ArrayRef<double>> laplacian_weights) {
  const JetArgs args =
      check_jet_args(x_in, weights, biases, omegas, order, hessian, outermost_linear, laplacian_weights);
  at::Tensor out = at::empty(args.batch_shape({args.spec.components(), args.num_points(),
                                               args.out_width(args.layers() - 1)}),
                             args.x.options());
  std::vector<at::Tensor> saved;
  if (save) {
    for (const auto& shape : saved_shapes(args)) saved.push_back(reusable_empty(shape, args.x.options()));
  }
  for (int64_t b = 0; b < args.networks; ++b) {
    std::vector<at::Tensor> saved_b;
    for (const at::Tensor& tensor : saved) saved_b.push_back(args.of_network(tensor, b));
    forward_network(args.network(b), args.of_network(out, b), saved_b);
  }
  return {out, saved};
}

}  // namespace siren_fused::cpu
