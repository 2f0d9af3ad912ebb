// How the CPU kernels use threads: one parallel region a call, one barrier (its end).
//
// Each thread takes whole chunks of points through every layer, calling the BLAS single-threaded
// on its own chunk. The design this replaces threaded every GEMM and every elementwise pass over a
// chunk, several hundred parallel regions a call: beside any other busy process (a DataLoader
// worker, a second job) each region's barrier waited for a thread the OS had descheduled while its
// sibling spun on a core (OpenMP's default wait policy), and a call slowed 2-4x, once 8-16x.
//
// Chunks are handed out in order from a shared counter, so a thread that is descheduled takes fewer
// of them instead of holding the others up. Which thread ran a chunk never changes its arithmetic:
// the forward writes each chunk's rows alone, and the backward sums parameter gradients per work
// unit (a fixed run of consecutive chunks, unit_gradients.h), then the units in order.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

namespace siren_fused::cpu {

// Parts [first, first + count) of each of `networks` consecutive networks from `network`: tiles of
// the forward-mode jet (jet_tiles.h), rows of the reverse-mode gradient. Several networks only when
// they are whole (first == 0), so a chunk that starts inside a network has that network alone.
struct Chunk {
  int64_t network;
  int64_t networks;
  int64_t first;
  int64_t count;

  int64_t tiles() const { return networks * count; }
  // The network and the part within it of the chunk's i-th part.
  int64_t network_of(int64_t i) const { return network + i / count; }
  int64_t tile_of(int64_t i) const { return first + i % count; }
};

// Threads a call's region runs on: torch's intra-op thread count, 1 inside another parallel region
// (where at::parallel_for runs inline), and never more than the items to share.
inline int64_t worker_count(int64_t items) {
  const int64_t threads = at::in_parallel_region() ? 1 : at::get_num_threads();
  return std::max<int64_t>(1, std::min<int64_t>(threads, items));
}

// Runs fn(item, worker) for every item of [0, items) in one parallel region of `workers` threads
// (worker_count(items)), worker in [0, workers) naming the thread's scratch. Items go out in
// increasing order, each to whichever thread asks next.
template <typename Fn>
void for_each_item(int64_t items, int64_t workers, const Fn& fn) {
  std::atomic<int64_t> next{0};
  if (workers == 1) {  // no region at all: one thread, or already inside someone's region
    for (int64_t item = 0; item < items; ++item) fn(item, 0);
    return;
  }
  // The caller's thread-local state (dispatch keys excluded below autograd, grad mode) for the ATen
  // calls on OpenMP's threads, which do not inherit it: without it a GEMM into a buffer would meet
  // autograd again there.
  const at::ThreadLocalState caller_state;
  at::parallel_for(0, workers, 1, [&](int64_t begin, int64_t end) {
    const at::ThreadLocalStateGuard state_guard(caller_state);
    for (int64_t worker = begin; worker < end; ++worker) {
      for (int64_t item = next++; item < items; item = next++) fn(item, worker);
    }
  });
}

// Consecutive runs of chunks, the backward's units of work and of gradient summation. Their number
// depends on the chunk count alone up to 8 threads (16 units), so gradients are bit-identical for
// 1 to 8 threads; more threads get 2 units each, enough to even out a descheduled thread.
struct WorkUnits {
  std::vector<int64_t> begin;  // unit u is chunks [begin[u], begin[u + 1])

  WorkUnits(int64_t chunks, int64_t threads) {
    const int64_t units = std::min<int64_t>(chunks, std::max<int64_t>(16, 2 * threads));
    for (int64_t u = 0; u <= units; ++u) begin.push_back(units == 0 ? 0 : u * chunks / units);
  }
  int64_t count() const { return static_cast<int64_t>(begin.size()) - 1; }
};

}  // namespace siren_fused::cpu
