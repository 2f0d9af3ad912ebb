// Where a jet component lives, for the CUDA kernels.
//
// The kernels work on a span of consecutive tiles at a time. Tiled buffers ([tiles, C, T, width],
// the saved pre-activations' layout) handed to a kernel start at the span's first tile; packed
// tensors ([C, N, width], the op's output and grad_out) are addressed by the global point index.
#pragma once

#include <cstdint>

#include "../sine_jet.h"
#include "jet_cuda.h"

namespace siren_fused::cuda {

struct TileSpan {
  int64_t first_point;  // global index of the span's first row (its first tile times tile_rows)
  int64_t tiles;
  int64_t tile_rows;
  int64_t components;
  int64_t num_points;  // N of the whole batch: rows at or past it are padding

  SIREN_HD int64_t span_points() const { return tiles * tile_rows; }  // padding included
  SIREN_HD int64_t stacked_rows() const { return tiles * components * tile_rows; }
  SIREN_HD int64_t point(int64_t tile, int64_t row) const { return first_point + tile * tile_rows + row; }
  SIREN_HD bool valid(int64_t tile, int64_t row) const { return point(tile, row) < num_points; }
  // Row of component c of (tile, row) in a span-local tiled buffer.
  SIREN_HD int64_t tiled_row(int64_t tile, int64_t c, int64_t row) const {
    return (tile * components + c) * tile_rows + row;
  }
  // Whether stacked row R of a tiled buffer belongs to a real point.
  SIREN_HD bool stacked_row_valid(int64_t stacked_row) const {
    return valid(stacked_row / (components * tile_rows), stacked_row % tile_rows);
  }
};

// A jet operand, tiled (span-local) or packed (whole batch). Elements of a point and column are
// component_stride apart; writes to packed operands must skip padding rows.
template <typename T>
struct JetMatrix {
  T* data;
  int64_t width;
  bool packed;

  SIREN_HD int64_t offset(const TileSpan& span, int64_t tile, int64_t row, int64_t col) const {
    return (packed ? span.point(tile, row) : span.tiled_row(tile, 0, row)) * width + col;
  }
  SIREN_HD int64_t component_stride(const TileSpan& span) const {
    return (packed ? span.num_points : span.tile_rows) * width;
  }
};

// The span of the chunk that starts at first_tile (see JetProblem::chunk_tiles).
inline TileSpan chunk_span(const JetProblem& problem, int64_t first_tile) {
  const int64_t tiles = std::min(problem.chunk_tiles(), problem.tiles() - first_tile);
  return {first_tile * problem.tile_rows, tiles, problem.tile_rows, problem.spec.components(), problem.num_points};
}

// Where the chunk starting at first_tile begins in a whole-batch tiled tensor of this width.
inline int64_t chunk_offset(const TileSpan& span, int64_t width) {
  return span.first_point * span.components * width;
}

}  // namespace siren_fused::cuda
