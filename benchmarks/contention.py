"""Speed beside other busy processes: every route's time quiet and under competition, in one run.

A training script rarely has the machine to itself: its own DataLoader workers, a second job or a shared CI
runner compete for the cores. This benchmark times the routes of four workloads

- the order-2 jet of the paper's image net 2->256x3->1 (value, gradient, Laplacian; autograd on),
- the Laplacian-loss train step of that net,
- the Eikonal (SDF) train step of 3->256x3->1 (value and gradient, order 1),
- the hypernetwork step: 64 networks 2->256x3->3 at 1,024 shared points, value loss, forward and backward,

under each condition: quiet, beside one and two busy single-threaded processes, and beside another
2-thread PyTorch loop (matmul + sin). The competitors are processes this script starts and stops (each
also stops by itself after --competitor-seconds). Each OpenMP wait policy runs in a process of its own,
since OpenMP reads OMP_WAIT_POLICY once, at start: the default (what a user gets) and passive.

Within a condition the routes run in interleaved rounds (siren_fused.timing), so drift hits them alike.
Routes: the fused kernels, nested autograd (the reference backend), torch.func, the compiled
forward-Laplacian route of compare.py (jet and Laplacian step) and collapsed Taylor mode (jet-for-pytorch,
jet and Laplacian step, where installed: taylor_peer.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List

import torch

import batched_networks
import compare
import taylor_peer
import siren_fused
from siren_fused.timing import interleaved_median_times

BUSY_LOOP = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
TORCH_LOOP = ("import time, torch\ntorch.set_num_threads(2)\na = torch.randn(512, 512)\n"
              "end = time.time() + {seconds}\nwhile time.time() < end:\n    torch.sin(a @ a)\n")
# Condition name -> the competing processes' programs.
CONDITIONS = {
    "quiet": [],
    "1 busy process": [BUSY_LOOP],
    "2 busy processes": [BUSY_LOOP, BUSY_LOOP],
    "2-thread torch loop": [TORCH_LOOP],
}
POLICIES = ("default", "passive")
FUSED = "fused"


def environment_without_wait_policy() -> Dict[str, str]:
    """This process's environment less OMP_WAIT_POLICY: what the competitors and a default-policy child get."""
    return {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}


@contextmanager
def competitors(programs: List[str], seconds: float) -> Iterator[None]:
    """Runs the programs as processes for the duration of the block (each stops by itself after `seconds`)."""
    env = environment_without_wait_policy()
    processes = [subprocess.Popen([sys.executable, "-c", p.format(seconds=seconds)], env=env) for p in programs]
    try:
        time.sleep(0.5 if processes else 0)  # let them start spinning
        yield
    finally:
        for process in processes:
            process.kill()
            process.wait()


