// Weight gradient of one layer: grad_weight += grad_z^T input_jet, a reduction over every
// stacked row (components x points) of a span, for each of its networks. The rows are split
// across blocks so the long reduction fills the device; each block adds its partial 32 x 32 tile
// with atomics. Grid: x over tiles of in_width, y over tiles of out_width, z over (network, split)
// pairs, network-major: z = network * splits + split, which keeps splits x networks within the
// z limit of 65535 by taking fewer splits a network when there are many networks.
#include <algorithm>

#include "jet_kernels.cuh"

namespace siren_fused::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kTile = 32;  // output tile: kTile rows of grad_weight x kTile columns
constexpr int kRowsPerStep = 32;
constexpr int kMicro = kTile * kTile / kThreads;  // outputs per thread, along grad_weight's rows
constexpr int kTargetBlocks = 2048;               // enough to fill a large GPU several times over

__global__ void __launch_bounds__(kThreads)
    weight_grad_kernel(TileSpan span, const float* grad_zs, int64_t out_width, const float* input_jets,
                       int64_t in_width, PerNetwork<float> grad_weights, int64_t splits, int64_t rows_per_split) {
  __shared__ float grad_tile[kRowsPerStep][kTile + 1];
  __shared__ float input_tile[kRowsPerStep][kTile + 1];
  const int64_t first_out = static_cast<int64_t>(blockIdx.y) * kTile;
  const int64_t first_in = static_cast<int64_t>(blockIdx.x) * kTile;
  const int64_t network = blockIdx.z / splits;
  const float* grad_z = grad_zs + network * span.tiled_stride(out_width);
  const float* input_jet = input_jets + network * span.tiled_stride(in_width);
  float* grad_weight = grad_weights.of(network);
  const int64_t row_begin = (blockIdx.z % splits) * rows_per_split;
  const int64_t row_end =
      row_begin + rows_per_split < span.stacked_rows() ? row_begin + rows_per_split : span.stacked_rows();
  const int tid = threadIdx.x;
  const int thread_in = tid % kTile;
  const int thread_out = tid / kTile;

  float acc[kMicro] = {};
  for (int64_t step = row_begin; step < row_end; step += kRowsPerStep) {
    for (int e = tid; e < kRowsPerStep * kTile; e += kThreads) {
      const int r = e / kTile;
      const int c = e % kTile;
      const int64_t stacked_row = step + r;
      const bool real = stacked_row < row_end && span.stacked_row_valid(stacked_row);
      grad_tile[r][c] = (real && first_out + c < out_width) ? grad_z[stacked_row * out_width + first_out + c] : 0.0f;
      input_tile[r][c] = (real && first_in + c < in_width) ? input_jet[stacked_row * in_width + first_in + c] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int r = 0; r < kRowsPerStep; ++r) {
      const float h = input_tile[r][thread_in];
#pragma unroll
      for (int i = 0; i < kMicro; ++i) acc[i] = fmaf(grad_tile[r][thread_out * kMicro + i], h, acc[i]);
    }
    __syncthreads();
  }
  const int64_t in = first_in + thread_in;
#pragma unroll
  for (int i = 0; i < kMicro; ++i) {
    const int64_t out = first_out + thread_out * kMicro + i;
    if (out < out_width && in < in_width) atomicAdd(grad_weight + out * in_width + in, acc[i]);
  }
}

}  // namespace

cudaError_t launch_weight_grad(const TileSpan& span, const float* grad_z, int64_t out_width, const float* input_jet,
                               int64_t in_width, PerNetwork<float> grad_weight, cudaStream_t stream) {
  const int64_t rows = span.stacked_rows();
  if (rows == 0 || span.networks == 0 || out_width == 0 || in_width == 0) return cudaSuccess;
  const int64_t tiles_in = ceil_div(in_width, kTile);
  const int64_t tiles_out = ceil_div(out_width, kTile);
  // The target counts every network's blocks; span.networks <= kMaxGridNetworks leaves at least one split.
  const int64_t max_splits = std::min<int64_t>(kMaxGridNetworks / span.networks, ceil_div(rows, kRowsPerStep));
  const int64_t wanted = kTargetBlocks / (tiles_in * tiles_out * span.networks);
  const int64_t rows_per_split =
      ceil_div(ceil_div(rows, std::clamp<int64_t>(wanted, 1, max_splits)), kRowsPerStep) * kRowsPerStep;
  const int64_t splits = ceil_div(rows, rows_per_split);  // every split has rows
  const dim3 grid(static_cast<unsigned>(tiles_in), static_cast<unsigned>(tiles_out),
                  static_cast<unsigned>(splits * span.networks));
  return launch_kernel(weight_grad_kernel, grid, kThreads, 0, stream, span, grad_z, out_width, input_jet, in_width,
                       grad_weight, splits, rows_per_split);
}

}  // namespace siren_fused::cuda
