// Host entry points of the CUDA jet kernels: raw device pointers, sizes and a stream in, a
// cudaError_t out. No torch header here, so the kernels compile with plain nvcc; the torch glue
// (jet_cuda.cpp) checks the tensors, allocates outputs and workspace, and reports the errors.
#pragma once


#include <algorithm>
#include <cstdint>
#include <vector>

#include "../jet_layout.h"
#include "../sine_jet.h"
#include "library_gemm.h"
#include "runtime.h"

namespace siren_fused::cuda {

// CUDA's limit on a grid's y and z dimensions, which the kernels index networks by: a launch
// covers at most this many networks, and larger batches take several launches.
constexpr int64_t kMaxGridNetworks = 65535;

// A pointer to the first network's part of a tensor holding one part per network, each `stride`
// elements after the previous one. A kernel is handed the part of its span's first network and
// reaches network b (its grid's network index) at data + b * stride.
template <typename T>
struct PerNetwork {
  T* data;
  int64_t stride;

  SIREN_HD T* of(int64_t network) const { return data + network * stride; }
  // The part of network `first`, as the first of a span of networks.
  SIREN_HD PerNetwork from(int64_t first) const { return {of(first), stride}; }
};

// A modulated SIREN's FiLM modulation of one hidden layer (sine_jet.h): the sine takes
// gamma (W h + b) + beta, beta = shift and gamma = scale, each a [width] row of a tensor on the device:
// per network ([networks, width]: network b's row for all its points) or per point ([N, width], one
// network: point p's row). The gradients of the shifts and scales have the same layout.
struct JetModulation {
  const float* shift = nullptr;  // null: the layer is not modulated
  const float* scale = nullptr;  // null: shifts only (gamma = 1)
  int64_t network_stride = 0;    // elements between networks' rows: the width per network, 0 per point
  int64_t point_stride = 0;      // elements between points' rows: the width per point, 0 per network

  SIREN_HD bool modulated() const { return shift != nullptr; }
  SIREN_HD bool per_point() const { return point_stride != 0; }
  // Where the row of network `network` (counted from the one `shift` points at) and global point `point` starts.
  SIREN_HD int64_t row(int64_t network, int64_t point) const { return network * network_stride + point * point_stride; }
  // The modulation at network `first`, as the first of a span of networks.
  SIREN_HD JetModulation from(int64_t first) const {
    const int64_t offset = first * network_stride;
    return {shift == nullptr ? nullptr : shift + offset, scale == nullptr ? nullptr : scale + offset, network_stride,
            point_stride};
  }
};

// One linear layer, sin(omega * (W h + b)) when `sine`, else W h + b; in a batch of networks,
// every network's own W and b, with the same widths and omega, or one W and b that every network
// shares (`shared`: a modulated SIREN's, whose networks differ by their modulation alone).
struct JetLayer {
  const float* weight;  // [networks, out_width, in_width] ([out_width, in_width] when shared), row-major, on the device
  const float* bias;    // [networks, out_width] ([out_width] when shared), on the device
  int64_t in_width;
  int64_t out_width;
  float omega;
  bool sine;
  bool shared = false;
  JetModulation modulation{};  // of a modulated SIREN's hidden layer; unmodulated by default

  // Every per-network tensor is a contiguous stack, as the glue hands them (check_jet_args makes
  // each contiguous); the gradients of the weights and biases are laid out alike. A shared tensor
  // is every network's: stride 0.
  int64_t weight_stride() const { return shared ? 0 : out_width * in_width; }
  int64_t bias_stride() const { return shared ? 0 : out_width; }
  PerNetwork<const float> weights() const { return {weight, weight_stride()}; }
  PerNetwork<const float> biases() const { return {bias, bias_stride()}; }
};

// B networks of the same shape (B = 1: one network), each at its own N points: x is
// [networks, N, in_dims] and every per-network tensor (outputs, saved jets, gradients) gains the
// leading networks dimension, contiguous, as the strides below say.
struct JetProblem {
  JetSpec spec;
  // The rule's constants on the device: the a_k [in_dims] where spec.weighted_laplacian, a directional
  // jet's top weights [top_fields, directions] where spec.directional() (taylor_jet.h), else null.
  const float* laplacian_weights;
  int64_t num_points;  // N, per network
  int64_t tile_rows;   // T = jet_tile_rows(components, max_width): the saved tensors' layout
  std::vector<JetLayer> layers;
  int64_t networks = 1;  // B
  // Whether the forward may take the whole-network kernel where it applies (else the per-layer path
  // at every width): the switch benchmarks/gpu_check.sh times one against the other with.
  bool whole_network_kernel = true;
  // A directional jet's directions [directions, in_dims] on the device (the input jet's tangents), else
  // null (the axes).
  const float* directions = nullptr;