def image_routes(args: argparse.Namespace, peer) -> Dict[str, Dict[str, Callable[[], object]]]:
    """The order-2 jet and the Laplacian-loss step of 2->256x3->1 at N points, by every route."""
    net, x, target = compare.build(argparse.Namespace(in_features=2, hidden=256, layers=3, out_features=1, n=args.n,
                                                      dtype="float32"))
    compare.check_compiled_route(net, x)
    taylor = taylor_peer.forward_laplacian(peer, net, 2) if peer else None

    def step(loss: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def run():
            net.zero_grad(set_to_none=True)
            loss().backward()
        return run

    def jet_loss(backend: str) -> torch.Tensor:
        j = siren_fused.jet(net, x, 2, backend=backend)
        return compare.laplacian_loss(j.value, j.laplacian, target)

    def torch_func_loss() -> torch.Tensor:
        value, _, laplacian = compare.torch_func_jet(net, x)
        return compare.laplacian_loss(value, laplacian, target)

    jet = {FUSED: lambda: siren_fused.jet(net, x, 2, backend="fused"),
           "nested autograd": lambda: siren_fused.jet(net, x, 2, backend="reference"),
           "torch.func": lambda: compare.torch_func_jet(net, x),
           "compiled forward Laplacian": lambda: compare.compiled_forward_laplacian(net, x)}
    train = {FUSED: step(lambda: jet_loss("fused")),
             "nested autograd": step(lambda: jet_loss("reference")),
             "torch.func": step(torch_func_loss),
             "compiled forward Laplacian": step(lambda: compare.compiled_forward_laplacian_loss(net, x, target))}
    if taylor:
        jet["collapsed Taylor mode"] = lambda: taylor(x)
        train["collapsed Taylor mode"] = step(lambda: compare.laplacian_loss(*taylor(x), target))
    return {"order-2 jet": jet, "Laplacian train step": train}


def eikonal_routes(args: argparse.Namespace) -> Dict[str, Callable[[], object]]:
    """The SDF fit's step, 3->256x3->1 at N points: |grad u| = 1 and u = 0, through value and gradient."""
    torch.manual_seed(0)
    net = siren_fused.Siren(3, 256, 3, 1)
    x = torch.rand(args.n, 3) * 2 - 1

    def loss(value: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        return ((grad.norm(dim=-1) - 1) ** 2).mean() + (value ** 2).mean()

    def step(backend: str):
        def run():
            net.zero_grad(set_to_none=True)
            j = siren_fused.jet(net, x, 1, backend=backend)
            loss(j.value, j.grad.squeeze(1)).backward()
        return run

    def torch_func_step():
        net.zero_grad(set_to_none=True)
        grad = torch.func.vmap(torch.func.jacrev(lambda p: net(p.unsqueeze(0)).squeeze(0)))(x)
        loss(net(x), grad.squeeze(1)).backward()

    return {FUSED: step("fused"), "nested autograd": step("reference"), "torch.func": torch_func_step}


def hypernet_routes() -> Dict[str, Callable[[], object]]:
    """The hypernetwork's decoder step (batched_networks.py's order-0 forward and backward)."""
    suite = batched_networks.workloads(*batched_networks.build(argparse.Namespace(
        in_features=2, hidden=256, layers=3, batched_out_features=3, networks=64, batched_n=1024, dtype="float32")))
    return {FUSED: suite[batched_networks.ORDER0["fused"]],
            "vmap(functional_call)": suite[batched_networks.ORDER0["reference"]],
            "loop of fused calls": suite[batched_networks.ORDER0["loop"]]}


def measure(args: argparse.Namespace) -> dict:
    """This process's policy: every workload's routes under every condition, median seconds."""
    torch.set_num_threads(args.threads)
    peer = taylor_peer.load()
    if peer is None:
        print(taylor_peer.missing_message(), file=sys.stderr)
    workloads = image_routes(args, peer)
    workloads["Eikonal train step"] = eikonal_routes(args)
    workloads["hypernetwork step"] = hypernet_routes()
    workloads = {name: routes for name, routes in workloads.items() if name in args.workloads}
    for routes in workloads.values():  # compile and fault in every route before any timing
        for route in routes.values():
            route()
    results: Dict[str, Dict[str, Dict[str, float]]] = {name: {} for name in workloads}
    for condition in args.conditions:
        with competitors(CONDITIONS[condition], args.competitor_seconds):
            for name, routes in workloads.items():
                results[name][condition] = interleaved_median_times(routes, args.rounds)
        print(f"  {args.policy} policy, {condition}: done", file=sys.stderr, flush=True)
    return results


def run_policy(args: argparse.Namespace, policy: str) -> dict:
    """measure() in a fresh process whose OpenMP starts with the policy."""
    env = environment_without_wait_policy()
    if policy == "passive":
        env["OMP_WAIT_POLICY"] = "passive"
    command = [sys.executable, __file__, "--child", "--policy", policy, "--n", str(args.n),
               "--threads", str(args.threads), "--rounds", str(args.rounds),
               "--competitor-seconds", str(args.competitor_seconds),
               "--workloads", *args.workloads, "--conditions", *args.conditions]
    output = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output)


def print_tables(results: Dict[str, dict], conditions: List[str]) -> None:
    """Per workload: each route's ms per condition and policy, then the fused speed-up over each route and the
    fused slowdown against quiet."""
    columns = [(policy, condition) for policy in results for condition in conditions]
    heads = [f"{condition} ({policy})" for policy, condition in columns]
    workloads = next(iter(results.values()))
    for workload in workloads:
        routes = list(workloads[workload][conditions[0]])
        print(f"\n{workload}: median ms")
        print(f"{'route':28s} " + " | ".join(f"{h:>26s}" for h in heads))
        for route in routes:
            cells = [1e3 * results[p][workload][c][route] for p, c in columns]
            print(f"{route:28s} " + " | ".join(f"{v:26.1f}" for v in cells))
        print("fused speed-up (route / fused):")
        for route in routes[1:]:
            cells = [results[p][workload][c][route] / results[p][workload][c][FUSED] for p, c in columns]
            print(f"  vs {route:24s} " + " | ".join(f"{v:25.2f}x" for v in cells))
        if "quiet" in conditions:
            cells = [results[p][workload][c][FUSED] / results[p][workload]["quiet"][FUSED] for p, c in columns]
            print(f"  {'fused slowdown vs quiet':27s} " + " | ".join(f"{v:25.2f}x" for v in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16384, help="points of the image and Eikonal workloads")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 on the 2-core CI machine)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds a condition, after one warm-up")
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=list(CONDITIONS))
    parser.add_argument("--workloads", nargs="+", default=["order-2 jet", "Laplacian train step",
                                                           "Eikonal train step", "hypernetwork step"])
    parser.add_argument("--competitor-seconds", type=float, default=900,
                        help="each competing process stops by itself after this long")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--policy", choices=POLICIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        json.dump(measure(args), sys.stdout)
        return
    results = {policy: run_policy(args, policy) for policy in args.policies}
    print(f"{args.threads} torch threads, float32, N = {args.n}, {args.rounds} rounds, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print_tables(results, args.conditions)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": vars(args), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
