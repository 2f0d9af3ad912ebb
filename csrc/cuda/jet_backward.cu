// Backward of the forward jet on the GPU, chunk by chunk in reverse layer order. Per layer: the
// sine jet's VJP (with the bias gradient), the layer's input jet recomputed from the previous
// layer's saved pre-activations (cheaper than storing it), the weight-gradient reduction, and the
// GEMM that carries the gradient to the previous layer (or, at the first layer, to x). Every
// launch covers all networks of the chunk.
#include "jet_addressing.cuh"
#include "jet_cuda.h"
#include "jet_kernels.cuh"

namespace siren_fused::cuda {

int64_t jet_backward_workspace_elements(const JetProblem& problem) { return 3 * problem.chunk_buffer_elements(); }

cudaError_t jet_backward_cuda(const JetProblem& problem, const float* grad_out, const float* x,
                              const std::vector<const float*>& saved, float* grad_x,
                              const std::vector<float*>& grad_weights, const std::vector<float*>& grad_biases,
                              float* workspace, cudaStream_t stream) {
  if (problem.num_points == 0 || problem.networks == 0) return cudaSuccess;
  const JetSpec& spec = problem.spec;
  const int64_t last = static_cast<int64_t>(problem.layers.size()) - 1;
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
  float* grad_z = workspace;                 // gradient of the layer's pre-activation jet
  float* grad_input = workspace + buffer;    // gradient of the layer's input jet
  float* input_jet = workspace + 2 * buffer;  // the layer's input jet
  const PerNetwork<const float> x_networks{x, problem.x_stride()};
  return for_each_chunk(problem, [&](const TileSpan& span) {
    JetMatrix<const float> upstream = packed_operand(problem, span, grad_out, problem.layers[last].out_width);
    for (int64_t l = last; l >= 0; --l) {
      const JetLayer& layer = problem.layers[l];
      const int64_t width = layer.out_width;
      PerNetwork<const float> pre_activation{nullptr, 0};
      if (layer.sine) pre_activation = saved_operand(problem, span, saved[sine_slot[l]], width);
      const JetVjpArgs vjp{span,        spec,   problem.laplacian_weights, upstream, pre_activation,
                           layer.omega, grad_z, width,
                           PerNetwork<float>{grad_biases[l], layer.bias_stride()}.from(span.first_network)};
      cudaError_t err = launch_jet_vjp(vjp, stream);
      if (err != cudaSuccess) return err;

      if (l == 0) {
        err = launch_build_input_jet(span, spec, x_networks.from(span.first_network), input_jet, stream);
      } else {
        const JetLayer& previous = problem.layers[l - 1];
        err = launch_sine_jet(span, spec, problem.laplacian_weights,
                              saved_operand(problem, span, saved[sine_slot[l - 1]], previous.out_width),
                              previous.out_width, previous.omega, input_jet, stream);
      }
      if (err != cudaSuccess) return err;
      err = launch_weight_grad(span, grad_z, width, input_jet, layer.in_width,
                               PerNetwork<float>{grad_weights[l], layer.weight_stride()}.from(span.first_network),
                               stream);
      if (err != cudaSuccess) return err;

      // grad_input = grad_z W: B(kk, j) = W[kk, j]. At the first layer only the value component
      // depends on x (the input tangents are constant unit vectors), so one component goes to x.
      if (l > 0 || grad_x != nullptr) {
        JetMatrix<float> result = workspace_operand(span, grad_input, layer.in_width);
        if (l == 0) {
          const PerNetwork<float> grad_x_networks{grad_x, problem.x_stride()};
          result = {grad_x_networks.of(span.first_network), layer.in_width, true, grad_x_networks.stride};
        }
        const JetGemmEpilogue pass_through{{nullptr, 0}, 0.0f, false, nullptr, {nullptr, 0}, result};
        const JetGemmArgs args{span,
                               spec,
                               l > 0 ? spec.components() : 1,
                               grad_z,
                               width,
                               layer.weights().from(span.first_network),
                               layer.in_width,
                               1,
                               layer.in_width,
                               pass_through};
        err = launch_jet_gemm(args, stream);
        if (err != cudaSuccess) return err;
      }
      upstream = workspace_operand<const float>(span, grad_input, layer.in_width);
    }
    return cudaSuccess;
  });
}

}  // namespace siren_fused::cuda