  bool modulated() const {
    for (const JetLayer& layer : layers) {
      if (layer.modulation.modulated()) return true;
    }
    return false;
  }
  int64_t max_width() const {
    int64_t width = spec.in_dims;
    for (const JetLayer& layer : layers) width = std::max({width, layer.in_width, layer.out_width});
    return width;
  }
  int64_t tiles() const { return jet_tile_count(num_points, tile_rows); }  // per network
  // Elements between consecutive networks' parts of x (and grad_x), of a packed jet of this
  // width (the output, grad_out), and of a saved pre-activation jet of this width.
  int64_t x_stride() const { return num_points * spec.in_dims; }
  int64_t packed_stride(int64_t width) const { return spec.components() * num_points * width; }
  int64_t saved_stride(int64_t width) const { return tiles() * spec.components() * tile_rows * width; }
  // The work is processed in chunks of whole tiles of a range of networks so the workspace stays
  // bounded (about 64 MB a buffer) however large N and B are; every kernel of a chunk runs before
  // the next chunk starts. One network's tiles are chunked as before; networks whose tiles all fit
  // share a chunk, as many as fit (at most kMaxGridNetworks, one launch's worth).
  int64_t chunk_tiles() const {
    return std::min(std::max<int64_t>(1, kChunkElements / tile_elements()), std::max<int64_t>(1, tiles()));
  }
  int64_t chunk_networks() const {
    return std::min({networks, std::max<int64_t>(1, kChunkElements / (chunk_tiles() * tile_elements())),
                     kMaxGridNetworks});
  }
  // One tiled jet buffer [chunk_networks, chunk_tiles, components, tile_rows, max_width].
  int64_t chunk_buffer_elements() const { return chunk_networks() * chunk_tiles() * tile_elements(); }

 private:
  static constexpr int64_t kChunkElements = int64_t(1) << 24;
  int64_t tile_elements() const { return spec.components() * tile_rows * max_width(); }
};

// Forward: out is the packed jet [networks, components, N, out_width of the last layer]; saved is
// empty or holds one [networks, tiles, components, tile_rows, width] pre-activation jet per sine
// layer, in order. Runs the whole-network kernel below where it applies and problem.whole_network_kernel
// allows (then no workspace), else
// a library GEMM and an elementwise epilogue a layer. Each kernel takes the networks as a grid
// dimension and each GEMM as its batch: one launch sequence for the batch (a sequence per chunk
// of networks past the workspace's bound or kMaxGridNetworks).
int64_t jet_forward_workspace_elements(const JetProblem& problem);
cudaError_t jet_forward_cuda(const JetProblem& problem, const GemmLibrary& gemm, const float* x, float* out,
                             const std::vector<float*>& saved, float* workspace, cudaStream_t stream);

// jet_forward_fused.cu: the same forward as one kernel through every layer, for narrow networks:
// every width (in_dims included) at most 128, at most 32 layers, in_dims at most 3 when order > 0,
// not a directional jet, not a modulated SIREN, and a block's shared memory within the current
// device's limit. Needs no workspace.
bool jet_forward_fused_supported(const JetProblem& problem);
cudaError_t jet_forward_fused_cuda(const JetProblem& problem, const float* x, float* out,
                                   const std::vector<float*>& saved, cudaStream_t stream);

// Backward: accumulates into grad_weights / grad_biases ([networks, ...] like the weights and
// biases, or one network's where shared: the networks' sum; zeroed by the caller) and writes
// grad_x [networks, N, in_dims] unless it is null. A null weight's or bias's gradient is not asked
// for (a frozen parameter): its GEMM is skipped, and for a weight the input jet only it needs; below the
// lowest layer anything is asked of, nothing runs. A modulated SIREN's hidden layer l also
// accumulates the gradients of its shift and scale, laid out as they are (JetModulation), into
// grad_modulations[l] (zeroed by the caller; scale null without scales); an unmodulated problem
// passes none. grad_out is packed like the forward's output. Deterministic: no atomics.
struct ModulationGradients {
  float* shift;
  float* scale;
};
int64_t jet_backward_workspace_elements(const JetProblem& problem);
cudaError_t jet_backward_cuda(const JetProblem& problem, const GemmLibrary& gemm, const float* grad_out,
                              const float* x, const std::vector<const float*>& saved, float* grad_x,
                              const std::vector<float*>& grad_weights, const std::vector<float*>& grad_biases,
                              const std::vector<ModulationGradients>& grad_modulations, float* workspace,
                              cudaStream_t stream);

}  // namespace siren_fused::cuda
