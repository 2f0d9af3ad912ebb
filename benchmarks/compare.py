"""One table, measured in one run: SIREN derivatives by the fused jet, nested autograd and torch.func.

Every time is also given as a ratio to a plain forward pass (``net(x)`` under no_grad) taken in
the same run, because ratios survive a noisy machine far better than seconds do; the workloads are
timed in interleaved rounds (medians over rounds) so that load drifting over the run hits them alike. The matmul floor
is counted from the network's shape and the machine's GEMM rate measured here.

    python benchmarks/compare.py                       # the paper's 2->256x3->1 at N=16384, float32
    python benchmarks/compare.py --hidden 64 --n 65536 --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
from typing import Callable, Dict, List

import torch

import siren_fused
from siren_fused.timing import interleaved_median_times, median_time


def build(args: argparse.Namespace):
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    net = siren_fused.Siren(args.in_features, args.hidden, args.layers, args.out_features).to(dtype)
    x = torch.rand(args.n, args.in_features, dtype=dtype) * 2 - 1
    target = torch.randn(args.n, args.out_features, dtype=dtype)
    return net, x, target


def torch_func_jet(net: torch.nn.Module, x: torch.Tensor):
    """Value, Jacobian and Hessian (hence Laplacian) the torch.func way: per-point transforms, vmapped."""
    def point(p):
        return net(p.unsqueeze(0)).squeeze(0)
    value = net(x)
    jac = torch.func.vmap(torch.func.jacrev(point))(x)
    hess = torch.func.vmap(torch.func.hessian(point))(x)
    return value, jac, torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1)


def workloads(net, x, target) -> Dict[str, Callable[[], object]]:
    def no_grad(fn):
        def run():
            with torch.no_grad():
                return fn()
        return run

    def train_step(backend):
        def run():
            net.zero_grad(set_to_none=True)
            j = siren_fused.jet(net, x, 2, backend=backend)
            loss = ((j.laplacian - target) ** 2).mean() + (j.value ** 2).mean()
            loss.backward()
        return run

    return {
        "forward (net(x), no_grad)": no_grad(lambda: net(x)),
        "fused jet, order 2 (no_grad)": no_grad(lambda: siren_fused.jet(net, x, 2, backend="fused")),
        "fused jet, order 2 (autograd on)": lambda: siren_fused.jet(net, x, 2, backend="fused"),
        "autograd jet, order 2": lambda: siren_fused.jet(net, x, 2, backend="reference"),
        "torch.func jet (jacrev + hessian)": lambda: torch_func_jet(net, x),
        "fused Laplacian-loss train step": train_step("fused"),
        "autograd Laplacian-loss train step": train_step("reference"),
    }


def _resident_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_memory_child(args: argparse.Namespace, name: str, queue) -> None:
    torch.set_num_threads(args.threads)
    net, x, target = build(args)
    fn = workloads(net, x, target)[name]
    # Reset the high-water mark (ru_maxrss would carry the parent's peak across exec).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _resident_kb("VmRSS")
    fn()
    queue.put(max(0, _resident_kb("VmHWM") - before) * 1024)


def peak_memory(args: argparse.Namespace, name: str) -> int:
    """Bytes the workload adds to the process's peak resident set, measured in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_memory_child, args=(args, name, queue))
    child.start()
    child.join()
    return queue.get() if child.exitcode == 0 else -1


def matmul_rate(dtype: torch.dtype, repeats: int) -> float:
    """FLOP/s of a large square GEMM here: the machine's practical matmul peak."""
    a = torch.randn(2048, 2048, dtype=dtype)
    seconds = median_time(lambda: a @ a, repeats)
    return 2 * 2048 ** 3 / seconds


def jet_matmul_flops(args: argparse.Namespace, components: int) -> int:
    widths = [args.in_features] + [args.hidden] * (args.layers + 1) + [args.out_features]
    return sum(2 * components * args.n * a * b for a, b in zip(widths[:-1], widths[1:]))


def run(args: argparse.Namespace) -> List[dict]:
    torch.set_num_threads(args.threads)
    net, x, target = build(args)
    seconds = interleaved_median_times(workloads(net, x, target), args.repeats)
    rows = [{"workload": name, "seconds": value} for name, value in seconds.items()]
    forward = rows[0]["seconds"]
    for row in rows:
        row["x_forward"] = row["seconds"] / forward
        if args.memory:
            row["peak_mb"] = peak_memory(args, row["workload"]) / 2 ** 20
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-features", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=3, help="hidden-to-hidden layers")
    parser.add_argument("--out-features", type=int, default=1)
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="rounds; each round times every workload once")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip peak-memory runs")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    rows = run(args)
    by_name = {r["workload"]: r for r in rows}
    rate = matmul_rate(getattr(torch, args.dtype), args.repeats)
    floor_forward = jet_matmul_flops(args, 1) / rate
    floor_jet = jet_matmul_flops(args, 1 + args.in_features + 1) / rate
    # Training: the forward jet's GEMMs, then two GEMMs of the same size per layer in backward.
    floor_train = 3 * floor_jet

    title = (f"{args.in_features}->{args.hidden}x{args.layers}->{args.out_features}, N={args.n}, {args.dtype}, "
             f"{args.threads} threads, torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(title)
    header = f"{'workload':40s} {'ms':>10s} {'x forward':>10s}" + (f" {'peak MB':>9s}" if args.memory else "")
    print(header)
    print("-" * len(header))
    for r in rows:
        line = f"{r['workload']:40s} {1e3 * r['seconds']:10.1f} {r['x_forward']:10.2f}"
        print(line + (f" {r['peak_mb']:9.1f}" if args.memory else ""))
    speedups = {
        "fused jet vs autograd jet": by_name["autograd jet, order 2"]["seconds"]
        / by_name["fused jet, order 2 (autograd on)"]["seconds"],
        "fused jet vs torch.func jet": by_name["torch.func jet (jacrev + hessian)"]["seconds"]
        / by_name["fused jet, order 2 (autograd on)"]["seconds"],
        "fused train step vs autograd train step": by_name["autograd Laplacian-loss train step"]["seconds"]
        / by_name["fused Laplacian-loss train step"]["seconds"],
    }
    print()
    for name, value in speedups.items():
        print(f"{name:45s} {value:6.2f}x faster")
    floors = {
        "forward": (by_name["forward (net(x), no_grad)"]["seconds"], floor_forward),
        "fused jet (no_grad)": (by_name["fused jet, order 2 (no_grad)"]["seconds"], floor_jet),
        "fused train step": (by_name["fused Laplacian-loss train step"]["seconds"], floor_train),
    }
    print(f"\nmatmul floor at this machine's GEMM rate ({rate / 1e9:.0f} GFLOP/s, 2048^3):")
    for name, (seconds, floor) in floors.items():
        print(f"  {name:22s} floor {1e3 * floor:8.1f} ms, measured {seconds / floor:5.2f}x the floor")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": vars(args), "title": title, "rows": rows, "speedups": speedups,
                       "gemm_gflops": rate / 1e9,
                       "floors_ms": {k: 1e3 * v[1] for k, v in floors.items()}}, f, indent=2)


if __name__ == "__main__":
    main()
