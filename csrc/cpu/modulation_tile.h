// The FiLM modulation on the CPU (the arithmetic is sine_jet.h's), row by row over a block of
// [rows, width] pre-activations: forward, u = gamma z + beta for the value and u_c = gamma z_c for a
// derivative, into the block the sine rule then reads; backward, the modulation's vector-Jacobian
// product after the sine rule's, with the shift's and scale's gradients summed as it goes. The
// forward-mode jet calls them on a tile's components (a scratch tile of the modulated jet, or, for a
// shift-only modulation, the value component in place); the reverse-mode gradient on a chunk's value
// and adjoint blocks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../modulation_args.h"
#include "../sine_jet.h"

namespace siren_fused::cpu {

// A block's modulation: `shift` and `scale` (null without scales) point at its first row's [width]
// vector, row_stride elements apart row by row: 0 where the block's points are one network's (one
// vector for all), width where each point has its own. Rows from valid_rows on are padding, which
// the functions below leave alone. The gradients these functions add into (shift_grad, scale_grad)
// take the same row_stride: one [width] sum for a network's rows, or a row for each point.
template <typename T>
struct TileModulation {
  const T* shift;
  const T* scale;
  int64_t row_stride;
  int64_t valid_rows;

  // Layer l's modulation of the block of `rows` points from first_row of network `network`.
  static TileModulation of(const Modulation& modulation, int64_t l, int64_t network, int64_t first_row,
                           int64_t rows, int64_t num_points) {
    const int64_t width = modulation.shifts[l].size(1);
    const int64_t offset = modulation.per_point ? first_row * width : network * width;
    const T* scale = modulation.scaled() ? modulation.scales[l].data_ptr<T>() + offset : nullptr;
    return {modulation.shifts[l].data_ptr<T>() + offset, scale, modulation.per_point ? width : 0,
            std::min(rows, num_points - first_row)};
  }
};

// Calls row(r, shift, scale, grad_offset) for each valid row r of a block: the row's [width] shift and scale
// (null without scales), and where its share of a gradient shaped like the modulation goes (r * row_stride).
template <typename T, typename Row>
void for_each_valid_row(const TileModulation<T>& m, const Row& row) {
  for (int64_t r = 0; r < m.valid_rows; ++r) {
    const int64_t offset = r * m.row_stride;
    row(r, m.shift + offset, m.scale == nullptr ? nullptr : m.scale + offset, offset);
  }
}

// u = gamma z + beta in the valid rows of a value block (u may be z).
template <typename T>
void modulate_value_rows(const TileModulation<T>& m, int64_t width, const T* z, T* u) {
  for_each_valid_row(m, [&](int64_t r, const T* shift, const T* scale, int64_t) {
    for (int64_t j = 0; j < width; ++j) {
      u[r * width + j] = modulated_value(z[r * width + j], shift[j], scale == nullptr ? T(1) : scale[j]);
    }
  });
}

// u_c = gamma z_c in the valid rows of a derivative block, with scales (u may be z).
template <typename T>
void modulate_derivative_rows(const TileModulation<T>& m, int64_t width, const T* z, T* u) {
  for_each_valid_row(m, [&](int64_t r, const T*, const T* scale, int64_t) {
    for (int64_t j = 0; j < width; ++j) u[r * width + j] = modulated_derivative(z[r * width + j], scale[j]);
  });
}

// g holds g_u_c, the gradient of a derivative block's modulated u_c, with scales; it becomes gamma g_u_c,
// and the valid rows add g_u_c z_c into scale_grad (z_c the block's unmodulated values).
template <typename T>
void modulation_derivative_vjp_rows(const TileModulation<T>& m, int64_t width, const T* z, T* g, T* scale_grad) {
  for_each_valid_row(m, [&](int64_t r, const T*, const T* scale, int64_t grad_offset) {
    for (int64_t j = 0; j < width; ++j) {
      T& gc = g[r * width + j];
      scale_grad[grad_offset + j] += modulation_scale_vjp(z[r * width + j], gc);
      gc = modulated_derivative(gc, scale[j]);
    }
  });
}

// g holds g_u, the gradient of a value block's modulated u; it becomes g_z = gamma g_u. The valid rows
// add g_u into shift_grad and, with scales, g_u z into scale_grad (z the block's unmodulated value, not
// read without scales).
template <typename T>
void modulation_value_vjp_rows(const TileModulation<T>& m, int64_t width, const T* z, T* g, T* shift_grad,
                               T* scale_grad) {
  for_each_valid_row(m, [&](int64_t r, const T*, const T*, int64_t grad_offset) {
    for (int64_t j = 0; j < width; ++j) shift_grad[grad_offset + j] += g[r * width + j];
  });
  if (m.scale != nullptr) modulation_derivative_vjp_rows(m, width, z, g, scale_grad);
}

// u = the modulated jet of z, both [components, rows, width]. Padding rows are copied as they are.
template <typename T>
void modulate_tile(const TileModulation<T>& m, int64_t components, int64_t rows, int64_t width, const T* z, T* u) {
  const int64_t block = rows * width, valid = m.valid_rows * width;
  for (int64_t c = 0; c < components; ++c) {
    const T* zc = z + c * block;
    T* uc = u + c * block;
    if (c > 0 && m.scale == nullptr) {
      std::memcpy(uc, zc, sizeof(T) * block);
      continue;
    }
    std::memcpy(uc + valid, zc + valid, sizeof(T) * (block - valid));
    if (c == 0) {
      modulate_value_rows(m, width, zc, uc);
    } else {
      modulate_derivative_rows(m, width, zc, uc);
    }
  }
}

// g holds g_u, the sine rule's vector-Jacobian product, for the tile whose unmodulated jet is z;
// it becomes g_z = gamma g_u, the shift's and scale's gradients gaining the tile's share (summed over
// every component for the scale's).
template <typename T>
void modulation_vjp_tile(const TileModulation<T>& m, int64_t components, int64_t rows, int64_t width, const T* z,
                         T* g, T* shift_grad, T* scale_grad) {
  modulation_value_vjp_rows(m, width, z, g, shift_grad, scale_grad);
  if (m.scale == nullptr) return;
  const int64_t block = rows * width;
  for (int64_t c = 1; c < components; ++c) {
    modulation_derivative_vjp_rows(m, width, z + c * block, g + c * block, scale_grad);
  }
}

}  // namespace siren_fused::cpu
