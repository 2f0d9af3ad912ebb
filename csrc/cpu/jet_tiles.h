// Buffers and copies for the CPU kernels, which work on chunks of tiles.
//
// A tile is `rows` points; its jet is [components, rows, width]. A chunk is up to
// jet_chunk_tiles() tiles stored back to back: consecutive tiles of one network, or, when a
// network has fewer tiles than a chunk holds, every tile of several networks (a hypernetwork's
// batch: 64 networks at 1,024 points). The chunk's jet is then one contiguous
// [networks, tiles * components * rows, width] stack of matrices for the batched GEMMs (which mix
// rows only through each network's weights), while the sine jet rule works tile by tile. Grouping
// networks makes few, larger GEMMs of many small ones (kNetworkGroupElements). A thread takes a whole
// chunk (chunk_scheduler.h).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../jet_args.h"
#include "../jet_layout.h"
#include "../sine_jet.h"
#include "chunk_scheduler.h"
#include "reusable_buffers.h"
#include "sine_tile_kernels.h"

namespace siren_fused::cpu {

// The sizes every CPU kernel derives from its checked arguments.
struct TilePlan {
  JetSpec spec;
  int64_t components;
  int64_t num_points;
  int64_t rows;           // points per tile
  int64_t tiles;          // a network's
  int64_t last;           // index of the last layer
  int64_t tile_jet_rows;  // rows of one tile's stacked jet matrix: components * rows
  std::vector<Chunk> chunks;

  explicit TilePlan(const JetArgs& args)
      : spec(args.spec),
        components(args.spec.components()),
        num_points(args.num_points()),
        rows(args.tile_rows()),
        tiles(jet_tile_count(args.num_points(), args.tile_rows())),
        last(args.layers() - 1),
        tile_jet_rows(args.spec.components() * args.tile_rows()) {
    TORCH_CHECK(args.x.device().is_cpu(), "siren_fused CPU kernel got x on ", args.x.device());
    if (tiles == 0) return;
    // Whole networks a chunk while a network fits in a chunk: one network within the chunk's budget, or
    // several networks that would each fill at most two chunks (the second one partly: small GEMMs) within
    // the larger budget of a group. Else a network's tiles, chunk_tiles at a time: a 64-network order-2
    // jet at 1,024 points (4.3 chunks a network) ran 14% faster so than grouped, its GEMMs large enough
    // and its jets in cache.
    const int64_t network_elements = tiles * components * rows * args.max_width();
    const bool grouped = args.networks > 1 && network_elements <= 2 * kJetChunkElements;
    const int64_t budget = grouped ? kNetworkGroupElements : kJetChunkElements;
    if (network_elements <= budget) {
      const int64_t per_chunk = std::max<int64_t>(1, budget / network_elements);
      for (int64_t b = 0; b < args.networks; b += per_chunk) {
        chunks.push_back({b, std::min(per_chunk, args.networks - b), 0, tiles});
      }
    } else {
      const int64_t chunk_tiles = jet_chunk_tiles(components, rows, args.max_width());
      for (int64_t b = 0; b < args.networks; ++b) {
        for (int64_t first = 0; first < tiles; first += chunk_tiles) {
          chunks.push_back({b, 1, first, std::min(chunk_tiles, tiles - first)});
        }
      }
    }
  }

  // The most tiles any chunk has: what the chunk buffers hold.
  int64_t largest_chunk() const {
    int64_t largest = 0;
    for (const Chunk& chunk : chunks) largest = std::max(largest, chunk.tiles());
    return largest;
  }

  // The chunk's networks of `tensor` (x, a weight, a bias, a saved jet or a gradient, as the op takes or
  // returns it): [networks, ...], one network being a batch of one.
  static at::Tensor networks_of(const JetArgs& args, const at::Tensor& tensor, const Chunk& chunk) {
    return args.with_networks(tensor).narrow(0, chunk.network, chunk.networks);
  }

  // out = in W (in W^T with transpose_weight) for the chunk's networks, in and out [networks, rows, *]:
  // batched GEMMs, each network's weight, or, where the networks share the weights (a modulated SIREN),
  // one GEMM over every network's rows.
  static void product_out(const JetArgs& args, const at::Tensor& out, const at::Tensor& in, const at::Tensor& weight,
                          const Chunk& chunk, bool transpose_weight) {
    if (args.shared_parameters) {
      at::Tensor rows_out = out.view({-1, out.size(-1)});
      at::mm_out(rows_out, in.reshape({-1, in.size(-1)}), transpose_weight ? weight.t() : weight);
      return;
    }
    const at::Tensor weights = networks_of(args, weight, chunk);
    at::Tensor batched_out = out;
    at::bmm_out(batched_out, in, transpose_weight ? weights.transpose(1, 2) : weights);
  }

