#!/usr/bin/env bash
# Compiles the CUDA build's torch glue, syntax only: csrc/cuda/*.cpp as a GPU machine's
# build compiles them (SIREN_FUSED_WITH_CUDA=1, not emulated), against the installed torch's headers,
# CUDA's and cuBLAS's. The emulated build compiles the same files with the other side of their #ifdefs
# (the cuBLAS GEMMs, the device guard and the stream), which nothing here would compile otherwise; a
# mistake there would only show on a GPU machine, whose time comes in short slots.
#
# Needs the python that has torch (CI's venv) and nvcc's CUDA headers. cuBLAS's headers come from PyPI's
# nvidia-cublas wheel, only its include/ unpacked; without network or nvcc it skips, successfully, saying
# so. torch's CUDA headers also include cuSPARSE's and cuSOLVER's, for declarations the glue never uses:
# .ci/cuda_header_stubs declares their types instead of downloading two more libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/find_nvcc.sh
cuda_include="$CUDA_ROOT/include"
if [[ ! -f "$cuda_include/cuda_runtime.h" ]]; then
  echo "cuda_glue_compile_check: no cuda_runtime.h in nvcc's toolkit ('$CUDA_ROOT')" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ! python -m pip download -q --no-deps -d "$work/wheel" "nvidia-cublas==13.*" > "$work/download.log" 2>&1; then
  echo "cuda_glue_compile_check: could not fetch cuBLAS's headers (nvidia-cublas from PyPI), skipping"
  tail -3 "$work/download.log"
  exit 0
fi
cublas_include=$(python - "$work" <<'EOF'
import glob, os, sys, zipfile
work = sys.argv[1]
with zipfile.ZipFile(glob.glob(os.path.join(work, "wheel", "*.whl"))[0]) as wheel:
    headers = [name for name in wheel.namelist() if "/include/" in name and name.endswith(".h")]
    wheel.extractall(os.path.join(work, "cublas"), headers)
print(os.path.join(work, "cublas", os.path.dirname(headers[0])))
EOF
)

includes=()
for path in $(python -c "from torch.utils.cpp_extension import include_paths; print(' '.join(include_paths()))"); do
  includes+=(-isystem "$path")
done
includes+=(-isystem "$cuda_include" -isystem "$cublas_include" -isystem .ci/cuda_header_stubs
           -isystem "$(python -c "import sysconfig; print(sysconfig.get_paths()['include'])")")
# C10_CUDA_NO_CMAKE_CONFIGURE_FILE: a CPU torch lacks the configured c10/cuda/impl/cuda_cmake_macros.h, whose
# export macros a syntax check does not need.
defines=(-DSIREN_FUSED_WITH_CUDA=1 -DTORCH_EXTENSION_NAME=_C -DTORCH_API_INCLUDE_EXTENSION_H
         -DC10_CUDA_NO_CMAKE_CONFIGURE_FILE)
status=0
for src in csrc/cuda/*.cpp; do  # csrc/ops.cpp differs by a constant only
  if g++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror "${defines[@]}" "${includes[@]}" "$src" \
      > "$work/compile.log" 2>&1; then
    echo "ok   CUDA build $src"
  else
    echo "FAIL CUDA build $src" >&2
    cat "$work/compile.log" >&2
    status=1
  fi
done
exit $status
