// Large CPU buffers that the kernels hand out again instead of returning them to the system.
//
// Every training step allocates the same saved jets (hundreds of MB for a paper-sized net) and the
// same chunk scratch; fresh from the allocator, that memory is mapped anew each time and its first
// touch page-faults, which cost about a tenth of a Laplacian-loss training step here. A buffer of
// the same byte size, freed by autograd after the previous backward, is taken back instead.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace siren_fused::cpu {

// An uninitialised contiguous CPU tensor, from the idle buffers when one of its byte size is
// there. Idle buffers are kept up to 1 GiB in all; buffers under 1 MB come from at::empty.
at::Tensor reusable_empty(at::IntArrayRef shape, const at::TensorOptions& options);

// Frees every idle buffer (siren_fused.empty_cache()).
void release_idle_buffers();

}  // namespace siren_fused::cpu
