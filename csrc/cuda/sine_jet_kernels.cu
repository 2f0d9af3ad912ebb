// Elementwise passes of the sine jet rule over whole spans: the forward rule (backward uses it to
// recompute each layer's input jet) and its vector-Jacobian product with the bias gradient.
#include "jet_kernels.cuh"
#include "sine_jet_point.cuh"

namespace siren_fused::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kVjpCols = 32;  // one warp along the neurons, so loads and stores coalesce
constexpr int kVjpPoints = 8;

// Grid: x over the span's points x width, y over its networks.
__global__ void sine_jet_kernel(TileSpan span, JetSpec spec, const float* laplacian_weights,
                                PerNetwork<const float> pre_activations, int64_t width, float omega, float* jets) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= span.span_points() * width) return;
  const float* pre_activation = pre_activations.of(blockIdx.y);
  float* jet = jets + blockIdx.y * span.tiled_stride(width);
  const int64_t col = index % width;
  const int64_t point = index / width;
  const int64_t offset = span.tiled_row(point / span.tile_rows, 0, point % span.tile_rows) * width + col;
  const int64_t stride = span.tile_rows * width;
  sine_jet_forward_point(spec, laplacian_weights, omega, pre_activation + offset, stride, jet + offset, stride);
}

// Grid: x over blocks of points, y over blocks of columns, z over the span's networks.
__global__ void jet_vjp_kernel(JetVjpArgs args) {
  __shared__ float value_grads[kVjpPoints][kVjpCols];
  const TileSpan& span = args.span;
  const int64_t network = blockIdx.z;
  const int64_t col = static_cast<int64_t>(blockIdx.y) * kVjpCols + threadIdx.x;
  const int64_t point = static_cast<int64_t>(blockIdx.x) * kVjpPoints + threadIdx.y;
  float value_grad = 0.0f;
  if (col < args.width && point < span.span_points()) {
    const int64_t tile = point / span.tile_rows;
    const int64_t row = point % span.tile_rows;
    const int64_t offset = span.tiled_row(tile, 0, row) * args.width + col;
    const int64_t stride = span.tile_rows * args.width;
    float* gz = args.grad_z + network * span.tiled_stride(args.width) + offset;
    const int64_t components = span.components;
    if (!span.valid(tile, row)) {
      // Padding rows get zero gradient, so the GEMMs over stacked rows may include them.
      for (int64_t c = 0; c < components; ++c) gz[c * stride] = 0.0f;
    } else {
      const JetMatrix<const float> upstream = args.upstream.of_network(network);
      const float* g = upstream.data + upstream.offset(span, tile, row, col);
      const int64_t g_stride = upstream.component_stride(span);
      if (args.pre_activation.data != nullptr) {
        sine_jet_vjp_point(args.spec, args.laplacian_weights, args.omega, args.pre_activation.of(network) + offset,
                           stride, g, g_stride, gz, stride);
      } else {
        for (int64_t c = 0; c < components; ++c) gz[c * stride] = g[c * g_stride];
      }
      value_grad = gz[0];
    }
  }
  // The bias is added to the value component only: its gradient sums the value gradients.
  value_grads[threadIdx.y][threadIdx.x] = value_grad;
  __syncthreads();
  if (threadIdx.y == 0 && col < args.width) {
    float sum = 0.0f;
    for (int p = 0; p < kVjpPoints; ++p) sum += value_grads[p][threadIdx.x];
    atomicAdd(args.grad_bias.of(network) + col, sum);
  }
}

}  // namespace

cudaError_t launch_sine_jet(const TileSpan& span, const JetSpec& spec, const float* laplacian_weights,
                            PerNetwork<const float> pre_activation, int64_t width, float omega, float* jet,
                            cudaStream_t stream) {
  const int64_t count = span.span_points() * width;
  if (count == 0 || span.networks == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>(ceil_div(count, kThreads)), static_cast<unsigned>(span.networks));
  return launch_kernel(sine_jet_kernel, grid, kThreads, 0, stream, span, spec, laplacian_weights, pre_activation,
                       width, omega, jet);
}

cudaError_t launch_jet_vjp(const JetVjpArgs& args, cudaStream_t stream) {
  if (args.span.span_points() == 0 || args.span.networks == 0 || args.width == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>(ceil_div(args.span.span_points(), kVjpPoints)),
                  static_cast<unsigned>(ceil_div(args.width, kVjpCols)), static_cast<unsigned>(args.span.networks));
  return launch_kernel(jet_vjp_kernel, grid, dim3(kVjpCols, kVjpPoints), 0, stream, args);
}

}  // namespace siren_fused::cuda
