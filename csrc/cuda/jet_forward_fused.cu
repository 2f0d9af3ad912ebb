// Forward jet of a whole narrow network in one kernel, the shape of tiny-cuda-nn's fully fused
// MLP: a block takes its points through every layer with their jet in shared memory, staging one
// layer's weights at a time beside it, so no jet goes to global memory between layers. Only the
// output and, when saving, each sine layer's pre-activation jet (the tiled layout backward reads)
// are written.
//
// Instances are templated on the width every layer is zero-padded to (16, 32, 64 or 128) and on
// the jet's shape (input dimensions, order, Laplacian or Hessian), so a thread holds every
// component of its outputs in registers and applies the sine jet rule there. The matmul is
// float32 FFMA over k in order; the per-layer path's library GEMM sums in its own order, so the
// two paths agree to float32 rounding, not bit for bit.
//
// It runs wherever it applies (jet_forward_fused_supported), as before the per-layer path moved to
// library GEMMs: whether it still beats them at widths 32 to 128 is for benchmarks/gpu_check.sh to
// measure on a GPU, and the dispatch to follow.
//
// Grid: x over blocks of points, y over networks (each block stages its own network's weights).
// A batch of more than kMaxGridNetworks networks takes one launch per kMaxGridNetworks.
#include <algorithm>
#include <cstddef>

#include "jet_cuda.h"
#include "jet_kernels.cuh"
#include "sine_jet_point.cuh"

namespace siren_fused::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kColsPerThread = 4;  // consecutive output columns of a thread: one float4
constexpr int kMaxLayers = 32;     // layers the kernel's parameters carry; deeper networks go per layer

struct FusedLayer {
  PerNetwork<const float> weight;  // [networks, out_width, in_width], row-major
  PerNetwork<const float> bias;    // [networks, out_width]
  PerNetwork<float> saved;  // [networks, tiles, components, tile_rows, out_width] pre-activation jet, or null data
  int in_width;
  int out_width;
  float omega;
  bool sine;
};

struct FusedArgs {
  PerNetwork<const float> x;  // [networks, num_points, in_dims]
  PerNetwork<float> out;      // [networks, components, num_points, out_width of the last layer]
  int64_t first_network;      // of this launch: network first_network + blockIdx.y
  // The Laplacian's a_k where weighted_laplacian: a run-time switch, not an instance of its own,
  // since the device's rule branches on it once per element, the same way in every thread.
  const float* laplacian_weights;
  bool weighted_laplacian;
  int64_t num_points;
  int64_t padded_points;  // tiles * tile_rows: the points the saved layout holds, padding included
  int64_t tile_rows;
  int in_dims;
  int layers;
  FusedLayer layer[kMaxLayers];
};

// One kernel instance: the padded width and the jet's shape, and the block tile they imply.
template <int kWidthValue, int kInDimsValue, int kOrderValue, bool kHessianValue>
struct FusedConfig {
  static constexpr int kWidth = kWidthValue;
  static constexpr int kInDims = kInDimsValue;  // 0 at order 0: no tangents, any input dimension
  static constexpr int kOrder = kOrderValue;
  static constexpr bool kHessian = kHessianValue;
  static constexpr int kSecond = kOrder < 2 ? 0 : (kHessian ? kInDims * (kInDims + 1) / 2 : 1);
  static constexpr int kComponents = 1 + (kOrder >= 1 ? kInDims : 0) + kSecond;
  // Threads tile the block's outputs: kThreadCols across the columns (4 each), kThreadRows
  // across the points, each thread kRowsPerThread points apart by kThreadRows.
  static constexpr int kThreadCols = kWidth / kColsPerThread;
  static constexpr int kThreadRows = kThreads / kThreadCols;
  // A thread accumulates components x points x 4 columns: 8 / components points keeps that at
  // 20 to 40 registers, and the block's jet at 21 to 51 KB of shared memory.
  static constexpr int kRowsPerThread = kComponents >= 8 ? 1 : 8 / kComponents;
  static constexpr int kRows = kThreadRows * kRowsPerThread;  // points per block
  // +4 floats a jet row: rows read by one quarter-warp start in different banks, and stay
  // float4-aligned.
  static constexpr int kJetStride = kWidth + 4;
  // Transposed weights [k][j] (kWidth x kWidth), the bias, the jet [components][kRows][stride].
  static constexpr size_t kSharedBytes =
      sizeof(float) * (static_cast<size_t>(kWidth) * kWidth + kWidth + kComponents * kRows * kJetStride);

