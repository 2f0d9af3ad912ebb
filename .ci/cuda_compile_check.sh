#!/usr/bin/env bash
# Compiles every csrc/cuda/*.cu with plain nvcc for sm_80 and sm_90, warnings as errors; needs no
# GPU and no torch (the .cu files include no torch header). Skips, successfully, without nvcc.
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/find_nvcc.sh

shopt -s nullglob
sources=(csrc/cuda/*.cu)
if (( ${#sources[@]} == 0 )); then
  echo "cuda_compile_check: no csrc/cuda/*.cu to compile" >&2
  exit 1
fi

out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT
# -Xptxas -warn-spills,-warn-lmem-usage: ptxas reports every register spill and every use of local
# memory, which in these kernels is a register budget or an array index gone wrong; -Xcompiler: the
# host compiler's -Wall -Wextra on the host side, as errors.
flags=(-std=c++17 -O3 -Xptxas -warn-spills,-warn-lmem-usage -Xcompiler -Wall,-Wextra,-Werror)
# Every nvcc or ptxas warning fails the check but these:
# - sincosf's slow path (the Payne-Hanek reduction of arguments past 105615, which omega * z reaches)
#   keeps its 7-word table in a 32-byte local frame, in every kernel that takes a sine;
# - the whole-network kernel's known spills, left until a GPU decides where that kernel still runs
#   (benchmarks/gpu_check.sh): its 1-D Hessian instances spill 20 bytes on sm_80 (a 56-byte frame),
#   its 3-D Laplacian instances 4 bytes on sm_90 (a 40-byte frame);
# - the elementwise VJP kernel's 64-byte frame since it also runs the directional (order 3 and 4) rule of
#   csrc/taylor_jet.h, whose per-direction Taylor coefficients it indexes by the runtime order: no spill, a
#   local array; whether it costs anything against the kernel's memory traffic is for a GPU to measure.
# A new spill, another kernel's local array or another frame size fails.
fused="fused_jet_forward_kernelINS1_11FusedConfigILi[0-9]+"
allowed="^ptxas warning : Local memory used for function '[^']*', size of stack frame: 32 bytes$"
allowed+="|^ptxas warning : Local memory used for function '[^']*${fused}ELi1ELi2ELb1E[^']*', size of stack frame: 56 bytes$"
allowed+="|^ptxas warning : Registers are spilled to local memory in function '[^']*${fused}ELi1ELi2ELb1E[^']*', 20 bytes spill stores, 20 bytes spill loads$"
allowed+="|^ptxas warning : Local memory used for function '[^']*${fused}ELi3ELi2ELb0E[^']*', size of stack frame: 40 bytes$"
allowed+="|^ptxas warning : Registers are spilled to local memory in function '[^']*${fused}ELi3ELi2ELb0E[^']*', 4 bytes spill stores, 4 bytes spill loads$"
allowed+="|^ptxas warning : Local memory used for function '[^']*jet_vjp_kernelENS0_10JetVjpArgsE', size of stack frame: 64 bytes$"
status=0
for arch in 80 90; do
  for src in "${sources[@]}"; do
    obj="$out_dir/$(basename "$src" .cu).sm_$arch.o"
    log="$obj.log"
    if "$NVCC" "${flags[@]}" -gencode "arch=compute_$arch,code=sm_$arch" -c "$src" -o "$obj" > "$log" 2>&1; then
      unexpected=$(grep -i "warning" "$log" | grep -Ev "$allowed" || true)
      if [[ -z $unexpected ]]; then
        echo "ok   sm_$arch $src"
        continue
      fi
    fi
    echo "FAIL sm_$arch $src" >&2
    cat "$log" >&2
    status=1
  done
done
"$NVCC" --version | tail -1
exit $status
