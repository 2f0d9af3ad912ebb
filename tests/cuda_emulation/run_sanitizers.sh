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

# build NAME "SANITIZER FLAGS": the driver built with those sanitizers, in the background.
build() {
  # shellcheck disable=SC2086  # the flags are words
  g++ "${common_flags[@]}" $2 "${sources[@]}" -o "$build_dir/$1" > "$build_dir/$1.build.log" 2>&1 &
}

# run NAME [DRIVER ARGUMENTS...]: the driver under that build, in the background.
run() {
  local name=$1
  shift
  "$build_dir/$name" "$@" > "$build_dir/$name.log" 2>&1 &
}

# report NAME STATUS LOG_SUFFIX: the step's log, and whether it passed.
report() {
  echo "== $1 ($3): $([[ $2 == 0 ]] && echo clean || echo "FAILED, exit $2")"
  cat "$build_dir/$1.$3"
}

# The two passes build and run side by side (each is single-threaded).
start=$SECONDS
build asan_ubsan "-fsanitize=address,undefined -fno-sanitize-recover=all"
build tsan "-fsanitize=thread"
status=0
for name in asan_ubsan tsan; do
  wait -n || true
done
for name in asan_ubsan tsan; do
  [[ -x $build_dir/$name ]] || { report "$name" 1 build.log; status=1; }
done
(( status == 0 )) || exit 1
echo "== built in $((SECONDS - start)) s"

run asan_ubsan
asan_pid=$!
# Races are within a block, so ThreadSanitizer (several times slower) skips the cases whose size is
# their batch or their width alone; every kernel and block shape runs in the others.
run tsan --except "two chunks" --except "width 256" --except "D=160"
tsan_pid=$!
wait "$asan_pid" && asan_status=0 || asan_status=$?
wait "$tsan_pid" && tsan_status=0 || tsan_status=$?
report asan_ubsan "$asan_status" log
report tsan "$tsan_status" log
echo "== sanitizer runs: $((SECONDS - start)) s in all"
(( asan_status == 0 && tsan_status == 0 ))
