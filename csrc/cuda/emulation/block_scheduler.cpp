// The emulation's launches: the grid's blocks in a shuffled order, each block's threads as fibers
// on the launching host thread, switched only at __syncthreads.
//
// Fibers rather than a pool of OS threads with a barrier: a block of 256 threads passes a barrier
// in 512 context switches of a few nanoseconds each (fiber_context.h), where waking 256 OS threads
// on 2 cores costs microseconds each time, and the whole-network kernel passes two barriers a layer.
// Under ThreadSanitizer every fiber is its own TSan thread, synchronised with the other threads of
// its block only by the barriers, so TSan reports shared- or global-memory accesses
// that two threads of a block make between the same pair of barriers. Blocks are ordered one after
// another for TSan (their fibers reuse stacks), so races between blocks go unreported.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "device_model.h"
#include "fiber_context.h"
#include "static_shared.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define SIREN_EMULATION_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define SIREN_EMULATION_TSAN 1
#endif

namespace siren_fused::cuda_emulation {

const ThreadCoordinates* running_thread = nullptr;

namespace {

#if defined(SIREN_EMULATION_ASAN) || defined(SIREN_EMULATION_TSAN)
constexpr size_t kStackBytes = size_t(1) << 20;  // sanitizers' instrumentation grows frames
#else
constexpr size_t kStackBytes = size_t(256) << 10;
#endif

struct Fiber {
  FiberContext context;
  char* stack_bottom;  // kStackBytes above a guard page
  ThreadCoordinates coordinates;
  // Written by the fiber, read by the scheduler, through relaxed atomics (see running_thread).
  const char* barrier_file;
  int barrier_line;
  int finished;
  int barriers_passed;  // in this block: which of the scheduler's barrier_sync objects is next
  void* tsan_fiber;
  void* asan_fake_stack;
};

struct Scheduler {
  std::unique_ptr<Fiber[]> fibers;  // kMaxThreadsPerBlock of them, made on the first launch
  Fiber* running = nullptr;
  FiberContext context;
  void (*body)(void*) = nullptr;
  void* body_context = nullptr;
  void* dynamic_shared = nullptr;
  void* tsan_fiber = nullptr;
  const void* asan_stack_bottom = nullptr;  // the launching thread's stack, to switch back to
  size_t asan_stack_size = 0;
  // Synchronisation objects for ThreadSanitizer: barriers (alternately), and the end of a block.
  char barrier_sync[2] = {0, 0};
  char block_end_sync = 0;
};

std::mutex launch_mutex;  // one grid at a time: blocks' static shared arrays are process-wide
Scheduler scheduler;

template <typename T>
T load_relaxed(const T& value) {
  T out;
  __atomic_load(&value, &out, __ATOMIC_RELAXED);
  return out;
}

template <typename T>
void store_relaxed(T& target, T value) {
  __atomic_store(&target, &value, __ATOMIC_RELAXED);
}

void make_fibers() {
  if (scheduler.fibers) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t slot = kStackBytes + page;
  char* stacks = static_cast<char*>(mmap(nullptr, slot * kMaxThreadsPerBlock, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (stacks == MAP_FAILED) {
    std::perror("siren_fused CUDA emulation: mapping the fibers' stacks");
    std::abort();
  }
  scheduler.fibers = std::make_unique<Fiber[]>(kMaxThreadsPerBlock);
  for (int t = 0; t < kMaxThreadsPerBlock; ++t) {
    char* guard = stacks + t * slot;
    mprotect(guard, page, PROT_NONE);  // a stack overflow faults instead of corrupting its neighbour
    scheduler.fibers[t].stack_bottom = guard + page;
#if defined(SIREN_EMULATION_TSAN)
    // One TSan thread per fiber for good: ThreadSanitizer clears pages for each one it creates, and
    // one per thread per block made a small launch sequence take minutes instead of seconds.
    // Blocks run one after another anyway.
    scheduler.fibers[t].tsan_fiber = __tsan_create_fiber(0);
#endif
  }
}

SIREN_FIBER_UNINSTRUMENTED void switch_to_scheduler(Fiber& self, bool exiting) {
#if defined(SIREN_EMULATION_ASAN)
  __sanitizer_start_switch_fiber(exiting ? nullptr : &self.asan_fake_stack, scheduler.asan_stack_bottom,
                                 scheduler.asan_stack_size);
#endif
#if defined(SIREN_EMULATION_TSAN)
  __tsan_switch_to_fiber(scheduler.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
  switch_fiber(self.context, scheduler.context);
#if defined(SIREN_EMULATION_ASAN)
  __sanitizer_finish_switch_fiber(self.asan_fake_stack, &scheduler.asan_stack_bottom, &scheduler.asan_stack_size);
#endif
  (void)exiting;
}

SIREN_FIBER_UNINSTRUMENTED void fiber_main() {
#if defined(SIREN_EMULATION_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &scheduler.asan_stack_bottom, &scheduler.asan_stack_size);
#endif
  Fiber& self = *load_relaxed(scheduler.running);
  scheduler.body(scheduler.body_context);
  store_relaxed(self.finished, 1);
#if defined(SIREN_EMULATION_TSAN)
  __tsan_release(&scheduler.block_end_sync);
#endif
  switch_to_scheduler(self, true);  // never resumed
}

// Runs fiber `self` until it reaches a barrier or returns. Its first run of a block synchronises
// with the launch (it sees the arguments and memory as the launch left them); later runs do not.
void resume(Fiber& fiber, bool first_run) {
  store_relaxed(scheduler.running, &fiber);
  store_relaxed(running_thread, static_cast<const ThreadCoordinates*>(&fiber.coordinates));
#if defined(SIREN_EMULATION_ASAN)
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, fiber.stack_bottom, kStackBytes);
#endif
#if defined(SIREN_EMULATION_TSAN)
  __tsan_switch_to_fiber(fiber.tsan_fiber, first_run ? 0 : __tsan_switch_to_fiber_no_sync);
#endif
  (void)first_run;
  switch_fiber(scheduler.context, fiber.context);
#if defined(SIREN_EMULATION_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
}

std::string describe(const uint3& t) {
  return "thread (" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) + ")";
}

std::string barrier_site(const Fiber& fiber) {
  return std::string(load_relaxed(fiber.barrier_file)) + ":" + std::to_string(load_relaxed(fiber.barrier_line));
}

// Compared without building strings: every thread is checked at every barrier. (__FILE__ of one
// file is one string literal in practice; a differing pointer for the same file would only add a
// false "different barriers" failure, never hide one.)
bool same_barrier(const Fiber& a, const Fiber& b) {
  return load_relaxed(a.barrier_line) == load_relaxed(b.barrier_line) &&
         load_relaxed(a.barrier_file) == load_relaxed(b.barrier_file);
}

// Runs one block to the end; returns why it failed, or "".
std::string run_block(const ThreadCoordinates& block, int threads, std::mt19937& rng) {
  const dim3& dim = block.block_dim;
  for (int t = 0; t < threads; ++t) {
    Fiber& fiber = scheduler.fibers[t];
    fiber.coordinates = block;
    fiber.coordinates.thread_idx = {t % dim.x, (t / dim.x) % dim.y, t / (dim.x * dim.y)};
    store_relaxed(fiber.barrier_file, static_cast<const char*>(nullptr));
    store_relaxed(fiber.finished, 0);
    fiber.barriers_passed = 0;
    prepare_fiber(fiber.context, fiber.stack_bottom, kStackBytes, fiber_main);
  }
  std::vector<int> order(threads);
  std::iota(order.begin(), order.end(), 0);
  std::string failure;
  for (bool first_round = true; failure.empty(); first_round = false) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int t : order) {
      if (!load_relaxed(scheduler.fibers[t].finished)) resume(scheduler.fibers[t], first_round);
    }
    // Every thread has now returned or waits at a barrier: all must wait at the same one.
    const Fiber* waiting = nullptr;
    const Fiber* returned = nullptr;
    for (int t = 0; t < threads && failure.empty(); ++t) {
      const Fiber& fiber = scheduler.fibers[t];
      if (load_relaxed(fiber.finished)) {
        returned = &fiber;
      } else if (waiting == nullptr) {
        waiting = &fiber;
      } else if (!same_barrier(fiber, *waiting)) {
        failure = describe(waiting->coordinates.thread_idx) + " waits at __syncthreads " + barrier_site(*waiting) +
                  " but " + describe(fiber.coordinates.thread_idx) + " at " + barrier_site(fiber) +
                  ": every thread of a block must reach the same barrier";
      }
    }
    if (waiting == nullptr) break;  // the block is done
    if (failure.empty() && returned != nullptr) {
      failure = describe(returned->coordinates.thread_idx) + " returned while " +
                describe(waiting->coordinates.thread_idx) + " waits at __syncthreads " + barrier_site(*waiting) +
                ": every thread of a block must reach each barrier";
    }
    for (int t = 0; t < threads; ++t) store_relaxed(scheduler.fibers[t].barrier_file, static_cast<const char*>(nullptr));
  }
#if defined(SIREN_EMULATION_TSAN)
  __tsan_acquire(&scheduler.block_end_sync);
#endif
  return failure;
}

std::string check_geometry(dim3 grid, dim3 block) {
  const unsigned long long threads = static_cast<unsigned long long>(block.x) * block.y * block.z;
  if (threads == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0) return "a grid or block dimension is 0";
  if (threads > kMaxThreadsPerBlock || block.z > kMaxBlockDimZ) {
    return "a block of " + std::to_string(block.x) + "x" + std::to_string(block.y) + "x" + std::to_string(block.z) +
           " threads exceeds the device's 1024 threads (and 64 in z)";
  }
  if (grid.x > kMaxGridDimX || grid.y > kMaxGridDimYZ || grid.z > kMaxGridDimYZ) {
    return "a grid of " + std::to_string(grid.x) + "x" + std::to_string(grid.y) + "x" + std::to_string(grid.z) +
           " blocks exceeds the device's limits (2^31-1, 65535, 65535)";
  }
  return "";
}

// The shuffled orders of a launch (blocks, and threads after each barrier) follow from its
// geometry and SIREN_FUSED_EMULATION_SEED (default 0): launches of different shapes run in different
// orders, while the same call twice runs the same way, so a failure replays and results are
// reproducible; another seed explores other orders.
std::mt19937 launch_rng(dim3 grid, dim3 block, size_t dynamic_shared_bytes) {
  static const unsigned long long base_seed = [] {
    const char* seed = std::getenv("SIREN_FUSED_EMULATION_SEED");
    return seed != nullptr ? std::strtoull(seed, nullptr, 10) : 0ull;
  }();
  std::seed_seq seed{static_cast<unsigned>(base_seed), static_cast<unsigned>(base_seed >> 32), grid.x, grid.y, grid.z,
                     block.x, block.y, block.z, static_cast<unsigned>(dynamic_shared_bytes)};
  return std::mt19937(seed);
}

}  // namespace