  __device__ static JetSpec spec(int in_dims, bool weighted_laplacian) {
    return {kInDims > 0 ? kInDims : in_dims, kOrder, kHessian, weighted_laplacian};
  }
};

__device__ __forceinline__ int round_up_4(int n) { return (n + 3) & ~3; }

// The input jet of the block's points into columns [0, round_up_4(in_dims)): value x (zero past
// the batch), tangents the unit vectors, second-order part zero; what launch_build_input_jet
// writes, padding columns zero so the matmul may read them.
template <typename Config>
__device__ void load_input_jet(const FusedArgs& args, const float* x, int64_t first_point, float* jet) {
  constexpr int kRows = Config::kRows;
  const int d = args.in_dims;
  const int cols = round_up_4(d);
  const int tangents = Config::kOrder >= 1 ? d : 0;
  for (int e = threadIdx.x; e < Config::kComponents * kRows * cols; e += kThreads) {
    const int k = e % cols;
    const int row = (e / cols) % kRows;
    const int c = e / (cols * kRows);
    const int64_t point = first_point + row;
    float v = 0.0f;
    if (c == 0) {
      if (k < d && point < args.num_points) v = x[point * d + k];
    } else if (c <= tangents) {
      v = (c - 1 == k) ? 1.0f : 0.0f;
    }
    jet[(c * kRows + row) * Config::kJetStride + k] = v;
  }
}

// The layer's weights, transposed to [k][j] so a thread reads its 4 columns as one float4, and
// its bias; zero past the layer's widths, so padded columns come out zero and padded k add zero.
template <typename Config>
__device__ void stage_layer(const FusedLayer& layer, int64_t network, float* weight_t, float* bias) {
  constexpr int kWidth = Config::kWidth;
  const float* layer_weight = layer.weight.of(network);
  const float* layer_bias = layer.bias.of(network);
  const int k_count = round_up_4(layer.in_width);
  // Consecutive threads take consecutive j: conflict-free shared stores; the strided global
  // loads hit L1 again for the next k of the same rows.
  for (int e = threadIdx.x; e < k_count * kWidth; e += kThreads) {
    const int j = e % kWidth;
    const int k = e / kWidth;
    const bool real = j < layer.out_width && k < layer.in_width;
    weight_t[e] = real ? layer_weight[j * layer.in_width + k] : 0.0f;
  }
  for (int j = threadIdx.x; j < kWidth; j += kThreads) bias[j] = j < layer.out_width ? layer_bias[j] : 0.0f;
}

