// Host entry points of the CUDA jet kernels: raw device pointers, sizes and a stream in, a
// cudaError_t out. No torch header here, so the kernels compile with plain nvcc; the torch glue
// (jet_cuda.cpp) checks the tensors, allocates outputs and workspace, and reports the errors.
#pragma once


#include <algorithm>
#include <cstdint>
#include <vector>

#include "../jet_layout.h"
#include "../sine_jet.h"
#include "runtime.h"

namespace siren_fused::cuda {

// One linear layer, sin(omega * (W h + b)) when `sine`, else W h + b.
struct JetLayer {
  const float* weight;  // [out_width, in_width], row-major, on the device
  const float* bias;    // [out_width], on the device
  int64_t in_width;
  int64_t out_width;
  float omega;
  bool sine;
};

struct JetProblem {
  JetSpec spec;
  const float* laplacian_weights;  // [in_dims] on the device where spec.weighted_laplacian, else null
  int64_t num_points;  // N
  int64_t tile_rows;   // T = jet_tile_rows(components, max_width): the saved tensors' layout
  std::vector<JetLayer> layers;

  int64_t max_width() const {
    int64_t width = spec.in_dims;
    for (const JetLayer& layer : layers) width = std::max({width, layer.in_width, layer.out_width});
    return width;
  }
  int64_t tiles() const { return jet_tile_count(num_points, tile_rows); }
  // The batch is processed in chunks of whole tiles so the workspace stays bounded (about 64 MB
  // a buffer) however large N is; every kernel of a chunk runs before the next chunk starts.
  int64_t chunk_tiles() const {
    constexpr int64_t kChunkElements = int64_t(1) << 24;
    const int64_t per_tile = spec.components() * tile_rows * max_width();
    return std::min(std::max<int64_t>(1, kChunkElements / per_tile), std::max<int64_t>(1, tiles()));
  }
  // One tiled jet buffer [chunk_tiles, components, tile_rows, max_width].
  int64_t chunk_buffer_elements() const { return chunk_tiles() * spec.components() * tile_rows * max_width(); }
};

// Forward: out is the packed jet [components, N, out_width of the last layer]; saved is empty or
// holds one [tiles, components, tile_rows, width] pre-activation jet per sine layer, in order.
// Runs the whole-network kernel below where it applies (then no workspace), else one kernel a layer.
int64_t jet_forward_workspace_elements(const JetProblem& problem);
cudaError_t jet_forward_cuda(const JetProblem& problem, const float* x, float* out, const std::vector<float*>& saved,
                             float* workspace, cudaStream_t stream);

// jet_forward_fused.cu: the same forward as one kernel through every layer, for narrow networks:
// every width (in_dims included) at most 128, at most 32 layers, in_dims at most 3 when order > 0,
// and a block's shared memory within the current device's limit. Needs no workspace.
bool jet_forward_fused_supported(const JetProblem& problem);
cudaError_t jet_forward_fused_cuda(const JetProblem& problem, const float* x, float* out,
                                   const std::vector<float*>& saved, cudaStream_t stream);

// Backward: accumulates into grad_weights / grad_biases (zeroed by the caller) and writes grad_x
// [N, in_dims] unless it is null. grad_out is packed like the forward's output.
int64_t jet_backward_workspace_elements(const JetProblem& problem);
cudaError_t jet_backward_cuda(const JetProblem& problem, const float* grad_out, const float* x,
                              const std::vector<const float*>& saved, float* grad_x,
                              const std::vector<float*>& grad_weights, const std::vector<float*>& grad_biases,
                              float* workspace, cudaStream_t stream);

}  // namespace siren_fused::cuda
