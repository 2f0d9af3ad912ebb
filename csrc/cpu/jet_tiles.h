// Moving jets between whole-batch tensors and per-thread tile buffers on the CPU.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../sine_jet.h"
#include "sine_jet_tile.h"

namespace siren_fused::cpu {

// One thread's buffers: three jets of [components, tile_rows, max_width] and the derivative blocks.
template <typename T>
struct TileScratch {
  at::Tensor storage;
  T* jet[3];
  TileDerivatives<T> derivs;
  int64_t jet_elements;

  TileScratch(int64_t components, int64_t rows, int64_t max_width, const at::TensorOptions& options) {
    jet_elements = components * rows * max_width;
    const int64_t block = rows * max_width;
    storage = at::empty({3 * jet_elements + 5 * block}, options);
    T* p = storage.data_ptr<T>();
    for (auto& j : jet) j = p, p += jet_elements;
    derivs = {p, p + block, p + 2 * block, p + 3 * block, p + 4 * block};
  }

  // A [rows, width] matrix view of `components` blocks of buffer i, for the GEMMs.
  at::Tensor matrix(int i, int64_t rows, int64_t width) const {
    return storage.narrow(0, i * jet_elements, rows * width).view({rows, width});
  }
};

// The input jet of a tile: value x, tangents the unit vectors, second-order part zero. Rows
// past the end of the batch are zero so every tile has the same shape.
template <typename T>
void build_input_jet(const JetSpec& spec, const T* x, int64_t num_points, int64_t first_row, int64_t rows, T* jet) {
  const int64_t d = spec.in_dims;
  const int64_t block = rows * d;
  std::fill(jet, jet + spec.components() * block, T(0));
  const int64_t valid = std::min(rows, num_points - first_row);
  std::memcpy(jet, x + first_row * d, sizeof(T) * valid * d);
  for (int64_t k = 0; k < spec.tangent_count(); ++k) {
    T* tangent = jet + (1 + k) * block;
    for (int64_t r = 0; r < rows; ++r) tangent[r * d + k] = T(1);
  }
}

template <typename T>
void add_bias(T* value_block, const T* bias, int64_t rows, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    T* row = value_block + r * width;
    for (int64_t j = 0; j < width; ++j) row[j] += bias[j];
  }
}

// Copies the tile's valid rows of every component into a whole-batch [components, N, width] jet.
template <typename T>
void store_tile(const T* tile, int64_t components, int64_t rows, int64_t width, T* batch, int64_t num_points,
                int64_t first_row) {
  const int64_t valid = std::min(rows, num_points - first_row);
  for (int64_t k = 0; k < components; ++k) {
    std::memcpy(batch + (k * num_points + first_row) * width, tile + k * rows * width, sizeof(T) * valid * width);
  }
}

// The reverse of store_tile; rows past the end of the batch are zero.
template <typename T>
void load_tile(const T* batch, int64_t components, int64_t num_points, int64_t first_row, int64_t rows,
               int64_t width, T* tile) {
  const int64_t valid = std::min(rows, num_points - first_row);
  for (int64_t k = 0; k < components; ++k) {
    T* dst = tile + k * rows * width;
    std::memcpy(dst, batch + (k * num_points + first_row) * width, sizeof(T) * valid * width);
    std::fill(dst + valid * width, dst + rows * width, T(0));
  }
}

}  // namespace siren_fused::cpu