template <typename Config>
__global__ void __launch_bounds__(kThreads) fused_jet_forward_kernel(const __grid_constant__ FusedArgs args) {
  constexpr int kWidth = Config::kWidth;
  constexpr int kComponents = Config::kComponents;
  constexpr int kRows = Config::kRows;
  constexpr int kRowsPerThread = Config::kRowsPerThread;
  constexpr int kThreadRows = Config::kThreadRows;
  constexpr int kStride = Config::kJetStride;
  SIREN_DYNAMIC_SHARED(float4, shared_storage);  // float4: the matmul's reads are 16-byte aligned
  float* weight_t = reinterpret_cast<float*>(shared_storage);  // [kWidth][kWidth]
  float* bias = weight_t + kWidth * kWidth;                     // [kWidth]
  float* jet = bias + kWidth;                                   // [kComponents][kRows][kStride]

  const JetSpec spec = Config::spec(args.in_dims, args.weighted_laplacian);
  const int thread_col = threadIdx.x % Config::kThreadCols;
  const int thread_row = threadIdx.x / Config::kThreadCols;
  const int first_col = thread_col * kColsPerThread;
  const int64_t first_point = static_cast<int64_t>(blockIdx.x) * kRows;
  const int64_t network = args.first_network + blockIdx.y;

  load_input_jet<Config>(args, args.x.of(network), first_point, jet);
  for (int l = 0; l < args.layers; ++l) {
    const FusedLayer& layer = args.layer[l];
    stage_layer<Config>(layer, network, weight_t, bias);
    __syncthreads();  // the layer's input jet and weights are in place

    // z = h W^T + b for the thread's points and columns, every component.
    float z[kComponents][kRowsPerThread][kColsPerThread] = {};
    const int k_count = round_up_4(layer.in_width);
#pragma unroll 2
    for (int k = 0; k < k_count; k += 4) {
      float4 w[4];  // w[kk] = W[first_col .. first_col + 3, k + kk]
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) w[kk] = *reinterpret_cast<const float4*>(weight_t + (k + kk) * kWidth + first_col);
#pragma unroll
      for (int c = 0; c < kComponents; ++c) {
#pragma unroll
        for (int i = 0; i < kRowsPerThread; ++i) {
          const float4 h =
              *reinterpret_cast<const float4*>(jet + (c * kRows + thread_row + i * kThreadRows) * kStride + k);
          const float hk[4] = {h.x, h.y, h.z, h.w};
#pragma unroll
          for (int kk = 0; kk < 4; ++kk) {
            z[c][i][0] = fmaf(hk[kk], w[kk].x, z[c][i][0]);
            z[c][i][1] = fmaf(hk[kk], w[kk].y, z[c][i][1]);
            z[c][i][2] = fmaf(hk[kk], w[kk].z, z[c][i][2]);
            z[c][i][3] = fmaf(hk[kk], w[kk].w, z[c][i][3]);
          }
        }
      }
    }
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
#pragma unroll
      for (int m = 0; m < kColsPerThread; ++m) z[0][i][m] += bias[first_col + m];
    }

    if (layer.saved.data != nullptr) {
      // The saved layout's tiles are tile_rows points; a block's points may straddle two.
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i) {
        const int64_t point = first_point + thread_row + i * kThreadRows;
        if (point >= args.padded_points) continue;
        const int64_t tile = point / args.tile_rows;
        float* kept = layer.saved.of(network) +
                      ((tile * kComponents) * args.tile_rows + point % args.tile_rows) * layer.out_width;
#pragma unroll
        for (int c = 0; c < kComponents; ++c) {
#pragma unroll
          for (int m = 0; m < kColsPerThread; ++m) {
            if (first_col + m < layer.out_width) kept[c * args.tile_rows * layer.out_width + first_col + m] = z[c][i][m];
          }
        }
      }
    }
    if (layer.sine) {
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i) {
#pragma unroll
        for (int m = 0; m < kColsPerThread; ++m) {
          float pre[kComponents], post[kComponents];
#pragma unroll
          for (int c = 0; c < kComponents; ++c) pre[c] = z[c][i][m];
          sine_jet_forward_point(spec, args.laplacian_weights, layer.omega, PointJet<float>{pre[0], pre, 1, 1.0f}, post,
                                 1);
#pragma unroll
          for (int c = 0; c < kComponents; ++c) z[c][i][m] = post[c];
        }
      }
    }

    if (l == args.layers - 1) {
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i) {
        const int64_t point = first_point + thread_row + i * kThreadRows;
        if (point >= args.num_points) continue;
#pragma unroll
        for (int c = 0; c < kComponents; ++c) {
          float* y = args.out.of(network) + (c * args.num_points + point) * layer.out_width;
#pragma unroll
          for (int m = 0; m < kColsPerThread; ++m) {
            if (first_col + m < layer.out_width) y[first_col + m] = z[c][i][m];
          }
        }
      }
    } else {
      __syncthreads();  // every thread has read the layer's input jet and weights
#pragma unroll
      for (int c = 0; c < kComponents; ++c) {
#pragma unroll
        for (int i = 0; i < kRowsPerThread; ++i) {
          *reinterpret_cast<float4*>(jet + (c * kRows + thread_row + i * kThreadRows) * kStride + first_col) =
              make_float4(z[c][i][0], z[c][i][1], z[c][i][2], z[c][i][3]);
        }
      }
    }
  }
}

template <typename Config>
cudaError_t launch_fused(FusedArgs args, int64_t networks, cudaStream_t stream) {
  const auto kernel = fused_jet_forward_kernel<Config>;
  constexpr size_t shared_bytes = Config::kSharedBytes;
  cudaError_t err = allow_dynamic_shared(kernel, shared_bytes);
  const auto blocks = static_cast<unsigned>(ceil_div(args.padded_points, Config::kRows));
  for (args.first_network = 0; err == cudaSuccess && args.first_network < networks;
       args.first_network += kMaxGridNetworks) {
    const int64_t count = std::min(kMaxGridNetworks, networks - args.first_network);
    err = launch_kernel(kernel, dim3(blocks, static_cast<unsigned>(count)), kThreads, shared_bytes, stream, args);
  }
  return err;
}

