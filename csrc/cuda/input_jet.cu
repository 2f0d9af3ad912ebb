// The input jet of the first layer, built on the device from x.
#include "jet_kernels.cuh"

namespace siren_fused::cuda {

namespace {

constexpr int kThreads = 256;

// Grid: x over the span's stacked rows x in_dims, y over its networks.
__global__ void build_input_jet_kernel(TileSpan span, JetSpec spec, const float* directions,
                                       PerNetwork<const float> x_networks, float* input_jets) {
  const int64_t d = spec.in_dims;
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= span.stacked_rows() * d) return;
  const float* x = x_networks.of(blockIdx.y);
  float* input_jet = input_jets + blockIdx.y * span.tiled_stride(d);
  const int64_t k = index % d;
  const int64_t stacked_row = index / d;
  const int64_t row = stacked_row % span.tile_rows;
  const int64_t c = (stacked_row / span.tile_rows) % span.components;
  const int64_t tile = stacked_row / (span.tile_rows * span.components);
  float v = 0.0f;
  if (c == 0) {
    if (span.valid(tile, row)) v = x[span.point(tile, row) * d + k];
  } else if (c <= spec.tangent_count()) {
    // Tangent c-1 is the unit vector e_{c-1} or direction c-1, padding rows too.
    v = directions != nullptr ? directions[(c - 1) * d + k] : (c - 1 == k) ? 1.0f : 0.0f;
  }
  input_jet[index] = v;
}

}  // namespace

cudaError_t launch_build_input_jet(const TileSpan& span, const JetSpec& spec, const float* directions,
                                   PerNetwork<const float> x, float* input_jet, cudaStream_t stream) {
  const int64_t count = span.stacked_rows() * spec.in_dims;
  if (count == 0 || span.networks == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>(ceil_div(count, kThreads)), static_cast<unsigned>(span.networks));
  return launch_kernel(build_input_jet_kernel, grid, kThreads, 0, stream, span, spec, directions, x, input_jet);
}

}  // namespace siren_fused::cuda
