"""Plants bugs in the CUDA kernels and shows the emulated CUDA test suite failing on each.

    python tests/cuda_emulation/planted_bugs.py            # every bug
    python tests/cuda_emulation/planted_bugs.py --only removed-gemm-barrier

The bugs are the kind that compile cleanly and that only running the kernels can show: a grid that
drops the tail of a batch, a perturbed product, a wrong stride between the networks of a batch, a
GEMM description that overwrites or skips rows, an off-by-one bound, a sign flip in the sine jet rule
the CPU and CUDA kernels share, a modulated SIREN's modulation applied or differentiated wrongly. (No
float atomic is left to plant a lost update in: the backward has none.) The tracked files are copied to a scratch checkout, the extension is built there once with the
emulated CUDA kernels, and for each bug the file is changed, rebuilt (only the files including it
recompile), tests/test_cuda.py runs until its first failure, and the file is restored. Exits 1 if the suite passes with any bug in place. Takes a
few minutes: one full build, then about a minute a bug.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PlantedBug:
    name: str
    path: str  # relative to the repository
    original: str  # must occur exactly once
    planted: str
    what: str


BUGS = [
    PlantedBug(
        "floor-grid-fused-forward", "csrc/cuda/jet_forward_fused.cu",
        "ceil_div(args.padded_points, Config::kRows)",
        "args.padded_points / Config::kRows",
        "the whole-network kernel's grid drops the batch's last partial block of points"),
    PlantedBug(
        "floor-grid-elementwise", "csrc/cuda/sine_jet_kernels.cu",
        "ceil_div(span.span_points() * width, kThreads)",
        "(span.span_points() * width / kThreads)",
        "the epilogue and VJP kernels' grid skips the span's tail"),
    PlantedBug(
        "perturbed-fused-forward-product", "csrc/cuda/jet_forward_fused.cu",
        "z[c][i][0] = fmaf(hk[kk], w[kk].x, z[c][i][0]);",
        "z[c][i][0] = fmaf(hk[kk], w[kk].x * 1.0001f, z[c][i][0]);",
        "one column in four of the whole-network kernel's matmul is 1e-4 too large"),
    PlantedBug(
        "fused-forward-weight-network-stride", "csrc/cuda/jet_forward_fused.cu",
        "    args.layer[l] = {layer.weights(),",
        "    args.layer[l] = {PerNetwork<const float>{layer.weight, layer.bias_stride()},",
        "the whole-network kernel steps from one network's weights to the next by the bias's stride"),
    PlantedBug(
        "swapped-weight-strides", "csrc/cuda/jet_addressing.cuh",
        "return {weights.data, layer.in_width, weights.stride, transposed};",
        "return {weights.data, weights.stride, layer.in_width, transposed};",
        "the per-layer GEMMs read the weights with their leading dimension and network stride swapped"),
    PlantedBug(
        "weight-grad-overwrites-chunks", "csrc/cuda/jet_backward.cu",
        "grad_weight.stride, true},",
        "grad_weight.stride, false},",
        "each chunk's weight gradient replaces the earlier chunks' instead of adding to it"),
    PlantedBug(
        "bias-grad-skips-last-tile", "csrc/cuda/jet_backward.cu",
        "gemm.multiply({rows.batch, 1, tile_block, rows.tiles, {ones, rows.tiles, 0, false},",
        "gemm.multiply({rows.batch, 1, tile_block, rows.tiles - 1, {ones, rows.tiles, 0, false},",
        "the bias gradient (and a modulation's, summed per network alike) leaves out the span's last tile"),
    PlantedBug(
        "shared-weights-first-network-only", "csrc/cuda/jet_addressing.cuh",
        "tiles(one_matrix ? span.networks * span.tiles : span.tiles),",
        "tiles(span.tiles),",
        "a modulated SIREN's shared weights multiply the first network's rows of a span alone"),
    PlantedBug(
        "modulation-scale-on-value-only", "csrc/cuda/sine_jet_kernels.cu",
        "return {modulated_value(value, m.shift[at], scale), z, e.component, scale};",
        "return {modulated_value(value, m.shift[at], scale), z, e.component, 1.0f};",
        "the modulation's scale multiplies the pre-activation's value but not its derivatives"),
    PlantedBug(
        "scale-grad-skips-value", "csrc/cuda/sine_jet_kernels.cu",
        "  for (int64_t c = 0; c < components; ++c) {\n    scale_grad +=",
        "  for (int64_t c = 1; c < components; ++c) {\n    scale_grad +=",
        "the scale's gradient leaves out the value component's share (and its g_z stays unscaled)"),
    PlantedBug(
        "off-by-one-point-bound", "csrc/cuda/jet_addressing.cuh",
        "SIREN_HD bool valid(int64_t tile, int64_t row) const { return point(tile, row) < num_points; }",
        "SIREN_HD bool valid(int64_t tile, int64_t row) const { return point(tile, row) <= num_points; }",
        "the first padding row counts as a point: written to the packed output, read from x"),
    PlantedBug(
        "off-by-one-epilogue-bound", "csrc/cuda/sine_jet_kernels.cu",
        "  if (index >= span.span_points() * args.width) return;\n  const int64_t network = blockIdx.y;\n"
        "  const TiledElement e(span, index, args.width);\n  const float* z",
        "  if (index > span.span_points() * args.width) return;\n  const int64_t network = blockIdx.y;\n"
        "  const TiledElement e(span, index, args.width);\n  const float* z",
        "one thread past the span writes a saved value past its tensor (the emulation's guard zones name it)"),
    PlantedBug(
        "laplacian-sign-flip", "csrc/sine_jet.h",
        "return d.f1 * z_lap + d.f2 * weighted_tangent_sq_sum;",
        "return d.f1 * z_lap - d.f2 * weighted_tangent_sq_sum;",
        "the Laplacian rule the CPU and CUDA kernels share subtracts the tangents' term (the CPU yardstick "
        "moves with it; only its own check against the float32 reference sees it)"),
]


def run(command: list[str], cwd: Path, env: dict, log: Path) -> int:
    with open(log, "w") as out:
        return subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode


def copy_tracked_files(destination: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, files.decode().split("\0")):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def last_lines(log: Path, count: int = 1) -> str:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return "\n".join(lines[-count:]) if lines else "(no output)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[bug.name for bug in BUGS], action="append",
                        help="plant only this bug (repeatable)")
    args = parser.parse_args()
    bugs = [bug for bug in BUGS if not args.only or bug.name in args.only]

    scratch = Path(tempfile.mkdtemp(prefix="siren_fused_planted_"))
    # The emulated kernels even where CUDA could be built; the scratch copy's package first on the path.
    env = dict(os.environ, SIREN_FUSED_CUDA="0", SIREN_FUSED_CUDA_EMULATION="1", PYTHONPATH=str(scratch))
    build = [sys.executable, "setup.py", "build_ext", "--inplace"]
    tests = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/test_cuda.py"]
    try:
        copy_tracked_files(scratch)
        print(f"building the emulated kernels in {scratch} ...", flush=True)
        if run(build, scratch, env, scratch / "build.log") != 0:
            print(f"the unchanged sources do not build:\n{last_lines(scratch / 'build.log', 30)}")
            return 2
        if run(tests, scratch, env, scratch / "tests.log") != 0:
            print(f"the unchanged sources fail tests/test_cuda.py:\n{last_lines(scratch / 'tests.log', 30)}")
            return 2
        missed = []
        for bug in bugs:
            source = scratch / bug.path
            original = source.read_text()
            assert original.count(bug.original) == 1, f"{bug.name}: its line is gone from {bug.path}; update it"
            source.write_text(original.replace(bug.original, bug.planted))
            try:
                log = scratch / f"{bug.name}.log"
                if run(build, scratch, env, log) != 0:
                    print(f"{bug.name}: does not build:\n{last_lines(log, 30)}")
                    missed.append(bug.name)
                    continue
                caught = run(tests, scratch, env, log) != 0
                print(f"{'caught' if caught else 'MISSED'}  {bug.name} ({bug.what}): {last_lines(log)}", flush=True)
                if not caught:
                    missed.append(bug.name)
            finally:
                source.write_text(original)
        if missed:
            print(f"{len(missed)} of {len(bugs)} planted bugs passed the suite: {', '.join(missed)}")
            return 1
        print(f"all {len(bugs)} planted bugs caught")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
