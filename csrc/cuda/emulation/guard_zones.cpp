#include "guard_zones.h"

#include <algorithm>
#include <cstring>

namespace siren_fused::cuda_emulation {

namespace {

// 16 KB a side: past a whole jet row of a wide layer, so a write one row or one tile past the end
// still lands in it.
constexpr int64_t kGuardFloats = 4096;

// The canary of one zone: a small finite number of its own for every zone, so that a stray write
// of what a kernel read from another zone (a copy, or a NaN carrying its payload through the
// arithmetic) still changes the zone it lands in.
uint32_t canary_bits(size_t buffer, bool after) { return 0x2a5f0000u + 2 * static_cast<uint32_t>(buffer) + after; }

float canary(size_t buffer, bool after) {
  const uint32_t bits = canary_bits(buffer, after);
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

bool is_canary(float value, size_t buffer, bool after) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits == canary_bits(buffer, after);
}

}  // namespace

float* GuardedBuffers::guard(const std::string& name, float* data, int64_t elements) {
  const size_t index = buffers_.size();
  std::unique_ptr<float[]> block(new float[elements + 2 * kGuardFloats]);
  float* inside = block.get() + kGuardFloats;
  std::fill(block.get(), inside, canary(index, false));
  std::fill(inside + elements, inside + elements + kGuardFloats, canary(index, true));
  if (data != nullptr) std::copy(data, data + elements, inside);
  buffers_.push_back({name, data, elements, std::move(block)});
  return inside;
}

std::string GuardedBuffers::release() {
  std::string report;
  for (size_t index = 0; index < buffers_.size(); ++index) {
    const Buffer& buffer = buffers_[index];
    const float* inside = buffer.block.get() + kGuardFloats;
    if (buffer.caller != nullptr) std::copy(inside, inside + buffer.elements, buffer.caller);
    // The stray writes nearest the buffer on either side.
    for (int64_t i = 0; i < kGuardFloats; ++i) {
      if (!is_canary(inside[buffer.elements + i], index, true)) {
        report += "a kernel wrote past the end of " + buffer.name + " (" + std::to_string(buffer.elements) +
                  " floats), at element " + std::to_string(buffer.elements + i) + "; ";
        break;
      }
    }
    for (int64_t i = 1; i <= kGuardFloats; ++i) {
      if (!is_canary(inside[-i], index, false)) {
        report += "a kernel wrote before the start of " + buffer.name + ", at element -" + std::to_string(i) + "; ";
        break;
      }
    }
  }
  buffers_.clear();
  return report;
}

}  // namespace siren_fused::cuda_emulation
