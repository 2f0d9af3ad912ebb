// One layer as one kernel: an FFMA GEMM over the stacked components of the jet with the bias
// add and the sine jet rule in its epilogue.
//
// The sine rule at a (point, neuron) needs every component of that point, which the tiled
// layout keeps tile_rows apart. So a block takes `points` consecutive rows of one tile and all of
// their components (block-local row m = c * points + p), computes their [components * points, 64]
// result in passes of 64 rows into shared memory, and then applies the epilogue per
// (point, column) with all components at hand. Grid: x over (tile, block of points), y over
// blocks of 64 columns, z over the span's networks.
#include <algorithm>

#include "jet_kernels.cuh"
#include "sine_jet_point.cuh"

namespace siren_fused::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kPassRows = 64;  // rows of one GEMM pass: 16 thread rows x 4
constexpr int kBlockCols = 64;  // 16 thread columns x 4
constexpr int kBlockK = 16;
constexpr int kMicro = 4;
constexpr int kThreadCols = kBlockCols / kMicro;

// Applies the epilogue to one (point, column) of a network; z points at its value component in
// shared memory.
__device__ void jet_gemm_epilogue(const JetGemmArgs& args, int64_t network, int64_t tile, int64_t row, int64_t col,
                                  float* z, int64_t z_stride) {
  const JetGemmEpilogue& epilogue = args.epilogue;
  const TileSpan& span = args.span;
  const int64_t components = args.computed_components;
  if (epilogue.bias.data != nullptr) z[0] += epilogue.bias.of(network)[col];
  if (epilogue.pre_activation.data != nullptr) {
    float* kept = epilogue.pre_activation.of(network) + span.tiled_row(tile, 0, row) * args.n + col;
    for (int64_t c = 0; c < components; ++c) kept[c * span.tile_rows * args.n] = z[c * z_stride];
  }
  const JetMatrix<float> out = epilogue.out.of_network(network);
  if (out.packed && !span.valid(tile, row)) return;
  float* y = out.data + out.offset(span, tile, row, col);
  const int64_t y_stride = out.component_stride(span);
  if (epilogue.sine) {
    sine_jet_forward_point(args.spec, epilogue.laplacian_weights, epilogue.omega, z, z_stride, y, y_stride);
  } else {
    for (int64_t c = 0; c < components; ++c) y[c * y_stride] = z[c * z_stride];
  }
}

__global__ void __launch_bounds__(kThreads)
    jet_gemm_kernel(JetGemmArgs args, int64_t points, int64_t blocks_per_tile) {
  SIREN_DYNAMIC_SHARED(float, result);  // [computed_components * points, kBlockCols]
  __shared__ float a_tile[kBlockK][kPassRows + 1];  // +1: the loads' column writes avoid bank conflicts
  __shared__ float b_tile[kBlockK][kBlockCols + 1];

  const TileSpan& span = args.span;
  const int64_t network = blockIdx.z;
  const float* a = args.a + network * span.tiled_stride(args.k);
  const float* b = args.b.of(network);
  const int64_t tile = blockIdx.x / blocks_per_tile;
  const int64_t first_row = (blockIdx.x % blocks_per_tile) * points;
  const int64_t first_col = static_cast<int64_t>(blockIdx.y) * kBlockCols;
  const int64_t block_rows = args.computed_components * points;
  const int tid = threadIdx.x;
  const int thread_col = tid % kThreadCols;
  const int thread_row = tid / kThreadCols;

  for (int64_t pass = 0; pass < block_rows; pass += kPassRows) {
    float acc[kMicro][kMicro] = {};
    for (int64_t k0 = 0; k0 < args.k; k0 += kBlockK) {
      for (int e = tid; e < kBlockK * kPassRows; e += kThreads) {
        const int kk = e % kBlockK;
        const int m = e / kBlockK;
        const int64_t local = pass + m;
        const int64_t row = first_row + local % points;
        float v = 0.0f;
        if (local < block_rows && row < span.tile_rows && k0 + kk < args.k) {
          v = a[span.tiled_row(tile, local / points, row) * args.k + k0 + kk];
        }
        a_tile[kk][m] = v;
      }
      for (int e = tid; e < kBlockK * kBlockCols; e += kThreads) {
        const int kk = e % kBlockK;
        const int j = e / kBlockK;
        float v = 0.0f;
        if (first_col + j < args.n && k0 + kk < args.k) {
          v = b[(k0 + kk) * args.b_stride_k + (first_col + j) * args.b_stride_n];
        }
        b_tile[kk][j] = v;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kBlockK; ++kk) {
        float a[kMicro], b[kMicro];
#pragma unroll
        for (int i = 0; i < kMicro; ++i) a[i] = a_tile[kk][thread_row * kMicro + i];
#pragma unroll
        for (int j = 0; j < kMicro; ++j) b[j] = b_tile[kk][thread_col * kMicro + j];
#pragma unroll
        for (int i = 0; i < kMicro; ++i) {
#pragma unroll
          for (int j = 0; j < kMicro; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
      }
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < kMicro; ++i) {
      const int64_t local = pass + thread_row * kMicro + i;
      if (local >= block_rows) continue;
#pragma unroll
      for (int j = 0; j < kMicro; ++j) result[local * kBlockCols + thread_col * kMicro + j] = acc[i][j];
    }
  }
  __syncthreads();

  const int64_t z_stride = points * kBlockCols;  // between components of one (point, column)
  for (int64_t e = tid; e < points * kBlockCols; e += kThreads) {
    const int64_t p = e / kBlockCols;
    const int64_t j = e % kBlockCols;
    const int64_t row = first_row + p;
    const int64_t col = first_col + j;
    if (row >= span.tile_rows || col >= args.n) continue;
    jet_gemm_epilogue(args, network, tile, row, col, result + p * kBlockCols + j, z_stride);
  }
}

}  // namespace

cudaError_t launch_jet_gemm(const JetGemmArgs& args, cudaStream_t stream) {
  if (args.span.tiles == 0 || args.span.networks == 0 || args.n == 0) return cudaSuccess;
  if (args.computed_components < 1 || args.computed_components > args.span.components) return cudaErrorInvalidValue;
  // Enough points that a pass is nearly full, but no more than a tile holds.
  const int64_t points = std::max<int64_t>(1, std::min<int64_t>(kPassRows / args.computed_components,
                                                                args.span.tile_rows));
  const int64_t blocks_per_tile = ceil_div(args.span.tile_rows, points);
  const size_t result_bytes = sizeof(float) * args.computed_components * points * kBlockCols;
  // Many components (large Hessians) need more than the default 48 KB of shared memory.
  const cudaError_t err = allow_dynamic_shared(jet_gemm_kernel, result_bytes);
  if (err != cudaSuccess) return err;
  const dim3 grid(static_cast<unsigned>(args.span.tiles * blocks_per_tile),
                  static_cast<unsigned>(ceil_div(args.n, kBlockCols)), static_cast<unsigned>(args.span.networks));
  return launch_kernel(jet_gemm_kernel, grid, kThreads, result_bytes, stream, args, points, blocks_per_tile);
}

}  // namespace siren_fused::cuda
