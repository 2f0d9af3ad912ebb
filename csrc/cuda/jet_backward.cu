// Backward of the forward jet on the GPU, chunk by chunk in reverse layer order. Per layer: the
// sine jet's VJP (with the bias gradient), the layer's input jet recomputed from the previous
// layer's saved pre-activations (cheaper than storing it), the weight-gradient reduction, and the
// GEMM that carries the gradient to the previous layer (or, at the first layer, to x).
#include "jet_addressing.cuh"
#include "jet_cuda.h"
#include "jet_kernels.cuh"

namespace siren_fused::cuda {

int64_t jet_backward_workspace_elements(const JetProblem& problem) { return 3 * problem.chunk_buffer_elements(); }

cudaError_t jet_backward_cuda(const JetProblem& problem, const float* grad_out, const float* x,
                              const std::vector<const float*>& saved, float* grad_x,
                              const std::vector<float*>& grad_weights, const std::vector<float*>& grad_biases,
                              float* workspace, cudaStream_t stream) {
  if (problem.num_points == 0) return cudaSuccess;
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
  for (int64_t first_tile = 0; first_tile < problem.tiles(); first_tile += problem.chunk_tiles()) {
    const TileSpan span = chunk_span(problem, first_tile);
    JetMatrix<const float> upstream{grad_out, problem.layers[last].out_width, true};
    for (int64_t l = last; l >= 0; --l) {
      const JetLayer& layer = problem.layers[l];
      const int64_t width = layer.out_width;
      const float* pre_activation = layer.sine ? saved[sine_slot[l]] + chunk_offset(span, width) : nullptr;
      const JetVjpArgs vjp{span,        spec,   problem.laplacian_weights, upstream, pre_activation,
                           layer.omega, grad_z, width,                     grad_biases[l]};
      cudaError_t err = launch_jet_vjp(vjp, stream);
      if (err != cudaSuccess) return err;

      if (l == 0) {
        err = launch_build_input_jet(span, spec, x, input_jet, stream);
      } else {
        const JetLayer& previous = problem.layers[l - 1];
        err = launch_sine_jet(span, spec, problem.laplacian_weights,
                              saved[sine_slot[l - 1]] + chunk_offset(span, previous.out_width), previous.out_width,
                              previous.omega, input_jet, stream);
      }
      if (err != cudaSuccess) return err;
      err = launch_weight_grad(span, grad_z, width, input_jet, layer.in_width, grad_weights[l], stream);
      if (err != cudaSuccess) return err;

      // grad_input = grad_z W: B(kk, j) = W[kk, j]. At the first layer only the value component
      // depends on x (the input tangents are constant unit vectors), so one component goes to x.
      if (l > 0 || grad_x != nullptr) {
        JetMatrix<float> result{grad_input, layer.in_width, false};
        if (l == 0) result = {grad_x, layer.in_width, true};
        const JetGemmEpilogue pass_through{nullptr, 0.0f, false, nullptr, nullptr, result};
        const JetGemmArgs args{span,           spec, l > 0 ? spec.components() : 1, grad_z, width, layer.weight,
                               layer.in_width, 1,    layer.in_width,                pass_through};
        err = launch_jet_gemm(args, stream);
        if (err != cudaSuccess) return err;
      }
      upstream = {grad_input, layer.in_width, false};
    }
  }
  return cudaSuccess;
}

}  // namespace siren_fused::cuda
