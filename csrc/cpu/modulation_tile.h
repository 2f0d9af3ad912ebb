// The FiLM modulation of a tile's pre-activation jet on the CPU (the arithmetic is sine_jet.h's):
// forward, u = gamma z + beta into a scratch tile that the sine rule then reads; backward, the
// modulation's vector-Jacobian product after the sine rule's, with the shift's and scale's
// gradients summed over the tile's rows as it goes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../modulation_args.h"
#include "../sine_jet.h"

namespace siren_fused::cpu {

// A tile's modulation: `shift` and `scale` (null without scales) point at its first row's [width]
// vector, row_stride elements apart row by row: 0 where the tile's points are one network's (one
// vector for all), width where each point has its own. Rows from valid_rows on are padding.
template <typename T>
struct TileModulation {
  const T* shift;
  const T* scale;
  int64_t row_stride;
  int64_t valid_rows;

  // Layer l's modulation of the tile of `rows` points from first_row of network `network`.
  static TileModulation of(const Modulation& modulation, int64_t l, int64_t network, int64_t first_row,
                           int64_t rows, int64_t num_points) {
    const int64_t width = modulation.shifts[l].size(1);
    const int64_t offset = modulation.per_point ? first_row * width : network * width;
    const T* scale = modulation.scaled() ? modulation.scales[l].data_ptr<T>() + offset : nullptr;
    return {modulation.shifts[l].data_ptr<T>() + offset, scale, modulation.per_point ? width : 0,
            std::min(rows, num_points - first_row)};
  }
};

// u = the modulated jet of z, both [components, rows, width]. Padding rows are copied as they are.
template <typename T>
void modulate_tile(const TileModulation<T>& m, int64_t components, int64_t rows, int64_t width, const T* z, T* u) {
  const int64_t block = rows * width;
  std::memcpy(u + m.valid_rows * width, z + m.valid_rows * width, sizeof(T) * (rows - m.valid_rows) * width);
  for (int64_t r = 0; r < m.valid_rows; ++r) {
    const T* shift = m.shift + r * m.row_stride;
    const T* z0 = z + r * width;
    T* u0 = u + r * width;
    if (m.scale == nullptr) {
      for (int64_t j = 0; j < width; ++j) u0[j] = modulated_value(z0[j], shift[j], T(1));
    } else {
      const T* scale = m.scale + r * m.row_stride;
      for (int64_t j = 0; j < width; ++j) u0[j] = modulated_value(z0[j], shift[j], scale[j]);
    }
  }
  for (int64_t c = 1; c < components; ++c) {
    if (m.scale == nullptr) {
      std::memcpy(u + c * block, z + c * block, sizeof(T) * block);
      continue;
    }
    for (int64_t r = 0; r < rows; ++r) {
      const T* zc = z + c * block + r * width;
      T* uc = u + c * block + r * width;
      if (r >= m.valid_rows) {
        std::memcpy(uc, zc, sizeof(T) * width);
        continue;
      }
      const T* scale = m.scale + r * m.row_stride;
      for (int64_t j = 0; j < width; ++j) uc[j] = modulated_derivative(zc[j], scale[j]);
    }
  }
}

// g holds g_u, the sine rule's vector-Jacobian product, for the tile whose unmodulated jet is z;
// it becomes g_z = gamma g_u. Each valid row adds its share of the shift's gradient (g_u's value)
// and, with scales, of the scale's (sum over components of g_u z) into shift_grad and scale_grad
// at the modulation's row_stride: into one [width] sum for a network's rows, or row by row.
template <typename T>
void modulation_vjp_tile(const TileModulation<T>& m, int64_t components, int64_t rows, int64_t width, const T* z,
                         T* g, T* shift_grad, T* scale_grad) {
  const int64_t block = rows * width;
  for (int64_t r = 0; r < m.valid_rows; ++r) {
    T* shift_sum = shift_grad + r * m.row_stride;
    const T* g0 = g + r * width;
    for (int64_t j = 0; j < width; ++j) shift_sum[j] += g0[j];
    if (m.scale == nullptr) continue;
    T* scale_sum = scale_grad + r * m.row_stride;
    const T* scale = m.scale + r * m.row_stride;
    for (int64_t c = 0; c < components; ++c) {
      const T* zc = z + c * block + r * width;
      T* gc = g + c * block + r * width;
      for (int64_t j = 0; j < width; ++j) {
        scale_sum[j] += modulation_scale_vjp(zc[j], gc[j]);
        gc[j] = modulated_derivative(gc[j], scale[j]);
      }
    }
  }
}

}  // namespace siren_fused::cpu
