#!/usr/bin/env bash
# The CUDA build as a GPU machine makes it, on a machine without a GPU: a throwaway venv with a CUDA build of
# torch (TORCH, default 2.14.1+cu130, whose wheels this VM kind keeps on disk), the extension built from the
# tracked files with SIREN_FUSED_CUDA=1 for sm_90, imported with every symbol bound (LD_BIND_NOW: cuBLAS's
# too, which resolve through libtorch_cuda), and the CPU and API tests run against that build (the GPU tests
# skip, saying so). What it cannot show: that the kernels run on a GPU. Not part of .ci/run: the venv is
# 5.5 GB and the whole check takes about 5 minutes on 2 cores.
#
#   bash .ci/cuda_torch_build_check.sh [WORKDIR]    # WORKDIR kept for reruns (default: a temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/find_nvcc.sh
torch_version="${TORCH:-2.14.1}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"

if [[ ! -x "$work/venv/bin/python" ]]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q "torch==$torch_version" ninja pybind11 numpy setuptools wheel pytest \
    pytest-benchmark
fi
python="$work/venv/bin/python"
"$python" -c "import torch; assert torch.version.cuda, f'torch {torch.__version__} is not a CUDA build'"

rm -rf "$work/src"
mkdir -p "$work/src"
git ls-files -z | xargs -0 cp --parents -t "$work/src"
cd "$work/src"
echo "building with torch $("$python" -c 'import torch; print(torch.__version__)') and $CUDA_ROOT (log: $work/build.log)"
if ! CUDA_HOME="$CUDA_ROOT" SIREN_FUSED_CUDA=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS="$(nproc)" \
    "$python" setup.py build_ext --inplace > "$work/build.log" 2>&1; then
  tail -30 "$work/build.log" >&2
  exit 1
fi
LD_BIND_NOW=1 "$python" -c "import siren_fused; from siren_fused import _extension
assert _extension.cuda_built(), 'the extension was built without its CUDA kernels'
print('imported the CUDA build with every symbol bound')"
"$python" -m pytest -q -p no:cacheprovider tests/test_frozen_parameters.py tests/test_jet_vs_reference.py \
  tests/test_torch_integration.py tests/test_modulated_ops.py tests/test_reverse_gradient.py tests/test_cuda.py \
  tests/test_bad_input.py tests/test_bad_arguments.py tests/test_batched_networks.py tests/test_operator_jet.py
