// Execution contexts for the emulation's fibers: prepare one on a stack of its own, switch
// between two.
//
// On x86-64 a switch saves the callee-saved registers on the current stack and swaps stack
// pointers: a few nanoseconds. glibc's swapcontext, used elsewhere, also saves and restores the
// signal mask, a system call each time (about 0.2 us here), and the emulated GEMM kernels, which
// pass a barrier every 16 steps of k in blocks of 256 threads, spent most of their time in it.
#pragma once

#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

// Keeps ThreadSanitizer out of a function, its entry and exit included (GCC's attribute drops
// both; clang's would need disable_sanitizer_instrumentation): for the fibers' entry and switch
// functions, whose calls a fiber may leave without returning. Each TSan fiber serves every block,
// and such frames, one set a block, would overflow its 64K-frame shadow stack.
#if defined(__SANITIZE_THREAD__)
#define SIREN_FIBER_UNINSTRUMENTED __attribute__((no_sanitize_thread))
#else
#define SIREN_FIBER_UNINSTRUMENTED
#endif

namespace siren_fused::cuda_emulation {

struct FiberContext {
#if defined(__x86_64__)
  void* stack_pointer = nullptr;
#else
  ucontext_t context;
#endif
};

// Makes `fiber` start entry() (which must never return) on [stack_bottom, stack_bottom + bytes)
// at its first switch_fiber.
void prepare_fiber(FiberContext& fiber, char* stack_bottom, size_t bytes, void (*entry)());

// Saves the running context into `from` and resumes `to`; returns when something switches back.
SIREN_FIBER_UNINSTRUMENTED void switch_fiber(FiberContext& from, FiberContext& to);

}  // namespace siren_fused::cuda_emulation
