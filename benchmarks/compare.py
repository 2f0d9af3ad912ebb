"""One table, measured in one run: SIREN derivatives by the fused jet, nested autograd, torch.func, and the
forward-mode Laplacian written in plain tensor ops and compiled with torch.compile (the strongest plain-PyTorch
route we know: one GEMM per layer on the stacked jet, as ours, with inductor fusing the elementwise rule).

Every time is also given as a ratio to a plain forward pass (``net(x)`` under no_grad) taken in
the same run, because ratios survive a noisy machine far better than seconds do; the workloads are
timed in interleaved rounds (medians over rounds) so that load drifting over the run hits them alike. The matmul floor
is counted from the network's shape and the machine's GEMM rate measured here.

A second table times B networks at once (batched_networks.py: a hypernetwork's predicted SIRENs, fused
batched kernels vs functional_call under vmap vs a loop of single-network calls). A third times B
shift-modulated SIRENs sharing their weights (modulated_networks.py: the fused modulated kernels vs the params=
path with full per-network weights, vmap(functional_call) and the plain module batched by hand).

    python benchmarks/compare.py                       # the paper's 2->256x3->1 at N=16384, float32, then
                                                       # 64 networks 2->256x3->3 at 1,024 points each
    python benchmarks/compare.py --hidden 64 --n 65536 --networks 0 --json out.json
    python benchmarks/compare.py --high-order          # orders 3/4 instead (high_order.py): the biharmonic and
                                                       # u_xxxx of 2->256x3->1 and 3->128x3->1 at N=16384
    python benchmarks/compare.py --tables modulated --repeats 3      # 256 modulated networks at 1,024 points
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
from typing import Callable, Dict, List

import torch

import batched_networks
import high_order
import modulated_networks
import taylor_peer
import siren_fused
from siren_fused.timing import interleaved_median_times, median_time


def build(args: argparse.Namespace):
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    net = siren_fused.Siren(args.in_features, args.hidden, args.layers, args.out_features).to(dtype)
    x = torch.rand(args.n, args.in_features, dtype=dtype) * 2 - 1
    target = torch.randn(args.n, args.out_features, dtype=dtype)
    return net, x, target


COMPILED_JET = "compiled forward-Laplacian jet"
COMPILED_STEP = "compiled forward-Laplacian train step"


def torch_func_jet(net: torch.nn.Module, x: torch.Tensor):
    """Value, Jacobian and Hessian (hence Laplacian) the torch.func way: per-point transforms, vmapped."""
    def point(p):
        return net(p.unsqueeze(0)).squeeze(0)
    value = net(x)
    jac = torch.func.vmap(torch.func.jacrev(point))(x)
    hess = torch.func.vmap(torch.func.hessian(point))(x)
    return value, jac, torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1)


def forward_laplacian(net: siren_fused.Siren, x: torch.Tensor):
    """Value [N, out], gradient [N, out, D] and Laplacian [N, out] carried forward layer by layer in plain
    tensor ops: the same jet rule as the fused kernels, left for torch.compile to fuse."""
    n, d = x.shape
    value = x
    tangents = torch.eye(d, dtype=x.dtype, device=x.device).unsqueeze(1).expand(d, n, d)  # d/dx_k of x, one slab per k
    laplacian = torch.zeros_like(x)
    for layer in net.layers:
        weight, bias = layer.linear.weight, layer.linear.bias
        value = torch.addmm(bias, value, weight.t())
        tangents = tangents @ weight.t()
        laplacian = laplacian @ weight.t()
        if not layer.is_linear:
            omega = layer.omega_0
            sine, cosine = torch.sin(omega * value), torch.cos(omega * value)
            laplacian = omega * cosine * laplacian - omega ** 2 * sine * tangents.square().sum(0)
            tangents = omega * cosine * tangents
            value = sine
    return value, tangents.permute(1, 2, 0), laplacian


compiled_forward_laplacian = torch.compile(forward_laplacian, fullgraph=True)


def laplacian_loss(value: torch.Tensor, laplacian: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The train steps' loss, the same for every route."""
    return ((laplacian - target) ** 2).mean() + (value ** 2).mean()