void* dynamic_shared_memory() { return scheduler.dynamic_shared; }

void sync_threads(const char* file, int line) {
  Fiber& self = *load_relaxed(scheduler.running);
  store_relaxed(self.barrier_line, line);
  store_relaxed(self.barrier_file, file);
#if defined(SIREN_EMULATION_TSAN)
  // Every thread releases into this barrier's object before any passes the barrier, and acquires
  // from it alone: a thread that passed earlier and already reached the next barrier has released
  // into the other object, so its accesses since this barrier stay unordered with this thread's.
  // (One object for every barrier ordered them, and hid every race past a block's first barrier.)
  char* const barrier_sync = &scheduler.barrier_sync[self.barriers_passed++ % 2];
  __tsan_release(barrier_sync);
#endif
  switch_to_scheduler(self, false);
#if defined(SIREN_EMULATION_TSAN)
  __tsan_acquire(barrier_sync);
#endif
}

cudaError_t run_grid(KernelKey kernel, dim3 grid, dim3 block, size_t dynamic_shared_bytes, void (*body)(void*),
                     void* context) {
  const std::string geometry = check_geometry(grid, block);
  if (!geometry.empty()) return record_error(cudaErrorInvalidConfiguration, geometry);
  cudaFuncAttributes attributes{};
  const cudaError_t attributes_error = function_attributes(kernel, &attributes);
  if (attributes_error != cudaSuccess) return attributes_error;
  if (dynamic_shared_bytes > static_cast<size_t>(attributes.maxDynamicSharedSizeBytes)) {
    return record_error(cudaErrorInvalidValue,
                        "the launch asks for " + std::to_string(dynamic_shared_bytes) +
                            " B of dynamic shared memory beside the kernel's " +
                            std::to_string(attributes.sharedSizeBytes) + " B of static shared memory, but the "
                            "kernel allows " + std::to_string(attributes.maxDynamicSharedSizeBytes) +
                            " B (48 KB in all unless cudaFuncAttributeMaxDynamicSharedMemorySize raises it)");
  }

  const std::lock_guard<std::mutex> lock(launch_mutex);
  make_fibers();
  // Exactly the bytes asked for, so AddressSanitizer catches a read or write past them.
  const std::unique_ptr<unsigned char[]> dynamic_shared(new unsigned char[dynamic_shared_bytes]);
  const StaticShared& static_shared = static_shared_of(kernel);
  scheduler.body = body;
  scheduler.body_context = context;
  scheduler.dynamic_shared = dynamic_shared.get();
#if defined(SIREN_EMULATION_TSAN)
  scheduler.tsan_fiber = __tsan_get_current_fiber();
#endif
  const int threads = static_cast<int>(block.x * block.y * block.z);
  std::vector<uint3> blocks;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) blocks.push_back({x, y, z});
    }
  }
  std::mt19937 rng = launch_rng(grid, block, dynamic_shared_bytes);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  std::string failure;
  for (const uint3& block_idx : blocks) {
    // Shared memory starts every block uninitialised: NaN bytes, so a read before a write shows.
    std::memset(dynamic_shared.get(), 0xff, dynamic_shared_bytes);
    for (const SharedArray& array : static_shared.arrays) std::memset(array.address, 0xff, array.bytes);
    failure = run_block({{0, 0, 0}, block_idx, block, grid}, threads, rng);
    if (!failure.empty()) {
      failure = "block (" + std::to_string(block_idx.x) + "," + std::to_string(block_idx.y) + "," +
                std::to_string(block_idx.z) + "): " + failure;
      break;
    }
  }
  store_relaxed(running_thread, static_cast<const ThreadCoordinates*>(nullptr));
  // A launch that succeeds leaves an earlier error pending, as on a GPU.
  return failure.empty() ? cudaSuccess : record_error(cudaErrorLaunchFailure, failure);
}

}  // namespace siren_fused::cuda_emulation
