// Forward jet on the GPU. Narrow networks run as one kernel through every layer
// (jet_forward_fused.cu); the others chunk by chunk: the input jet, then one fused GEMM +
// sine-jet kernel per layer, ping-ponging between two workspace buffers, each launch covering
// every network of the chunk. Either way only the output and, when saving, the pre-activation jets
// reach tensors the caller sees.
#include "jet_addressing.cuh"
#include "jet_cuda.h"
#include "jet_kernels.cuh"

namespace siren_fused::cuda {

int64_t jet_forward_workspace_elements(const JetProblem& problem) {
  return jet_forward_fused_supported(problem) ? 0 : 2 * problem.chunk_buffer_elements();
}

cudaError_t jet_forward_cuda(const JetProblem& problem, const float* x, float* out, const std::vector<float*>& saved,
                             float* workspace, cudaStream_t stream) {
  if (problem.num_points == 0 || problem.networks == 0) return cudaSuccess;
  if (jet_forward_fused_supported(problem)) return jet_forward_fused_cuda(problem, x, out, saved, stream);
  const JetSpec& spec = problem.spec;
  const int64_t last = static_cast<int64_t>(problem.layers.size()) - 1;
  float* jets[2] = {workspace, workspace + problem.chunk_buffer_elements()};
  return for_each_chunk(problem, [&](const TileSpan& span) {
    cudaError_t err =
        launch_build_input_jet(span, spec, PerNetwork<const float>{x, problem.x_stride()}.from(span.first_network),
                               jets[0], stream);
    if (err != cudaSuccess) return err;
    int current = 0;  // jets[current] holds the jet entering layer l
    size_t sine_index = 0;
    for (int64_t l = 0; l <= last; ++l) {
      const JetLayer& layer = problem.layers[l];
      const int64_t width = layer.out_width;
      PerNetwork<float> pre_activation{nullptr, 0};
      if (layer.sine && !saved.empty()) pre_activation = saved_operand(problem, span, saved[sine_index], width);
      const JetMatrix<float> result = l == last ? packed_operand(problem, span, out, width)
                                                : workspace_operand(span, jets[1 - current], width);
      // z = h W^T: B(kk, j) = W[j, kk].
      const JetGemmEpilogue epilogue{layer.biases().from(span.first_network), layer.omega, layer.sine,
                                     problem.laplacian_weights, pre_activation, result};
      const JetGemmArgs args{span, spec, spec.components(), jets[current], layer.in_width,
                             layer.weights().from(span.first_network), 1, layer.in_width, width, epilogue};
      err = launch_jet_gemm(args, stream);
      if (err != cudaSuccess) return err;
      current = 1 - current;
      if (layer.sine) ++sine_index;
    }
    return cudaSuccess;
  });
}

}  // namespace siren_fused::cuda
