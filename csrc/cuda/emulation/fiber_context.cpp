#include "fiber_context.h"

#include <cstdint>

namespace siren_fused::cuda_emulation {

#if defined(__x86_64__)

// siren_fiber_switch(void** save, void* load): push the System V callee-saved registers, store the
// stack pointer in *save, load `load`, pop the registers saved there, return into that fiber.
// (The SSE and x87 control words are callee-saved too, but no kernel changes them.)
extern "C" void siren_fiber_switch(void** save, void* load);
asm(R"(
  .text
  .p2align 4
  .globl siren_fiber_switch
  .hidden siren_fiber_switch
  .type siren_fiber_switch, @function
siren_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size siren_fiber_switch, .-siren_fiber_switch
)");

void prepare_fiber(FiberContext& fiber, char* stack_bottom, size_t bytes, void (*entry)()) {
  // The first switch pops six zero registers and returns into entry() with the stack as a call
  // leaves it: 8 bytes below a 16-byte boundary.
  auto top = reinterpret_cast<uintptr_t>(stack_bottom + bytes) & ~uintptr_t(15);
  auto* frame = reinterpret_cast<void**>(top - 64);
  for (int i = 0; i < 6; ++i) frame[i] = nullptr;
  frame[6] = reinterpret_cast<void*>(entry);
  frame[7] = nullptr;  // entry's return address: it never returns
  fiber.stack_pointer = frame;
}

SIREN_FIBER_UNINSTRUMENTED void switch_fiber(FiberContext& from, FiberContext& to) {
  siren_fiber_switch(&from.stack_pointer, to.stack_pointer);
}

#else

void prepare_fiber(FiberContext& fiber, char* stack_bottom, size_t bytes, void (*entry)()) {
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = stack_bottom;
  fiber.context.uc_stack.ss_size = bytes;
  fiber.context.uc_link = nullptr;
  makecontext(&fiber.context, entry, 0);
}

SIREN_FIBER_UNINSTRUMENTED void switch_fiber(FiberContext& from, FiberContext& to) {
  swapcontext(&from.context, &to.context);
}

#endif

}  // namespace siren_fused::cuda_emulation
