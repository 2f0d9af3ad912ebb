// Forward jet on the GPU. Narrow networks run as one kernel through every layer
// (jet_forward_fused.cu); the others chunk by chunk: the input jet, then per layer the library
// GEMM z = h W^T over the stacked components (the tiled jet is a plain row-major matrix, leading
// dimension the width; batched over the chunk's networks, or one GEMM over all of them where they
// share the weights) and the elementwise epilogue (bias, the saved pre-activation, a modulated
// SIREN's modulation, the sine jet rule). Only the output and, when saving, the pre-activation
// jets reach tensors the caller sees: the GEMM writes a saved layer's result straight into its
// saved tensor.
#include "jet_addressing.cuh"
#include "jet_cuda.h"
#include "jet_kernels.cuh"

namespace siren_fused::cuda {

namespace {

// Today's rule, kept until a GPU measures the whole-network kernel against the library GEMMs at widths
// 32 to 128 (benchmarks/gpu_check.sh): wherever the kernel applies.
bool takes_whole_network_kernel(const JetProblem& problem) {
  return problem.whole_network_kernel && jet_forward_fused_supported(problem);
}

}  // namespace

int64_t jet_forward_workspace_elements(const JetProblem& problem) {
  return takes_whole_network_kernel(problem) ? 0 : 2 * problem.chunk_buffer_elements();
}

cudaError_t jet_forward_cuda(const JetProblem& problem, const GemmLibrary& gemm, const float* x, float* out,
                             const std::vector<float*>& saved, float* workspace, cudaStream_t stream) {
  if (problem.num_points == 0 || problem.networks == 0) return cudaSuccess;
  if (takes_whole_network_kernel(problem)) return jet_forward_fused_cuda(problem, x, out, saved, stream);
  const JetSpec& spec = problem.spec;
  const int64_t last = static_cast<int64_t>(problem.layers.size()) - 1;
  float* jet = workspace;  // the jet entering a layer; the epilogue writes the next one over it
  float* unsaved_z = workspace + problem.chunk_buffer_elements();  // a GEMM result nothing keeps
  return for_each_chunk(problem, [&](const TileSpan& span) {
    cudaError_t err =
        launch_build_input_jet(span, spec, problem.directions,
                               PerNetwork<const float>{x, problem.x_stride()}.from(span.first_network), jet, stream);
    if (err != cudaSuccess) return err;
    size_t sine_index = 0;
    for (int64_t l = 0; l <= last; ++l) {
      const JetLayer& layer = problem.layers[l];
      const int64_t width = layer.out_width;
      const bool keep = layer.sine && !saved.empty();
      const PerNetwork<float> z = keep ? saved_operand(problem, span, saved[sine_index], width)
                                       : PerNetwork<float>{unsaved_z, span.tiled_stride(width)};
      const GemmRows rows(span, layer);
      gemm.multiply({rows.batch, rows.rows, width, layer.in_width, tiled_gemm_operand(span, jet, layer.in_width),
                     weight_gemm_operand(span, layer, true), z.data, width, z.stride, false},
                    stream);
      const JetEpilogueArgs epilogue{span,
                                     spec,
                                     problem.laplacian_weights,
                                     {z.data, z.stride},
                                     layer.biases().from(span.first_network),
                                     keep ? z : PerNetwork<float>{nullptr, 0},
                                     layer.omega,
                                     layer.sine,
                                     width,
                                     l == last ? packed_operand(problem, span, out, width)
                                               : workspace_operand(span, jet, width),
                                     spec.components(),
                                     layer.modulation.from(span.first_network)};
      err = launch_jet_epilogue(epilogue, stream);
      if (err != cudaSuccess) return err;
      if (keep) ++sine_index;
    }
    return cudaSuccess;
  });
}

}  // namespace siren_fused::cuda
