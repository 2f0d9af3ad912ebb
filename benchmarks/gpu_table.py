"""The GPU table of benchmarks/gpu_check.sh, measured in one process: float32 training steps and jets of the
fused kernels against eager autograd, torch.compile'd autograd and the compiled forward-Laplacian route of
compare.py, in interleaved rounds (medians), with each route's peak memory; then the whole-network forward
kernel against the library-GEMM path at widths 32, 64 and 128, which the forward's dispatch is to follow.

Rows, most important first (a time budget may cut the last ones, which the output then says):
  Laplacian-loss train step, 2->256x3->1, N = 2^16 and 2^18
  Eikonal (SDF) train step, value + gradient, 3->256x3->1, N = 2^18
  order-2 jet (value, gradient, Laplacian; no grad), 2->Wx3->1, W = 64, 128, 256, 512, N = 2^18
  whole-network kernel vs library GEMMs: order-2 jet and Laplacian step, W = 32, 64, 128, N = 2^18
Targets (issue 20, on an H200): every train step at least 3x eager autograd and 1.5x the best compiled
route, at no more than half of autograd's peak memory. It also checks that two fused train steps give the
same gradients bit for bit.

    python benchmarks/gpu_table.py --json table.json          # on a GPU
    python benchmarks/gpu_table.py --dry-run                  # the plan, nothing run
    python benchmarks/gpu_table.py --device cpu --points-shift -8 --rounds 2   # the script's check on a CPU
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch

import compare
import siren_fused
from siren_fused.timing import interleaved_median_times

EAGER = "eager autograd"
COMPILED_AUTOGRAD = "torch.compile(autograd)"
COMPILED_FORWARD_LAPLACIAN = "compiled forward Laplacian (compare.py)"
FUSED = "siren_fused"


@dataclass
class Row:
    section: str
    label: str
    routes: Callable[[], Dict[str, Callable[[], object]]]  # built when the row runs: nets and points on the device
    train_step: bool = False


def siren(shape: tuple, device: str) -> siren_fused.Siren:
    torch.manual_seed(0)
    return siren_fused.Siren(*shape).to(device)


def points(n: int, in_features: int, device: str) -> torch.Tensor:
    return torch.rand(n, in_features, device=device) * 2 - 1


def laplacian_step_routes(shape: tuple, n: int, device: str) -> Dict[str, Callable[[], object]]:
    net = siren(shape, device)
    x = points(n, shape[0], device)
    target = torch.randn(n, shape[-1], device=device)

    def step(backend: str) -> Callable[[], object]:
        def loss():
            j = siren_fused.jet(net, x, 2, backend=backend)
            return compare.laplacian_loss(j.value, j.laplacian, target)
        return loss

    compiled_autograd = torch.compile(step("reference"))
    return {FUSED: train(net, step("fused")), EAGER: train(net, step("reference")),
            COMPILED_AUTOGRAD: train(net, compiled_autograd),
            COMPILED_FORWARD_LAPLACIAN: train(net, lambda: compare.compiled_forward_laplacian_loss(net, x, target))}


def eikonal_step_routes(shape: tuple, n: int, device: str) -> Dict[str, Callable[[], object]]:
    """An SDF fit's step: value near 0 on the points, |gradient| = 1 (the Eikonal term)."""
    net = siren(shape, device)
    x = points(n, shape[0], device)

    def step(backend: str) -> Callable[[], object]:
        def loss():
            j = siren_fused.jet(net, x, 1, backend=backend)
            return j.value.abs().mean() + ((j.grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        return loss

    compiled_autograd = torch.compile(step("reference"))
    return {FUSED: train(net, step("fused")), EAGER: train(net, step("reference")),
            COMPILED_AUTOGRAD: train(net, compiled_autograd)}


def jet_routes(shape: tuple, n: int, device: str) -> Dict[str, Callable[[], object]]:
    net = siren(shape, device)
    x = points(n, shape[0], device)
    return {FUSED: no_grad(lambda: siren_fused.jet(net, x, 2, backend="fused")),
            EAGER: no_grad(lambda: siren_fused.jet(net, x, 2, backend="reference")),
            COMPILED_FORWARD_LAPLACIAN: no_grad(lambda: compare.compiled_forward_laplacian(net, x))}


def whole_network_routes(shape: tuple, n: int, device: str) -> Dict[str, Callable[[], object]]:
    """The fused jet and Laplacian step with the whole-network forward kernel, and with the per-layer
    library-GEMM path forced (SIREN_FUSED_CUDA_WHOLE_NETWORK=0, read at every call)."""
    net = siren(shape, device)
    x = points(n, shape[0], device)
    target = torch.randn(n, shape[-1], device=device)

    def forced(switch: str, fn: Callable[[], object]) -> Callable[[], object]:
        def run():
            previous = os.environ.get("SIREN_FUSED_CUDA_WHOLE_NETWORK")
            os.environ["SIREN_FUSED_CUDA_WHOLE_NETWORK"] = switch
            try:
                return fn()
            finally:
                if previous is None:
                    del os.environ["SIREN_FUSED_CUDA_WHOLE_NETWORK"]
                else:
                    os.environ["SIREN_FUSED_CUDA_WHOLE_NETWORK"] = previous
        return run

    def loss():
        j = siren_fused.jet(net, x, 2, backend="fused")
        return compare.laplacian_loss(j.value, j.laplacian, target)

    jet = no_grad(lambda: siren_fused.jet(net, x, 2, backend="fused"))
    return {"jet, whole-network kernel": forced("1", jet), "jet, library GEMMs": forced("0", jet),
            "step, whole-network kernel": forced("1", train(net, loss)),
            "step, library GEMMs": forced("0", train(net, loss))}


def train(net: torch.nn.Module, loss: Callable[[], torch.Tensor]) -> Callable[[], object]:
    def step():
        net.zero_grad(set_to_none=True)
        loss().backward()
    return step


def no_grad(fn: Callable[[], object]) -> Callable[[], object]:
    def run():
        with torch.no_grad():
            return fn()
    return run


def rows(shift: int, device: str) -> List[Row]:
    def n(power: int) -> int:
        return 2 ** (power + shift)

    table = [Row("Laplacian-loss train step", f"2->256x3->1, N=2^{p + shift}",
                 lambda p=p: laplacian_step_routes((2, 256, 3, 1), n(p), device), True) for p in (16, 18)]
    table.append(Row("Eikonal (SDF) train step, value + gradient", f"3->256x3->1, N=2^{18 + shift}",
                     lambda: eikonal_step_routes((3, 256, 3, 1), n(18), device), True))
    table += [Row("order-2 jet, no grad", f"2->{w}x3->1, N=2^{18 + shift}",
                  lambda w=w: jet_routes((2, w, 3, 1), n(18), device)) for w in (64, 128, 256, 512)]
    table += [Row("whole-network kernel vs library GEMMs", f"2->{w}x3->1, N=2^{18 + shift}",
                  lambda w=w: whole_network_routes((2, w, 3, 1), n(18), device)) for w in (32, 64, 128)]
    return table


def synchronised(fn: Callable[[], object], device: str) -> Callable[[], object]:
    def run():
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
    return run


def peak_bytes(fn: Callable[[], object], device: str) -> Optional[int]:
    """Memory one call adds to what is allocated before it (CUDA only)."""
    if device != "cuda":
        return None
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def measure(row: Row, rounds: int, device: str) -> Dict[str, dict]:
    """Median seconds over interleaved rounds (the warm-up round compiles) and peak memory of every route;
    a route that fails (out of memory, a compile error) is reported, the others still run."""
    routes = {name: synchronised(fn, device) for name, fn in row.routes().items()}
    results: Dict[str, dict] = {}
    for name, fn in list(routes.items()):
        try:
            fn()  # compiles, where there is something to compile
        except Exception as error:  # noqa: BLE001 - the table reports any route's failure and goes on
            results[name] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"}
            del routes[name]
    for name, seconds in interleaved_median_times(routes, rounds, warmup=1).items():
        results[name] = {"seconds": seconds, "peak_bytes": peak_bytes(routes[name], device)}
    return results


def targets(results: Dict[str, dict]) -> Dict[str, object]:
    """A train step's speed-ups and memory ratio against the issue's targets."""
    ours = results.get(FUSED, {})
    if "seconds" not in ours:
        return {"met": False, "why": "the fused step did not run"}
    out: Dict[str, object] = {}
    eager = results.get(EAGER, {})
    if "seconds" in eager:
        out["x_eager"] = eager["seconds"] / ours["seconds"]
        if eager.get("peak_bytes") and ours.get("peak_bytes") is not None:
            out["memory_over_eager"] = ours["peak_bytes"] / eager["peak_bytes"]
    compiled = [r["seconds"] for name, r in results.items() if name.startswith(("torch.compile", "compiled"))
                and "seconds" in r]
    if compiled:
        out["x_best_compiled"] = min(compiled) / ours["seconds"]
    out["met"] = (out.get("x_eager", 0) >= 3 and out.get("x_best_compiled", 0) >= 1.5
                  and out.get("memory_over_eager", 1) <= 0.5)
    return out


def gradients_repeat_bit_for_bit(device: str, n: int) -> bool:
    """Two fused Laplacian train steps from the same parameters give the same gradients, bit for bit."""
    grads = []
    for _ in range(2):
        net = siren((2, 256, 3, 1), device)
        x = points(n, 2, device)
        j = siren_fused.jet(net, x, 2, backend="fused")
        compare.laplacian_loss(j.value, j.laplacian, torch.zeros_like(j.value)).backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    return all(torch.equal(a, b) for a, b in zip(*grads))


def print_row(row: Row, results: Dict[str, dict]) -> None:
    print(f"\n{row.section}: {row.label}")
    for name, entry in results.items():
        if "error" in entry:
            print(f"  {name:42s} {entry['error']}")
            continue
        memory = "" if entry["peak_bytes"] is None else f"  peak {entry['peak_bytes'] / 2**20:9.1f} MB"
        print(f"  {name:42s} {entry['seconds'] * 1e3:10.3f} ms{memory}")
    if row.train_step:
        t = targets(results)
        print("  " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in t.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--points-shift", type=int, default=0, help="N = 2^(p + shift) for the table's 2^p")
    parser.add_argument("--rounds", type=int, default=5, help="timed interleaved rounds a row")
    parser.add_argument("--budget-s", type=float, default=240, help="rows that would start later are skipped")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    table = rows(args.points_shift, args.device)
    if args.dry_run:
        for row in table:
            print(f"{row.section}: {row.label}")
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_table: no CUDA device (--device cpu checks the script on a CPU)")
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 for every route, as the fused kernels compute
    start = time.perf_counter()
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    report: dict = {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda, "rows": [],
                    "skipped": []}
    print(f"{name}, torch {torch.__version__}, float32, {args.rounds} interleaved rounds a row (medians)")
    report["gradients_repeat_bit_for_bit"] = gradients_repeat_bit_for_bit(args.device, 2 ** (16 + args.points_shift))
    print(f"fused Laplacian-step gradients identical across two runs: {report['gradients_repeat_bit_for_bit']}")
    for row in table:
        if time.perf_counter() - start > args.budget_s:
            report["skipped"].append(f"{row.section}: {row.label}")
            continue
        results = measure(row, args.rounds, args.device)
        print_row(row, results)
        entry = {"section": row.section, "label": row.label, "routes": results}
        if row.train_step:
            entry["targets"] = targets(results)
        report["rows"].append(entry)
        if args.json:  # after every row: a run cut short still leaves what it measured
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
    for skipped in report["skipped"]:
        print(f"skipped (time budget of {args.budget_s:.0f} s spent): {skipped}")
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
