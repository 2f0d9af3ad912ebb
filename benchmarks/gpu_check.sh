#!/usr/bin/env bash
# One command for a fresh GPU machine without network (torch with CUDA and nvcc installed):
# builds the CUDA extension in place, runs the CUDA tests, runs the GPU benchmark, and leaves
# logs and gpu_bench.json under OUTDIR (the benchmark includes the batched-networks case: B = 64
# networks 2->256x3->3 at 1,024 points, batched kernels against a loop of single-network calls, whose
# speed only a GPU can measure). Each step has a time limit so the whole stays under ten minutes. Exits non-zero when the build or the tests fail (the benchmark still runs after
# failed tests, for the record).
set -uo pipefail
if (( $# != 1 )); then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"
cd "$(dirname "$0")/.."

{
  date -u
  nvidia-smi || true
  nvcc --version || true
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpu', torch.cuda.is_available())"
} > "$out/environment.log" 2>&1

echo "building (log: $out/build.log)"
export SIREN_FUSED_CUDA=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
if ! timeout 300 pip install --no-build-isolation --no-deps -e . > "$out/build.log" 2>&1; then
  echo "pip install failed; trying setup.py build_ext --inplace" | tee -a "$out/build.log"
  if ! timeout 300 python setup.py build_ext --inplace >> "$out/build.log" 2>&1; then
    echo "build failed, see $out/build.log" >&2
    tail -30 "$out/build.log" >&2
    exit 1
  fi
fi

echo "CUDA tests (log: $out/test_cuda.log)"
timeout 150 python -m pytest -q -rs tests/test_cuda.py > "$out/test_cuda.log" 2>&1
tests_status=$?
tail -5 "$out/test_cuda.log"

echo "benchmark (log: $out/gpu_bench.log)"
timeout 200 python benchmarks/gpu_bench.py --out "$out/gpu_bench.json" > "$out/gpu_bench.log" 2>&1
bench_status=$?
cat "$out/gpu_bench.log"

echo "tests exit $tests_status, benchmark exit $bench_status; results in $out"
(( tests_status == 0 && bench_status == 0 ))