// Static switch from the runtime jet shape to an instance: fn(FusedConfig<...>{}) and true, or
// false when derivatives are asked of more than 3 input dimensions.
template <int kWidth, int kInDims, typename Fn>
bool with_derivative_kind(const JetSpec& spec, Fn& fn) {
  if (spec.order == 1) {
    fn(FusedConfig<kWidth, kInDims, 1, false>{});
  } else if (spec.hessian) {
    fn(FusedConfig<kWidth, kInDims, 2, true>{});
  } else {
    fn(FusedConfig<kWidth, kInDims, 2, false>{});
  }
  return true;
}

template <int kWidth, typename Fn>
bool with_jet_shape(const JetSpec& spec, Fn& fn) {
  if (spec.order == 0) {
    fn(FusedConfig<kWidth, 0, 0, false>{});
    return true;
  }
  switch (spec.in_dims) {
    case 1: return with_derivative_kind<kWidth, 1>(spec, fn);
    case 2: return with_derivative_kind<kWidth, 2>(spec, fn);
    case 3: return with_derivative_kind<kWidth, 3>(spec, fn);
    default: return false;
  }
}

// The instance for a problem: the smallest width instance holding every layer (and in_dims).
template <typename Fn>
bool with_fused_config(const JetProblem& problem, Fn fn) {
  if (problem.layers.empty() || problem.layers.size() > static_cast<size_t>(kMaxLayers)) return false;
  const int64_t width = problem.max_width();
  if (width <= 16) return with_jet_shape<16>(problem.spec, fn);
  if (width <= 32) return with_jet_shape<32>(problem.spec, fn);
  if (width <= 64) return with_jet_shape<64>(problem.spec, fn);
  if (width <= 128) return with_jet_shape<128>(problem.spec, fn);
  return false;
}

}  // namespace

bool jet_forward_fused_supported(const JetProblem& problem) {
  // The kernel's register-resident jets are sized for orders 0 to 2; a directional jet goes per layer,
  // and so does a modulated SIREN (the per-layer epilogue applies the modulation).
  if (problem.spec.directional() || problem.modulated()) return false;
  size_t shared_bytes = 0;
  const bool instance = with_fused_config(problem, [&](auto config) {
    shared_bytes = decltype(config)::kSharedBytes;
  });
  if (!instance) return false;
  // A device whose limit cannot be read takes the per-layer path, whose launches report the error.
  int device = 0;
  int max_shared = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    return false;
  }
  return shared_bytes <= static_cast<size_t>(max_shared);
}

cudaError_t jet_forward_fused_cuda(const JetProblem& problem, const float* x, float* out,
                                   const std::vector<float*>& saved, cudaStream_t stream) {
  if (problem.num_points == 0 || problem.networks == 0) return cudaSuccess;
  const int64_t out_width = problem.layers.back().out_width;
  FusedArgs args{};
  args.x = {x, problem.x_stride()};
  args.out = {out, problem.packed_stride(out_width)};
  args.laplacian_weights = problem.laplacian_weights;
  args.weighted_laplacian = problem.spec.weighted_laplacian;
  args.num_points = problem.num_points;
  args.padded_points = problem.tiles() * problem.tile_rows;
  args.tile_rows = problem.tile_rows;
  args.in_dims = static_cast<int>(problem.spec.in_dims);
  args.layers = static_cast<int>(problem.layers.size());
  size_t sine_index = 0;
  for (size_t l = 0; l < problem.layers.size(); ++l) {
    const JetLayer& layer = problem.layers[l];
    PerNetwork<float> kept{nullptr, 0};
    if (layer.sine && !saved.empty()) kept = {saved[sine_index++], problem.saved_stride(layer.out_width)};
    args.layer[l] = {layer.weights(),
                     layer.biases(),
                     kept,
                     static_cast<int>(layer.in_width),
                     static_cast<int>(layer.out_width),
                     layer.omega,
                     layer.sine};
  }
  cudaError_t err = cudaErrorInvalidValue;
  with_fused_config(problem,
                    [&](auto config) { err = launch_fused<decltype(config)>(args, problem.networks, stream); });
  return err;
}

}  // namespace siren_fused::cuda
