// Backward of the forward jet on the GPU, chunk by chunk in reverse layer order. Per layer: the
// sine jet's VJP (elementwise; a modulated layer's modulation VJP with it), the bias gradient (and
// a modulated layer's shift and scale gradients), the layer's input jet recomputed from the
// previous layer's saved pre-activations (cheaper than storing it), the weight gradient, and the
// GEMM that carries the gradient to the previous layer (or, at the first layer, to x). A frozen
// parameter's gradient (a null pointer) is skipped, with the input jet only a weight's needs, and
// nothing runs below the lowest layer anything is asked of. Every
// product is a library GEMM (library_gemm.h) over the chunk's stacked rows, batched over its
// networks (one GEMM over all of them where they share the weights), and the parameter and
// modulation gradients accumulate chunk after chunk in a fixed order: no atomics, so the gradients
// are the same bits run after run.
#include <algorithm>

#include "jet_addressing.cuh"
#include "jet_cuda.h"
#include "jet_kernels.cuh"

namespace siren_fused::cuda {

namespace {

// Elements of the ones vector the point sums take: one a tile of every network of a chunk (a
// shared bias sums them all), then one a tile row.
int64_t ones_elements(const JetProblem& problem) {
  return std::max(problem.chunk_networks() * problem.chunk_tiles(), problem.tile_rows);
}

// Elements of a chunk's modulation gradient rows (JetVjpArgs::modulation_rows), where modulated.
int64_t modulation_rows_elements(const JetProblem& problem) {
  if (!problem.modulated()) return 0;
  return 2 * problem.chunk_networks() * problem.chunk_tiles() * problem.tile_rows * problem.max_width();
}

// grad += the sum of a tiled buffer's value component (zero on padding) over the points of each
// of `rows`' batch entries (a network's, or every network's of the span), as two GEMMs with the
// ones vector: over the tiles into `partial` ([T, width] an entry), then over a tile's rows.
void add_point_sums(const GemmLibrary& gemm, const TileSpan& span, const GemmRows& rows, const float* tiled,
                    int64_t width, const float* ones, float* partial, PerNetwork<float> grad, cudaStream_t stream) {
  const int64_t tile_block = span.tile_rows * width;  // one component of one tile
  gemm.multiply({rows.batch, 1, tile_block, rows.tiles, {ones, rows.tiles, 0, false},
                 {tiled, span.components * tile_block, span.tiled_stride(width), false}, partial, tile_block,
                 tile_block, false},
                stream);
  gemm.multiply({rows.batch, 1, width, span.tile_rows, {ones, span.tile_rows, 0, false},
                 {partial, width, tile_block, false}, grad.data, width, grad.stride, true},
                stream);
}

// A modulated layer's shift and scale gradients from the span's modulation rows (JetVjpArgs): per
// network, each network's sums over its points (accumulated chunk after chunk); per point, each
// point's rows themselves, copied (the chunks' points are disjoint).
cudaError_t add_modulation_gradients(const GemmLibrary& gemm, const TileSpan& span, const JetSpec& spec,
                                     const JetModulation& modulation, const float* rows, int64_t width,
                                     const float* ones, float* partial, const ModulationGradients& grads,
                                     cudaStream_t stream) {
  const TileSpan rows_span = modulation_rows_span(span);
  const float* parts[2] = {rows, rows + span.tile_rows * width};  // the shift's rows, then the scale's
  float* targets[2] = {grads.shift, grads.scale};
  for (int part = 0; part < (modulation.scale == nullptr ? 1 : 2); ++part) {
    if (!modulation.per_point()) {
      add_point_sums(gemm, rows_span, GemmRows(rows_span, false), parts[part], width, ones, partial,
                     PerNetwork<float>{targets[part], modulation.network_stride}.from(span.first_network), stream);
      continue;
    }
    const cudaError_t err =
        launch_jet_epilogue({rows_span, spec, nullptr, {parts[part], rows_span.tiled_stride(width)}, {nullptr, 0},
                             {nullptr, 0}, 0.0f, false, width, {targets[part], width, true, 0}, 1, JetModulation{}},
                            stream);
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

}  // namespace

int64_t jet_backward_workspace_elements(const JetProblem& problem) {
  return 3 * problem.chunk_buffer_elements() + modulation_rows_elements(problem) + ones_elements(problem);
}

cudaError_t jet_backward_cuda(const JetProblem& problem, const GemmLibrary& gemm, const float* grad_out,
                              const float* x, const std::vector<const float*>& saved, float* grad_x,
                              const std::vector<float*>& grad_weights, const std::vector<float*>& grad_biases,
                              const std::vector<ModulationGradients>& grad_modulations, float* workspace,
                              cudaStream_t stream) {
  if (problem.num_points == 0 || problem.networks == 0) return cudaSuccess;
  const JetSpec& spec = problem.spec;
  const int64_t last = static_cast<int64_t>(problem.layers.size()) - 1;
  if (grad_modulations.size() != (problem.modulated() ? problem.layers.size() : 0)) return cudaErrorInvalidValue;
  // Layer l's saved pre-activation jet is saved[sine_slot[l]]; only the last layer may be linear.
  std::vector<int64_t> sine_slot(problem.layers.size(), -1);
  int64_t slots = 0;
  for (int64_t l = 0; l <= last; ++l) {
    if (problem.layers[l].sine) {
      sine_slot[l] = slots++;
    } else if (l != last) {
      return cudaErrorInvalidValue;
    }
  }
  if (static_cast<size_t>(slots) != saved.size()) return cudaErrorInvalidValue;

  const int64_t buffer = problem.chunk_buffer_elements();
  float* grad_z = workspace;                  // gradient of the layer's pre-activation jet
  float* grad_input = workspace + buffer;     // gradient of the layer's input jet
  float* input_jet = workspace + 2 * buffer;  // the layer's input jet
  float* modulation_rows = workspace + 3 * buffer;
  float* ones = modulation_rows + modulation_rows_elements(problem);
  const cudaError_t filled = launch_fill(ones, ones_elements(problem), 1.0f, stream);
  if (filled != cudaSuccess) return filled;
  const PerNetwork<const float> x_networks{x, problem.x_stride()};
  // The lowest layer whose pre-activation's gradient anything asked for needs (x's: the first; a
  // modulation's: every hidden layer's): the backward stops there.
  int64_t lowest = grad_x != nullptr || problem.modulated() ? 0 : last + 1;
  for (int64_t l = last; l >= 0; --l) {
    if (grad_weights[l] != nullptr || grad_biases[l] != nullptr) lowest = std::min(lowest, l);
  }
  return for_each_chunk(problem, [&](const TileSpan& span) {
    JetMatrix<const float> upstream = packed_operand(problem, span, grad_out, problem.layers[last].out_width);
    for (int64_t l = last; l >= lowest; --l) {
      const JetLayer& layer = problem.layers[l];
      const int64_t width = layer.out_width;
      const GemmRows rows(span, layer);
      const JetModulation modulation = layer.modulation.from(span.first_network);
      PerNetwork<const float> pre_activation{nullptr, 0};
      if (layer.sine) pre_activation = saved_operand(problem, span, saved[sine_slot[l]], width);
      cudaError_t err = launch_jet_vjp({span, spec, problem.laplacian_weights, upstream, pre_activation, layer.omega,
                                        grad_z, width, modulation, modulation_rows},
                                       stream);
      if (err != cudaSuccess) return err;
      // The upstream gradient is spent: grad_input's buffer holds the point sums' partial sums
      // until the input gradient's GEMM overwrites it.
      if (grad_biases[l] != nullptr) {
        add_point_sums(gemm, span, rows, grad_z, width, ones, grad_input,
                       PerNetwork<float>{grad_biases[l], layer.bias_stride()}.from(span.first_network), stream);
      }
      if (modulation.modulated()) {
        err = add_modulation_gradients(gemm, span, spec, modulation, modulation_rows, width, ones, grad_input,
                                       grad_modulations[l], stream);
        if (err != cudaSuccess) return err;
      }

      if (grad_weights[l] != nullptr) {
        // The layer's input jet h: built from x, or recomputed from the saved pre-activations below.
        if (l == 0) {
          err = launch_build_input_jet(span, spec, problem.directions, x_networks.from(span.first_network),
                                       input_jet, stream);
        } else {
          const JetLayer& previous = problem.layers[l - 1];
          const PerNetwork<const float> previous_z =
              saved_operand(problem, span, saved[sine_slot[l - 1]], previous.out_width);
          err = launch_jet_epilogue({span, spec, problem.laplacian_weights, previous_z, {nullptr, 0}, {nullptr, 0},
                                     previous.omega, true, previous.out_width,
                                     workspace_operand(span, input_jet, previous.out_width), spec.components(),
                                     previous.modulation.from(span.first_network)},
                                    stream);
        }
        if (err != cudaSuccess) return err;
        // grad_W += grad_z^T h over the stacked rows (padding rows add zero: grad_z is zero there).
        const PerNetwork<float> grad_weight =
            PerNetwork<float>{grad_weights[l], layer.weight_stride()}.from(span.first_network);
        gemm.multiply({rows.batch, width, layer.in_width, rows.rows, tiled_gemm_operand(span, grad_z, width, true),
                       tiled_gemm_operand(span, input_jet, layer.in_width), grad_weight.data, layer.in_width,
                       grad_weight.stride, true},
                      stream);
      }

      // grad_input = grad_z W, where anything below asks for it. At the first layer only the value
      // component depends on x (the input tangents are constant unit vectors or directions), so only
      // its rows go on to x.
      if (l > lowest || (l == 0 && grad_x != nullptr)) {
        gemm.multiply({rows.batch, rows.rows, layer.in_width, width, tiled_gemm_operand(span, grad_z, width),
                       weight_gemm_operand(span, layer, false), grad_input, layer.in_width,
                       span.tiled_stride(layer.in_width), false},
                      stream);
      }
      if (l == 0 && grad_x != nullptr) {
        const PerNetwork<float> grad_x_networks{grad_x, problem.x_stride()};
        const JetMatrix<float> to_x{grad_x_networks.of(span.first_network), layer.in_width, true,
                                    grad_x_networks.stride};
        err = launch_jet_epilogue({span, spec, nullptr, {grad_input, span.tiled_stride(layer.in_width)},
                                   {nullptr, 0}, {nullptr, 0}, 0.0f, false, layer.in_width, to_x, 1, JetModulation{}},
                                  stream);
        if (err != cudaSuccess) return err;
      }
      upstream = workspace_operand<const float>(span, grad_input, layer.in_width);
    }
    return cudaSuccess;
  });
}

}  // namespace siren_fused::cuda
