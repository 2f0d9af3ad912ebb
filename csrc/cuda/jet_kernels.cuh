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
// padding rows), tangents the unit vectors (or a directional jet's directions [R, in_dims] on the
// device, when not null), higher parts zero; exactly what the CPU builds.
cudaError_t launch_build_input_jet(const TileSpan& span, const JetSpec& spec, const float* directions,
                                   PerNetwork<const float> x, float* input_jet, cudaStream_t stream);

// sine_jet_kernels.cu: the elementwise pass after a layer's GEMM, or the backward's recomputation
// of a layer's input jet. At every (point, column) of a span: the pre-activation jet is z (tiled,
// the GEMM's result) with the bias added to its value component; out gets its sine jet (its
// components [0, out_components)), of the modulated jet where the layer is modulated, or the
// pre-activation itself for a linear layer.
struct JetEpilogueArgs {
  TileSpan span;
  JetSpec spec;
  const float* laplacian_weights;  // the rule's constants (JetProblem::laplacian_weights)
  PerNetwork<const float> z;       // tiled [tiles, C, T, width]
  PerNetwork<const float> bias;    // [width]; null data for none
  // Where the biased value component is stored back: z's own memory when z is the saved
  // pre-activation jet (whose other components the GEMM wrote); null data to store nothing.
  PerNetwork<float> saved_value;
  float omega;
  bool sine;
  int64_t width;
  JetMatrix<float> out;  // width `width`
  int64_t out_components;
  JetModulation modulation;  // at the span's first network; unmodulated for none
};

cudaError_t launch_jet_epilogue(const JetEpilogueArgs& args, cudaStream_t stream);

// sine_jet_kernels.cu: grad_z (tiled, zero on padding rows) = VJP of the sine jet at
// pre_activation applied to upstream, or upstream itself when pre_activation is null (a linear
// layer). Elementwise: the bias gradient is a GEMM over grad_z (jet_backward.cu). A modulated
// layer's rule reads the modulated jet u = gamma z + beta, and the modulation's VJP follows
// (sine_jet.h): grad_z = gamma g_u, and each (point, column) writes its share of the shift's
// gradient (g_u's value) and of the scale's (sum over components of g_u z) to component 0 and 1 of
// modulation_rows, a tiled [tiles, 2, T, width] buffer a network (zero on padding rows), for the
// backward to sum over each network's points or to copy per point.
struct JetVjpArgs {
  TileSpan span;
  JetSpec spec;
  const float* laplacian_weights;  // the rule's constants (JetProblem::laplacian_weights)
  JetMatrix<const float> upstream;
  PerNetwork<const float> pre_activation;  // tiled; null data for a linear layer
  float omega;
  float* grad_z;  // workspace
  int64_t width;
  JetModulation modulation;  // at the span's first network; unmodulated for none
  float* modulation_rows;    // workspace, span-local; read only where modulated
};

// The span of a modulated layer's gradient rows (JetVjpArgs::modulation_rows): shift, then scale.
SIREN_HD TileSpan modulation_rows_span(const TileSpan& span) { return span.with_components(2); }

cudaError_t launch_jet_vjp(const JetVjpArgs& args, cudaStream_t stream);

// fill.cu: data[0, count) = value.
cudaError_t launch_fill(float* data, int64_t count, float value, cudaStream_t stream);

// Blocks needed to cover `count` items, `per_block` at a time.
inline int64_t ceil_div(int64_t count, int64_t per_block) { return (count + per_block - 1) / per_block; }

}  // namespace siren_fused::cuda
