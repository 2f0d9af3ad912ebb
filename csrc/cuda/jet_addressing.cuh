// Where a jet component lives, for the CUDA kernels.
//
// The kernels work on a span of consecutive tiles of a range of networks at a time. A kernel
// takes each operand at the span's first network and indexes networks by a grid dimension
// (network b of the span: b * the operand's network stride further on). Within a network, tiled
// buffers ([tiles, C, T, width], the saved pre-activations' layout) handed to a kernel start at
// the span's first tile; packed tensors ([C, N, width], the op's output and grad_out) are
// addressed by the global point index. The workspace holds the span's networks one after the
// other, each span-local: network stride stacked_rows() * width.
#pragma once

#include <cstdint>

#include "../sine_jet.h"
#include "jet_cuda.h"
#include "library_gemm.h"

namespace siren_fused::cuda {

struct TileSpan {
  int64_t first_point;  // global index of the span's first row (its first tile times tile_rows)
  int64_t tiles;
  int64_t tile_rows;
  int64_t components;
  int64_t num_points;  // N of the whole batch: rows at or past it are padding
  int64_t first_network;  // for the host, which hands the kernels each operand at this network
  int64_t networks;       // networks in the span: the extent of the kernels' network grid dimension

  SIREN_HD int64_t span_points() const { return tiles * tile_rows; }  // padding included
  SIREN_HD int64_t stacked_rows() const { return tiles * components * tile_rows; }
  // Network stride of a span-local tiled buffer (the workspace) of this width.
  SIREN_HD int64_t tiled_stride(int64_t width) const { return stacked_rows() * width; }
  SIREN_HD int64_t point(int64_t tile, int64_t row) const { return first_point + tile * tile_rows + row; }
  SIREN_HD bool valid(int64_t tile, int64_t row) const { return point(tile, row) < num_points; }
  // Row of component c of (tile, row) in a span-local tiled buffer.
  SIREN_HD int64_t tiled_row(int64_t tile, int64_t c, int64_t row) const {
    return (tile * components + c) * tile_rows + row;
  }
  // The same span over a tiled buffer of `count` components a point (a modulated layer's gradient rows).
  SIREN_HD TileSpan with_components(int64_t count) const {
    TileSpan span = *this;
    span.components = count;
    return span;
  }
  // Whether stacked row R of a tiled buffer belongs to a real point.
  SIREN_HD bool stacked_row_valid(int64_t stacked_row) const {
    return valid(stacked_row / (components * tile_rows), stacked_row % tile_rows);
  }
};

// A jet operand, tiled (span-local) or packed (whole batch), at the span's first network. Elements
// of a point and column are component_stride apart; writes to packed operands must skip padding rows.
template <typename T>
struct JetMatrix {
  T* data;
  int64_t width;
  bool packed;
  int64_t network_stride;

  SIREN_HD JetMatrix of_network(int64_t network) const {
    return {data + network * network_stride, width, packed, network_stride};
  }

  SIREN_HD int64_t offset(const TileSpan& span, int64_t tile, int64_t row, int64_t col) const {
    return (packed ? span.point(tile, row) : span.tiled_row(tile, 0, row)) * width + col;
  }
  SIREN_HD int64_t component_stride(const TileSpan& span) const {
    return (packed ? span.num_points : span.tile_rows) * width;
  }
};

// The span of the chunk that starts at first_tile of network first_network (see
// JetProblem::chunk_tiles and chunk_networks).
inline TileSpan chunk_span(const JetProblem& problem, int64_t first_network, int64_t first_tile) {
  const int64_t tiles = std::min(problem.chunk_tiles(), problem.tiles() - first_tile);
  const int64_t networks = std::min(problem.chunk_networks(), problem.networks - first_network);
  return {first_tile * problem.tile_rows, tiles, problem.tile_rows, problem.spec.components(), problem.num_points,
          first_network, networks};
}

// Calls fn(span) for every chunk of the problem, networks outermost.
template <typename Fn>
cudaError_t for_each_chunk(const JetProblem& problem, Fn fn) {
  for (int64_t first_network = 0; first_network < problem.networks; first_network += problem.chunk_networks()) {
    for (int64_t first_tile = 0; first_tile < problem.tiles(); first_tile += problem.chunk_tiles()) {
      const cudaError_t err = fn(chunk_span(problem, first_network, first_tile));
      if (err != cudaSuccess) return err;
    }
  }
  return cudaSuccess;
}

// A whole-batch packed tensor ([networks, C, N, width]: the output, grad_out, grad_x) at the
// span's first network.
template <typename T>
JetMatrix<T> packed_operand(const JetProblem& problem, const TileSpan& span, T* data, int64_t width) {
  const int64_t stride = problem.packed_stride(width);
  return {data + span.first_network * stride, width, true, stride};
}

// A span-local tiled workspace buffer of this width.
template <typename T>
JetMatrix<T> workspace_operand(const TileSpan& span, T* data, int64_t width) {
  return {data, width, false, span.tiled_stride(width)};
}

// A whole-batch saved pre-activation jet ([networks, tiles, C, T, width]) at the span's first
// network and first tile.
template <typename T>
PerNetwork<T> saved_operand(const JetProblem& problem, const TileSpan& span, T* data, int64_t width) {
  const PerNetwork<T> whole{data, problem.saved_stride(width)};
  return {whole.of(span.first_network) + span.first_point * span.components * width, whole.stride};
}

// A span-local tiled workspace buffer of this width as a GEMM operand: each network's stacked rows
// [tiles x C x T, width] (or their transpose).
inline GemmOperand tiled_gemm_operand(const TileSpan& span, const float* data, int64_t width,
                                      bool transposed = false) {
  return {data, width, span.tiled_stride(width), transposed};
}

// How a layer's GEMMs take the span's stacked rows: one batch entry a network, each with its own
// weights; or, where the networks share the layer's weights (a modulated SIREN), one matrix of every
// network's rows, so the shared weights are one GEMM over all of them. That matrix is every buffer's
// own layout: the networks' rows follow one another in the workspace (tiled_stride), and in a saved
// tensor too, since a span of several networks holds every tile of each (JetProblem::chunk_networks).
struct GemmRows {
  int64_t batch;
  int64_t tiles;  // a batch entry's
  int64_t rows;   // a batch entry's stacked rows

  GemmRows(const TileSpan& span, bool one_matrix)
      : batch(one_matrix ? 1 : span.networks),
        tiles(one_matrix ? span.networks * span.tiles : span.tiles),
        rows(tiles * span.components * span.tile_rows) {}
  GemmRows(const TileSpan& span, const JetLayer& layer) : GemmRows(span, layer.shared) {}
};

// A layer's weights at the span's first network as a GEMM operand: W [out, in], or W^T when transposed.
inline GemmOperand weight_gemm_operand(const TileSpan& span, const JetLayer& layer, bool transposed) {
  const PerNetwork<const float> weights = layer.weights().from(span.first_network);
  return {weights.data, layer.in_width, weights.stride, transposed};
}

}  // namespace siren_fused::cuda