@torch.compile(fullgraph=True)
def compiled_forward_laplacian_loss(net: siren_fused.Siren, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Jet and loss in one compiled graph, so inductor also fuses the loss and AOTAutograd compiles backward."""
    value, _, laplacian = forward_laplacian(net, x)
    return laplacian_loss(value, laplacian, target)


def check_compiled_route(net: siren_fused.Siren, x: torch.Tensor) -> None:
    """The compiled route computes the fused jet (float32 rounding apart): timing it is a fair comparison."""
    with torch.no_grad():
        fused = siren_fused.jet(net, x[:1024], 2, backend="fused")
        compiled = compiled_forward_laplacian(net, x[:1024])
    for name, ours, theirs in zip(("value", "grad", "laplacian"), fused, compiled):
        error = ((ours - theirs).abs().max() / ours.abs().max()).item()
        if error > 1e-3:
            raise RuntimeError(f"compiled forward Laplacian disagrees with the fused jet: {name} off by {error:.2g}")


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
            laplacian_loss(j.value, j.laplacian, target).backward()
        return run

    def compiled_train_step():
        net.zero_grad(set_to_none=True)
        compiled_forward_laplacian_loss(net, x, target).backward()

    return {
        "forward (net(x), no_grad)": no_grad(lambda: net(x)),
        "fused jet, order 2 (no_grad)": no_grad(lambda: siren_fused.jet(net, x, 2, backend="fused")),
        "fused jet, order 2 (autograd on)": lambda: siren_fused.jet(net, x, 2, backend="fused"),
        "autograd jet, order 2": lambda: siren_fused.jet(net, x, 2, backend="reference"),
        "torch.func jet (jacrev + hessian)": lambda: torch_func_jet(net, x),
        COMPILED_JET: lambda: compiled_forward_laplacian(net, x),
        "fused Laplacian-loss train step": train_step("fused"),
        "autograd Laplacian-loss train step": train_step("reference"),
        COMPILED_STEP: compiled_train_step,
    }


def _resident_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


# Each table's workloads, built from the command's arguments (by name, so a spawned process can rebuild them).
SUITES = {
    "single": lambda args: workloads(*build(args)),
    "batched": lambda args: batched_networks.workloads(*batched_networks.build(args)),
    "high_order": high_order.workloads,
    "modulated": lambda args: modulated_networks.workloads(*modulated_networks.build(args)),
}


def _peak_memory_child(args: argparse.Namespace, suite: str, name: str, queue) -> None:
    torch.set_num_threads(args.threads)
    fn = SUITES[suite](args)[name]
    if name in (COMPILED_JET, COMPILED_STEP):
        fn()  # compile first: what compiling takes is not the workload's memory
    # Reset the high-water mark (ru_maxrss would carry the parent's peak across exec).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _resident_kb("VmRSS")
    fn()
    queue.put(max(0, _resident_kb("VmHWM") - before) * 1024)


def peak_memory(args: argparse.Namespace, suite: str, name: str) -> int:
    """Bytes the workload adds to the process's peak resident set, measured in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_memory_child, args=(args, suite, name, queue))
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


def run(args: argparse.Namespace, suite: str) -> List[dict]:
    """One row a workload of the suite: median seconds over interleaved rounds, the ratio to the suite's
    first workload (its plain forward pass) and, with --memory, the peak memory it adds."""
    torch.set_num_threads(args.threads)
    if suite == "single":
        check_compiled_route(*build(args)[:2])
    # The warm-up round compiles the two compiled routes.
    seconds = interleaved_median_times(SUITES[suite](args), args.repeats)
    rows = [{"workload": name, "seconds": value} for name, value in seconds.items()]
    forward = rows[0]["seconds"]
    for row in rows:
        row["x_forward"] = row["seconds"] / forward
        if args.memory:
            row["peak_mb"] = peak_memory(args, suite, row["workload"]) / 2 ** 20
    return rows


def print_rows(title: str, rows: List[dict], memory: bool) -> None:
    print(title)
    header = f"{'workload':40s} {'ms':>10s} {'x forward':>10s}" + (f" {'peak MB':>9s}" if memory else "")
    print(header)
    print("-" * len(header))
    for r in rows:
        line = f"{r['workload']:40s} {1e3 * r['seconds']:10.1f} {r['x_forward']:10.2f}"
        print(line + (f" {r['peak_mb']:9.1f}" if memory else ""))


def print_speedups(speedups: Dict[str, float]) -> None:
    print("\nfused speed-ups (the other route's time / the fused time; below 1: the other route is faster):")
    for name, value in speedups.items():
        print(f"  {name:52s} {value:6.2f}x")


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
    parser.add_argument("--networks", type=int, default=64,
                        help="networks B of the batched table (0: no batched table)")
    parser.add_argument("--batched-n", type=int, default=1024, help="points each network of the batched table")
    parser.add_argument("--batched-out-features", type=int, default=3, help="outputs of the batched networks")
    parser.add_argument("--modulated-networks", type=int, default=256, help="networks B of the modulated table")
    parser.add_argument("--tables", nargs="+", choices=["single", "batched", "modulated"],
                        default=["single", "batched", "modulated"], help="which tables to run")
    parser.add_argument("--operators", nargs="+", choices=["biharmonic", "u_xxxx"], default=["biharmonic", "u_xxxx"],
                        help="the --high-order tables' operators")
    parser.add_argument("--autograd-chunk", type=int, default=2048,
                        help="points a chunk of the --high-order tables' nested-autograd route (high_order.py)")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip peak-memory runs")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--high-order", action="store_true",
                        help="time orders 3 and 4 instead (the biharmonic and u_xxxx of a 2->256x3->1 and a "
                             "3->128x3->1 SIREN at --n points) against nested autograd and collapsed Taylor mode")
    args = parser.parse_args()
    if args.high_order:
        results = run_high_order_tables(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
        return
    rate = matmul_rate(getattr(torch, args.dtype), args.repeats)
    results = {"config": vars(args), "gemm_gflops": rate / 1e9}
    if "single" in args.tables:
        results.update(run_single_table(args, rate))
    if args.networks > 0 and "batched" in args.tables:
        results["batched"] = run_batched_table(args, rate)
    if "modulated" in args.tables:
        results["modulated"] = run_modulated_table(args, rate)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def run_single_table(args: argparse.Namespace, rate: float) -> dict:
    """The one-network table, its speed-ups and its matmul floors."""
    rows = run(args, "single")
    by_name = {r["workload"]: r for r in rows}
    floor_forward = jet_matmul_flops(args, 1) / rate
    floor_jet = jet_matmul_flops(args, 1 + args.in_features + 1) / rate
    # Training: the forward jet's GEMMs, then two GEMMs of the same size per layer in backward.
    floor_train = 3 * floor_jet

    title = (f"{args.in_features}->{args.hidden}x{args.layers}->{args.out_features}, N={args.n}, {args.dtype}, "
             f"{args.threads} threads, torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print_rows(title, rows, args.memory)
    speedups = {
        "fused jet vs autograd jet": by_name["autograd jet, order 2"]["seconds"]
        / by_name["fused jet, order 2 (autograd on)"]["seconds"],
        "fused jet vs torch.func jet": by_name["torch.func jet (jacrev + hessian)"]["seconds"]
        / by_name["fused jet, order 2 (autograd on)"]["seconds"],
        "fused jet vs compiled forward-Laplacian jet": by_name[COMPILED_JET]["seconds"]
        / by_name["fused jet, order 2 (autograd on)"]["seconds"],
        "fused train step vs autograd train step": by_name["autograd Laplacian-loss train step"]["seconds"]
        / by_name["fused Laplacian-loss train step"]["seconds"],
        "fused train step vs compiled forward-Laplacian step": by_name[COMPILED_STEP]["seconds"]
        / by_name["fused Laplacian-loss train step"]["seconds"],
    }
    print_speedups(speedups)
    floors = {
        "forward": (by_name["forward (net(x), no_grad)"]["seconds"], floor_forward),
        "fused jet (no_grad)": (by_name["fused jet, order 2 (no_grad)"]["seconds"], floor_jet),
        "fused train step": (by_name["fused Laplacian-loss train step"]["seconds"], floor_train),
    }
    print(f"\nmatmul floor at this machine's GEMM rate ({rate / 1e9:.0f} GFLOP/s, 2048^3):")
    for name, (seconds, floor) in floors.items():
        print(f"  {name:22s} floor {1e3 * floor:8.1f} ms, measured {seconds / floor:5.2f}x the floor")
    return {"title": title, "rows": rows, "speedups": speedups, "floors_ms": {k: 1e3 * v[1] for k, v in floors.items()}}


def stacked_shape(args: argparse.Namespace, networks: int) -> argparse.Namespace:
    """The shape jet_matmul_flops counts for B networks of --batched-n points each: their GEMMs have every
    network's rows, as one network's at B x N points would."""
    return argparse.Namespace(in_features=args.in_features, hidden=args.hidden, layers=args.layers,
                              out_features=args.batched_out_features, n=networks * args.batched_n)


def run_batched_table(args: argparse.Namespace, rate: float) -> dict:
    """The batched-networks table, its speed-ups against the issue's targets, and its matmul floors."""
    rows = run(args, "batched")
    seconds = {r["workload"]: r["seconds"] for r in rows}
    print(f"\n{args.networks} networks {args.in_features}->{args.hidden}x{args.layers}->{args.batched_out_features}, "
          f"{args.batched_n} points each (shared), {args.dtype}, {args.threads} threads; the parameters require grad")
    print_rows("", rows, args.memory)
    speedups = batched_networks.speedups(seconds)
    print_speedups(speedups)
    shape = stacked_shape(args, args.networks)
    # Order 0 forward and backward: the forward's GEMMs, then two of the same size a layer.
    floors = {batched_networks.ORDER0["fused"]: 3 * jet_matmul_flops(shape, 1) / rate,
              batched_networks.ORDER2["fused"]: jet_matmul_flops(shape, 1 + args.in_features + 1) / rate}
    print(f"\nmatmul floor at {rate / 1e9:.0f} GFLOP/s:")
    for name, floor in floors.items():
        print(f"  {name:40s} floor {1e3 * floor:8.1f} ms, measured {seconds[name] / floor:5.2f}x the floor")
    return {"rows": rows, "speedups": speedups, "floors_ms": {k: 1e3 * v for k, v in floors.items()}}


def run_high_order_tables(args: argparse.Namespace) -> dict:
    """One table a (network, operator): the fused directional jet against nested autograd and collapsed Taylor
    mode, each route's operator alone and its training step, timed in the same interleaved rounds."""
    if taylor_peer.load() is None:
        print(taylor_peer.missing_message())
    tables = []
    for in_features, hidden in ((2, 256), (3, 128)):
        for operator in args.operators:
            shape = argparse.Namespace(**{**vars(args), "in_features": in_features, "hidden": hidden, "layers": 3,
                                          "out_features": 1, "operator": operator})
            torch.set_num_threads(args.threads)
            high_order.check_routes(operator, *high_order.build(shape)[:2], taylor_peer.load())
            rows = run(shape, "high_order")
            print_rows(f"\n{operator} of {in_features}->{hidden}x3->1, N={args.n}, {args.dtype}, {args.threads} "
                       f"threads, torch {torch.__version__}", rows, args.memory)
            speedups = high_order.speedups({r["workload"]: r["seconds"] for r in rows}, operator)
            print_speedups(speedups)
            tables.append({"network": f"{in_features}->{hidden}x3->1", "operator": operator, "rows": rows,
                           "speedups": speedups})
    return {"config": vars(args), "tables": tables}


def run_modulated_table(args: argparse.Namespace, rate: float) -> dict:
    """The modulated-networks table, its speed-ups against the issue's targets, what each route holds per
    network, and the fused order 0 step's matmul floor."""
    rows = run(args, "modulated")
    seconds = {r["workload"]: r["seconds"] for r in rows}
    print(f"\n{args.modulated_networks} shift-modulated networks {args.in_features}->{args.hidden}x{args.layers}->"
          f"{args.batched_out_features}, {args.batched_n} points each (shared), {args.dtype}, {args.threads} threads")
    print_rows("", rows, args.memory)
    speedups = modulated_networks.speedups(seconds)
    print_speedups(speedups)
    megabytes = modulated_networks.parameter_megabytes(*modulated_networks.build(args)[1:3])
    for name, value in megabytes.items():
        print(f"  {name:52s} {value:8.2f} MB")
    shape = stacked_shape(args, args.modulated_networks)
    floor = 3 * jet_matmul_flops(shape, 1) / rate
    name = modulated_networks.ORDER0["fused"]
    print(f"  {name}: matmul floor {1e3 * floor:.1f} ms, measured {seconds[name] / floor:5.2f}x the floor")
    return {"rows": rows, "speedups": speedups, "parameter_mb": megabytes, "floor_ms": {name: 1e3 * floor}}


if __name__ == "__main__":
    main()