  // A saved jet's tiles of the chunk, as [networks, count * tile_jet_rows, width] matrices (contiguous: a
  // chunk has whole networks or one network's tiles).
  at::Tensor chunk_matrices(const JetArgs& args, const at::Tensor& saved, const Chunk& chunk) const {
    return networks_of(args, saved, chunk)
        .narrow(1, chunk.first, chunk.count)
        .view({chunk.networks, chunk.count * tile_jet_rows, saved.size(-1)});
  }
};

// Three chunk-sized jets.
template <typename T>
struct ChunkBuffers {
  at::Tensor storage;
  T* jet[3];
  int64_t jet_elements;  // one chunk jet

  ChunkBuffers(int64_t chunk_tiles, int64_t components, int64_t rows, int64_t max_width,
               const at::TensorOptions& options)
      : jet_elements(chunk_tiles * components * rows * max_width) {
    storage = reusable_empty({3 * jet_elements}, options);
    T* p = storage.data_ptr<T>();
    for (auto& j : jet) j = p, p += jet_elements;
  }

  // Buffer i as `networks` stacked [rows, width] matrices, for the batched GEMMs.
  at::Tensor matrices(int i, int64_t networks, int64_t rows, int64_t width) const {
    return storage.narrow(0, i * jet_elements, networks * rows * width).view({networks, rows, width});
  }
};

// Input tangent t's entry k: the unit vectors, or a directional jet's directions ([R, D], non-null).
template <typename T>
T input_tangent(const T* directions, int64_t in_dims, int64_t t, int64_t k) {
  if (directions != nullptr) return directions[t * in_dims + k];
  return t == k ? T(1) : T(0);
}

// The input jet of a tile: value x, tangents the unit vectors (or a directional jet's directions,
// JetArgs::directions_data), higher parts zero. Rows past the end of the batch are zero so every
// tile has the same shape.
template <typename T>
void build_input_jet(const JetSpec& spec, const T* directions, const T* x, int64_t num_points, int64_t first_row,
                     int64_t rows, T* jet) {
  const int64_t d = spec.in_dims;
  const int64_t block = rows * d;
  std::fill(jet, jet + spec.components() * block, T(0));
  const int64_t valid = std::min(rows, num_points - first_row);
  std::memcpy(jet, x + first_row * d, sizeof(T) * valid * d);
  for (int64_t t = 0; t < spec.tangent_count(); ++t) {
    T* tangent = jet + (1 + t) * block;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < d; ++k) tangent[r * d + k] = input_tangent(directions, d, t, k);
    }
  }
}

// A tile's share of the first layer's weight gradient, transposed ([D, width]): gz^T times the
// tile's input jet without building it. That jet is x with the unit vectors as tangents and a zero
// second-order part, so out[k] = sum over the rows of x[r, k] gz[r] + gz_k[r] (with a directional
// jet's directions v_t, + sum_t v_t[k] gz_t[r]): no input jet to
// build, and no GEMM with an output only D wide, a shape MKL runs at a few GFLOP/s (even into
// transposed storage this GEMM took ~13 ms of a 16K-point Laplacian step, and this pass ~8 ms in a
// busier run).
template <typename T>
void input_layer_weight_grad(const JetSpec& spec, const T* directions, const T* x, int64_t num_points,
                             int64_t first_row, int64_t rows, const T* gz, int64_t width, T* out) {
  const int64_t d = spec.in_dims;
  const int64_t block = rows * width;
  const int64_t valid = std::min(rows, num_points - first_row);
  std::fill(out, out + d * width, T(0));
  for (int64_t r = 0; r < valid; ++r) {
    const T* value_row = gz + r * width;
    for (int64_t k = 0; k < d; ++k) {
      const T x_k = x[(first_row + r) * d + k];
      T* out_k = out + k * width;
      for (int64_t j = 0; j < width; ++j) out_k[j] += x_k * value_row[j];
    }
  }
  for (int64_t t = 0; t < spec.tangent_count(); ++t) {
    for (int64_t k = 0; k < d; ++k) {
      const T v = input_tangent(directions, d, t, k);
      if (v == T(0)) continue;
      T* out_k = out + k * width;
      for (int64_t r = 0; r < valid; ++r) {
        const T* tangent_row = gz + (1 + t) * block + r * width;
        for (int64_t j = 0; j < width; ++j) out_k[j] += v * tangent_row[j];
      }
    }
  }
}

template <typename T>
void add_bias(T* value_block, const T* bias, int64_t rows, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    T* row = value_block + r * width;
    for (int64_t j = 0; j < width; ++j) row[j] += bias[j];
  }
}

// out[j] = sum over the rows of a [rows, width] block: one tile's share of a bias gradient.
template <typename T>
void column_sums(const T* block, int64_t rows, int64_t width, T* out) {
  std::fill(out, out + width, T(0));
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = block + r * width;
    for (int64_t j = 0; j < width; ++j) out[j] += row[j];
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
