#!/usr/bin/env bash
# Compiles every csrc/cuda/*.cu with plain nvcc for sm_80 and sm_90, warnings as errors; needs no
# GPU and no torch (the .cu files include no torch header). Skips, successfully, without nvcc.
set -euo pipefail
cd "$(dirname "$0")/.."

NVCC="${NVCC:-$(command -v nvcc || true)}"
if [[ -z "$NVCC" && -x /usr/local/cuda/bin/nvcc ]]; then NVCC=/usr/local/cuda/bin/nvcc; fi
if [[ -z "$NVCC" ]]; then
  echo "cuda_compile_check: nvcc not found, skipping the CUDA compile check"
  exit 0
fi

shopt -s nullglob
sources=(csrc/cuda/*.cu)
if (( ${#sources[@]} == 0 )); then
  echo "cuda_compile_check: no csrc/cuda/*.cu to compile" >&2
  exit 1
fi

out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT
# --Werror all-warnings: nvcc's own warnings (and ptxas', e.g. stack or spill diagnostics that
# are errors of intent); -Xcompiler: the host compiler's -Wall -Wextra on the host side.
flags=(-std=c++17 -O3 --Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror)
status=0
for arch in 80 90; do
  for src in "${sources[@]}"; do
    obj="$out_dir/$(basename "$src" .cu).sm_$arch.o"
    if "$NVCC" "${flags[@]}" -gencode "arch=compute_$arch,code=sm_$arch" -c "$src" -o "$obj"; then
      echo "ok   sm_$arch $src"
    else
      echo "FAIL sm_$arch $src" >&2
      status=1
    fi
  done
done
"$NVCC" --version | tail -1
exit $status
