#!/usr/bin/env bash
# Builds the emulated CUDA kernels (csrc/cuda/*.cu on csrc/cuda/emulation) with AddressSanitizer and
# UndefinedBehaviorSanitizer, then with ThreadSanitizer, and runs sanitizer_driver.cpp under each:
# an out-of-bounds access to global or shared memory, undefined behaviour, a shared-memory race
# between barriers, or a wrong result fails the script (non-zero exit). Needs only g++.
#
# Usage, from the repository root (CI): bash tests/cuda_emulation/run_sanitizers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir=$(mktemp -d)
trap 'rm -rf "$build_dir"' EXIT

# -O1 keeps the reports' stacks readable while the emulated kernels still run in seconds. The
# binary is not stripped: the emulation reads kernels' static shared arrays from its symbol table.
common_flags=(-std=c++17 -DSIREN_FUSED_CUDA_EMULATED -g -O1 -fno-omit-frame-pointer
              -Wall -Wextra -Werror -Wno-unknown-pragmas)
sources=(-x c++ csrc/cuda/*.cu -x none csrc/cuda/emulation/*.cpp tests/cuda_emulation/sanitizer_driver.cpp)

# The first report stops the run with a non-zero exit. Not detect_stack_use_after_return: ASan
# then sets up a fake stack for every thread of every block (each starts as a fresh fiber), and
# the first case took 45 s instead of 3.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:exitcode=66

# build_and_run NAME "SANITIZER FLAGS" [DRIVER ARGUMENTS...]
build_and_run() {
  local name=$1 sanitizer_flags=$2
  shift 2
  local start=$SECONDS
  echo "== $name: building"
  # shellcheck disable=SC2086  # the flags are words
  g++ "${common_flags[@]}" $sanitizer_flags "${sources[@]}" -o "$build_dir/$name"
  echo "== $name: running"
  "$build_dir/$name" "$@"
  echo "== $name: clean, $((SECONDS - start)) s"
}

build_and_run asan_ubsan "-fsanitize=address,undefined -fno-sanitize-recover=all"
# Races are within a block, so ThreadSanitizer (several times slower) skips the one case whose
# size is its batch alone; every kernel and block shape runs in the others.
build_and_run tsan "-fsanitize=thread" --except "two chunks"
