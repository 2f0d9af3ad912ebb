// How the fused kernels cut the N points into tiles, shared by the kernels, the op's shape
// functions and Python's fake (meta) implementation, so saved tensors agree on one layout.
#pragma once

#include <algorithm>
#include <cstdint>

namespace siren_fused {

// A tile of rows is carried through every layer while its jet stays in cache: the rows are
// chosen so one layer's jet, [components, rows, width], is about 64K elements (256 KB in
// float32), which fits in L2 beside a second buffer of the same size. The rows depend on the
// network alone, not on N, so shapes stay symbolic in N under torch.compile.
//
// The rows are odd. The CPU passes stream every component block of two or three tile jets at
// once; with a power-of-two width an even row count puts those blocks a multiple of 4 KB apart,
// so all the streams fall in the same L1 sets (8 ways) and evict one another. The backward's
// fused forward-and-VJP pass (12 streams) ran about 25% slower with 64 rows than with 63.
// An even count is rounded up, not down: batches are often powers of two (a 32 x 32 image's 1,024
// pixels), which 2^k + 1 rows a tile cover with almost no padding, where 2^k - 1 rows pad a whole tile
// more (1,024 points at 1,023 rows a tile made two tiles, twice the work, for a 64-wide net's value).
inline int64_t jet_tile_rows(int64_t components, int64_t max_width) {
  constexpr int64_t kTileElements = 65536;
  const int64_t rows = std::max<int64_t>(8, kTileElements / std::max<int64_t>(1, components * max_width));
  return rows % 2 == 0 ? rows + 1 : rows;
}

// Elements whose GEMMs run as one call: 256K a layer (1 MB in float32; about 1000 stacked rows at
// width 256), so the chunk's three jet buffers stay in cache even on a machine whose L3 other
// tenants share, while the GEMMs keep both cores busy. On the 2-core CI VM, under load, the 16K-point
// Laplacian train step took a median 762 ms with this size against 1016 ms with 2M elements a
// chunk (8 interleaved steps each, one process); the order-1 gradient step 357 against 419 ms.
// Those runs threaded each chunk's GEMM; since issue 24 a chunk is one thread's (chunk_scheduler.h)
// and the size has not been measured again.
constexpr int64_t kJetChunkElements = 1 << 18;

// Elements a chunk may take when it groups whole networks of a batch (a hypernetwork's B networks at
// a few thousand points each): 4M a layer (16 MB in float32), 12 networks 2->256x3->3 at 1,024 points
// for their value. Grouping trades the small chunk's cache locality for fewer, larger GEMMs, which is
// what counts with many networks: on the 2-core VM under load, 16 GEMMs [1020, 256] x [256, 256] took
// 508 ms one call each against 62 ms as one batched call (the BLAS threads meet once, not 16 times).
// That measurement was of threaded GEMMs; with a chunk one thread's (chunk_scheduler.h), a group of
// 12 networks also means few chunks to share between the threads. Not measured again yet.
constexpr int64_t kNetworkGroupElements = 1 << 22;

// Tiles in one such chunk.
inline int64_t jet_chunk_tiles(int64_t components, int64_t tile_rows, int64_t max_width) {
  return std::max<int64_t>(1, kJetChunkElements / std::max<int64_t>(1, components * tile_rows * max_width));
}

inline int64_t jet_tile_count(int64_t num_points, int64_t tile_rows) {
  return (num_points + tile_rows - 1) / tile_rows;
}

}  // namespace siren_fused
