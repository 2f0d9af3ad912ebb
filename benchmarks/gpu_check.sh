#!/usr/bin/env bash
# One unattended run on a fresh GPU machine without network (torch with CUDA and nvcc installed), at most
# 8 minutes on an H200, build included: builds the CUDA extension in place, runs the CUDA tests (their
# repeated-run test checks that gradients are the same bits run after run), then measures the GPU table in
# one process (benchmarks/gpu_table.py: train steps and jets against eager and compiled autograd and the
# compiled forward-Laplacian route, peak memory, the whole-network kernel against the library GEMMs) and
# leaves logs and gpu_table.json under OUTDIR. Each step has a time limit; the table measures its rows in
# order of importance within its own budget and says which it skipped. Exits non-zero when the build or
# the tests fail (the table still runs after failed tests, for the record).
#
#   bash benchmarks/gpu_check.sh OUTDIR              # on the GPU machine
#   bash benchmarks/gpu_check.sh --dry-run OUTDIR    # the plan: steps, limits and the table's rows
#   bash benchmarks/gpu_check.sh --cpu-check OUTDIR  # the table's script end to end on this machine's CPU,
#                                                    # small N, with the extension already built here and
#                                                    # torch.compile off (inductor takes many minutes on a
#                                                    # small CPU): the fullgraph route then reports that it
#                                                    # found nothing compiled, the others run eagerly
#
# benchmarks/gpu_bench.py (the batched-networks case against a loop of calls, and torch.func) stays a
# separate, longer run.
set -uo pipefail
mode=gpu
if [[ ${1:-} == --dry-run || ${1:-} == --cpu-check ]]; then
  mode=${1#--}
  shift
fi
if (( $# != 1 )); then
  echo "usage: $0 [--dry-run | --cpu-check] OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"
cd "$(dirname "$0")/.."
# The package built in place, ahead of any installed copy, for the table (run from benchmarks/) too.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# Seconds each step may take: 200 + 60 + 210 = 470 s, under 8 minutes with the environment's log.
build_limit=200
tests_limit=60
table_limit=210
table_budget=170  # rows the table would start later are skipped, so it ends within its limit

if [[ $mode == dry-run ]]; then
  echo "1. build the CUDA extension in place (limit ${build_limit} s), log $out/build.log"
  echo "2. tests/test_cuda.py on the GPU (limit ${tests_limit} s), log $out/test_cuda.log"
  echo "3. the table (limit ${table_limit} s, budget ${table_budget} s), $out/gpu_table.json; its rows:"
  (cd benchmarks && python gpu_table.py --dry-run) | sed 's/^/     /'
  exit 0
fi
if [[ $mode == cpu-check ]]; then
  echo "the table's script on the CPU, N = 2^(p - 8), one round a row (log: $out/gpu_table.log)"
  (cd benchmarks && TORCH_COMPILE_DISABLE=1 timeout 900 python gpu_table.py --device cpu --points-shift -8 \
    --rounds 1 --budget-s 600 --json "$out/gpu_table.json") > "$out/gpu_table.log" 2>&1
  status=$?
  cat "$out/gpu_table.log"
  exit $status
fi

{
  date -u
  nvidia-smi || true
  nvcc --version || true
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpu', torch.cuda.is_available())"
} > "$out/environment.log" 2>&1

echo "building (log: $out/build.log)"
export SIREN_FUSED_CUDA=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
# The toolkit nvcc belongs to, as nvcc itself reports it: torch's guess from nvcc's place on PATH is wrong where
# nvcc is a wrapper script (/usr/local/bin/nvcc on the CI VM's image), and then no CUDA header is found.
export CUDA_HOME="${CUDA_HOME:-$(readlink -f "$(nvcc --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -1)")}"
if ! timeout "$build_limit" python setup.py build_ext --inplace > "$out/build.log" 2>&1; then
  echo "build failed, see $out/build.log" >&2
  tail -30 "$out/build.log" >&2
  exit 1
fi

echo "CUDA tests (log: $out/test_cuda.log)"
timeout "$tests_limit" python -m pytest -q -rs tests/test_cuda.py > "$out/test_cuda.log" 2>&1
tests_status=$?
tail -5 "$out/test_cuda.log"

echo "table (log: $out/gpu_table.log)"
(cd benchmarks && timeout "$table_limit" python gpu_table.py --budget-s "$table_budget" \
  --json "$out/gpu_table.json") > "$out/gpu_table.log" 2>&1
table_status=$?
cat "$out/gpu_table.log"

echo "tests exit $tests_status, table exit $table_status; results in $out"
(( tests_status == 0 && table_status == 0 ))
