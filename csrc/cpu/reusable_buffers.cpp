#include "reusable_buffers.h"

#include <ATen/ATen.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/accumulate.h>

#include <mutex>
#include <unordered_map>

namespace siren_fused::cpu {

namespace {

constexpr size_t kMaxIdleBytes = size_t{1} << 30;
constexpr size_t kMinBytes = size_t{1} << 20;

struct IdleBuffers {
  std::mutex mutex;
  std::unordered_multimap<size_t, void*> by_size;
  size_t bytes = 0;
};

IdleBuffers& idle() {
  // Never destroyed: tensors still alive at exit give their buffers back after static destruction.
  static IdleBuffers* buffers = new IdleBuffers();
  return *buffers;
}

void* take(size_t bytes) {
  IdleBuffers& pool = idle();
  std::lock_guard<std::mutex> lock(pool.mutex);
  const auto found = pool.by_size.find(bytes);
  if (found == pool.by_size.end()) return nullptr;
  void* data = found->second;
  pool.by_size.erase(found);
  pool.bytes -= bytes;
  return data;
}

void give_back(void* data, size_t bytes) {
  IdleBuffers& pool = idle();
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    if (pool.bytes + bytes <= kMaxIdleBytes) {
      pool.by_size.emplace(bytes, data);
      pool.bytes += bytes;
      return;
    }
  }
  c10::free_cpu(data);
}

}  // namespace

at::Tensor reusable_empty(at::IntArrayRef shape, const at::TensorOptions& options) {
  const size_t bytes = static_cast<size_t>(c10::multiply_integers(shape)) * options.dtype().itemsize();
  if (bytes < kMinBytes) return at::empty(shape, options);
  void* data = take(bytes);
  if (data == nullptr) data = c10::alloc_cpu(bytes);
  return at::from_blob(data, shape, [bytes](void* p) { give_back(p, bytes); }, options);
}

void release_idle_buffers() {
  IdleBuffers& pool = idle();
  std::lock_guard<std::mutex> lock(pool.mutex);
  for (const auto& entry : pool.by_size) c10::free_cpu(entry.second);
  pool.by_size.clear();
  pool.bytes = 0;
}

}  // namespace siren_fused::cpu
