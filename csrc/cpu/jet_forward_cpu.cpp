// Forward jet on the CPU, a chunk of tiles at a time through every layer: one GEMM over the
// chunk's stacked jet components, then the sine jet rule tile by tile, in buffers that stay in
// cache. Only the output and, when autograd needs them, the pre-activation jets reach memory.
// Each thread takes whole chunks with its own buffers and a single-threaded BLAS, in one parallel
// region a call (chunk_scheduler.h says why).
#include <ATen/ATen.h>

#include "jet_cpu.h"
#include "jet_tiles.h"
#include "modulation_tile.h"

namespace siren_fused::cpu {

// With a modulation, each hidden layer's pre-activation jet is modulated before the sine rule. With scales,
// the modulated jet goes into a scratch tile and the saved jets stay unmodulated, as the scale's gradient
// needs them; a shift alone moves the value component only, so it is added in place, with the bias, and the
// saved jet is the sine's argument itself (jet_backward_cpu.cpp reads it so).
std::tuple<at::Tensor, std::vector<at::Tensor>> JetKernels::forward(const JetArgs& args, const Modulation* modulation,
                                                                    bool save) {
  const TilePlan plan(args);

  at::Tensor out = at::empty(args.batch_shape({plan.components, plan.num_points, args.out_width(plan.last)}),
                             args.x.options());
  std::vector<at::Tensor> saved;
  if (save) {
    for (const auto& shape : saved_shapes(args)) saved.push_back(reusable_empty(shape, args.x.options()));
  }
  if (plan.chunks.empty()) return {out, saved};

  AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "siren_fused_jet_forward_cpu", [&] {
    const SineTileKernels<scalar_t>& rule = sine_tile_kernels<scalar_t>();
    const scalar_t* rule_constants = args.rule_constants_data<scalar_t>();
    const scalar_t* input_directions = args.directions_data<scalar_t>();
    const int64_t workers = worker_count(static_cast<int64_t>(plan.chunks.size()));
    std::vector<ChunkBuffers<scalar_t>> worker_buffers;
    std::vector<at::Tensor> worker_modulated;  // a tile's modulated jet
    for (int64_t w = 0; w < workers; ++w) {
      worker_buffers.emplace_back(plan.largest_chunk(), plan.components, plan.rows, args.max_width(),
                                  args.x.options());
      if (modulation && modulation->scaled()) {
        worker_modulated.push_back(at::empty({plan.tile_jet_rows * args.max_width()}, args.x.options()));
      }
    }
    // Network g's points and packed jet (contiguous, network after network).
    const scalar_t* x = args.x.data_ptr<scalar_t>();
    scalar_t* out_data = out.data_ptr<scalar_t>();
    const int64_t out_width = args.out_width(plan.last);
    auto x_of = [&](int64_t g) { return x + g * plan.num_points * plan.spec.in_dims; };
    auto out_of = [&](int64_t g) { return out_data + g * plan.components * plan.num_points * out_width; };
    for_each_item(static_cast<int64_t>(plan.chunks.size()), workers, [&](int64_t c, int64_t worker) {
      const Chunk& chunk = plan.chunks[c];
      const ChunkBuffers<scalar_t>& buffers = worker_buffers[worker];
      const int64_t count = chunk.tiles(), networks = chunk.networks;
      const int64_t matrix_rows = chunk.count * plan.tile_jet_rows;  // one network's rows of the chunk
      for (int64_t i = 0; i < count; ++i) {
        build_input_jet(plan.spec, input_directions, x_of(chunk.network_of(i)), plan.num_points,
                        chunk.tile_of(i) * plan.rows, plan.rows,
                        buffers.jet[0] + i * plan.tile_jet_rows * plan.spec.in_dims);
      }
      int current = 0;  // the jet entering the layer is buffers.jet[current]; jet[2] holds z
      int64_t sine_index = 0;
      for (int64_t l = 0; l <= plan.last; ++l) {
        const int64_t width = args.out_width(l);
        const bool keep = save && args.is_sine(l);
        at::Tensor z = keep ? plan.chunk_matrices(args, saved[sine_index], chunk)
                            : buffers.matrices(2, networks, matrix_rows, width);
        TilePlan::product_out(args, z, buffers.matrices(current, networks, matrix_rows, args.in_width(l)),
                              args.weights[l], chunk, true);
        scalar_t* zp = z.data_ptr<scalar_t>();
        const scalar_t* biases = args.biases[l].data_ptr<scalar_t>();  // [networks, width], or [width] shared
        const int64_t bias_stride = args.shared_parameters ? 0 : width;
        const bool modulated = modulation && modulation->modulates(l);
        const bool sine = args.is_sine(l);
        const int next = sine ? 1 - current : current;
        const scalar_t* result = sine ? buffers.jet[next] : zp;
        const auto omega = static_cast<scalar_t>(args.omegas[l]);
        const int64_t tile_elements = plan.rows * width;
        for (int64_t i = 0; i < count; ++i) {
          scalar_t* zi = zp + i * plan.tile_jet_rows * width;
          add_bias(zi, biases + chunk.network_of(i) * bias_stride, plan.rows, width);
          const scalar_t* argument = zi;
          if (modulated) {
            const auto tile_modulation = TileModulation<scalar_t>::of(
                *modulation, l, chunk.network_of(i), chunk.tile_of(i) * plan.rows, plan.rows, plan.num_points);
            if (modulation->scaled()) {
              scalar_t* u = worker_modulated[worker].data_ptr<scalar_t>();
              modulate_tile(tile_modulation, plan.components, plan.rows, width, zi, u);
              argument = u;
            } else {
              modulate_value_rows(tile_modulation, width, zi, zi);
            }
          }
          if (sine) {
            rule.forward(plan.spec, rule_constants, argument, tile_elements, omega,
                         buffers.jet[next] + i * plan.tile_jet_rows * width);
          }
          if (l == plan.last) {
            store_tile(result + i * plan.tile_jet_rows * width, plan.components, plan.rows, width,
                       out_of(chunk.network_of(i)), plan.num_points, chunk.tile_of(i) * plan.rows);
          }
        }
        current = next;
        sine_index += sine ? 1 : 0;
      }
    });
  });
  return {out, saved};
}

}  // namespace siren_fused::cpu
