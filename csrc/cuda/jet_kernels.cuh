// The building blocks the forward and backward drivers launch, one .cu file each. Every launcher
// checks its own launch and returns the error; none synchronises.
//
// Every kernel runs all of its span's networks in one launch, the network being a grid dimension
// (y or z, whichever the kernel's own grid leaves free; span.networks is at most kMaxGridNetworks).
// Operands (jet_addressing.cuh) come at the span's first network: a caller's tensor as a
// PerNetwork or a JetMatrix with its network stride, a workspace buffer as a plain pointer whose
// networks are span-local, span.tiled_stride(width) apart.
#pragma once

#include <cstdint>

#include "../sine_jet.h"
#include "device_code.cuh"
#include "jet_addressing.cuh"

namespace siren_fused::cuda {

// input_jet.cu: the input jet of a span into a tiled buffer of width in_dims: value x (zero on
// padding rows), tangents the unit vectors, second-order part zero; exactly what the CPU builds.
cudaError_t launch_build_input_jet(const TileSpan& span, const JetSpec& spec, PerNetwork<const float> x,
                                   float* input_jet, cudaStream_t stream);

// jet_gemm.cu: out = epilogue(A B) over the stacked components of a span. A is a tiled jet
// [tiles, C, T, k]; B(kk, j) = b[kk * b_stride_k + j * b_stride_n] for kk < k, j < n, so W^T
// (forward) and W (gradient to the previous layer) are both read in place.
struct JetGemmEpilogue {
  PerNetwork<const float> bias;  // added to the value component; null data for none
  float omega;
  bool sine;               // apply the sine jet rule; otherwise the jet passes through unchanged
  const float* laplacian_weights;  // the rule's a_k where the spec's Laplacian is weighted
  PerNetwork<float> pre_activation;  // tiled [tiles, C, T, n] copy of the result before the sine; null data for none
  JetMatrix<float> out;    // width n
};

struct JetGemmArgs {
  TileSpan span;
  JetSpec spec;
  int64_t computed_components;  // only components [0, this) are computed (1: the input gradient)
  const float* a;  // workspace
  int64_t k;
  PerNetwork<const float> b;
  int64_t b_stride_k;
  int64_t b_stride_n;
  int64_t n;
  JetGemmEpilogue epilogue;
};

cudaError_t launch_jet_gemm(const JetGemmArgs& args, cudaStream_t stream);

// sine_jet_kernels.cu: the sine jet of a tiled pre-activation jet (backward recomputes each
// layer's input jet this way instead of storing it).
cudaError_t launch_sine_jet(const TileSpan& span, const JetSpec& spec, const float* laplacian_weights,
                            PerNetwork<const float> pre_activation, int64_t width, float omega, float* jet,
                            cudaStream_t stream);

// sine_jet_kernels.cu: grad_z (tiled, zero on padding rows) = VJP of the sine jet at
// pre_activation applied to upstream, or upstream itself when pre_activation is null (a linear
// layer); grad_bias (width) accumulates the value component's gradient over the span's points.
struct JetVjpArgs {
  TileSpan span;
  JetSpec spec;
  const float* laplacian_weights;  // the rule's a_k where the spec's Laplacian is weighted
  JetMatrix<const float> upstream;
  PerNetwork<const float> pre_activation;  // tiled; null data for a linear layer
  float omega;
  float* grad_z;  // workspace
  int64_t width;
  PerNetwork<float> grad_bias;
};

cudaError_t launch_jet_vjp(const JetVjpArgs& args, cudaStream_t stream);

// weight_grad.cu: grad_weight [out_width, in_width] += sum over the span's valid stacked rows R
// of grad_z[R, :]^T input_jet[R, :] (both tiled workspace buffers), for each network.
cudaError_t launch_weight_grad(const TileSpan& span, const float* grad_z, int64_t out_width, const float* input_jet,
                               int64_t in_width, PerNetwork<float> grad_weight, cudaStream_t stream);

// Blocks needed to cover `count` items, `per_block` at a time.
inline int64_t ceil_div(int64_t count, int64_t per_block) { return (count + per_block - 1) / per_block; }

}  // namespace siren_fused::cuda
