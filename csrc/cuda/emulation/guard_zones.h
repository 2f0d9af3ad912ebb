// Guard zones around the emulated device buffers the torch glue hands the kernels. On a GPU a kernel
// writing past a buffer corrupts memory silently; on the host, torch's allocations sit among other heap
// blocks, and a stray write shows up later, if at all, as a heap-corruption abort or a wrong number
// elsewhere. So under the emulation every output and the workspace is a copy inside a larger block
// whose margins hold a canary, checked after the launch sequence: a write past a buffer fails the op
// with the buffer's name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace siren_fused::cuda_emulation {

class GuardedBuffers {
 public:
  // Where the kernels are to use the `elements` floats at `data` (null: a scratch buffer, such as the
  // workspace): a copy of them between two guard zones, copied back by release().
  float* guard(const std::string& name, float* data, int64_t elements);
  // Empty if every guard zone is intact, else which buffers were written past, and where. Copies every
  // buffer back to its caller's memory either way.
  std::string release();

 private:
  struct Buffer {
    std::string name;
    float* caller;  // null for a scratch buffer
    int64_t elements;
    std::unique_ptr<float[]> block;  // guard zone, the buffer, guard zone
  };
  std::vector<Buffer> buffers_;
};

}  // namespace siren_fused::cuda_emulation
