"""GPU benchmark: value + gradient + Laplacian of a SIREN at N points, ours against the peers.

Peers: nested autograd (siren_fused.reference.jet, what SIREN's code does), torch.func
(vmap of jacrev and hessian), and a forward-Laplacian propagation in plain torch ops under
torch.compile (value, tangents and Laplacian carried layer by layer: the strongest thing a user
could write without us). Reports points/s, each peer's time over ours, and our achieved FLOP rate
as a fraction of a measured float32 (no TF32) matmul peak.

Then a batch of networks (issue 12, a hypernetwork's predicted SIRENs): B = 64 networks
2->256x3->3 at 1,024 points each, order 0 forward + backward and the order 2 jet, the batched
kernels (one launch sequence, the networks a grid dimension) against a Python loop of single-network
calls of the same kernels. Only a GPU can time this: the emulation that runs the CUDA tests on a
CPU checks results, not speed. Writes one JSON.

    python benchmarks/gpu_bench.py --out results.json
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Callable, Dict

import torch

import siren_fused
from siren_fused import Siren, reference

NETS = {"2->256x3->1": (2, 256, 3, 1), "2->64x3->1": (2, 64, 3, 1)}


def time_cuda(fn: Callable[[], object], warmup: int, reps: int) -> float:
    """Median seconds per call, timed with CUDA events after `warmup` calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def matmul_peak_flops() -> float:
    """Measured float32 FFMA matmul rate (TF32 off), the ceiling our FFMA kernels aim at."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        a = torch.randn(8192, 8192, device="cuda")
        b = torch.randn(8192, 8192, device="cuda")
        seconds = time_cuda(lambda: torch.mm(a, b), warmup=3, reps=10)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * 8192**3 / seconds


def jet_flops(net: Siren, n: int) -> float:
    """GEMM FLOPs of one order-2 Laplacian jet: every layer multiplies value, D tangents and the Laplacian."""
    components = 1 + net.in_features + 1
    return sum(2.0 * components * n * layer.in_features * layer.out_features for layer in net.layers)


def forward_laplacian(net: Siren) -> Callable[[torch.Tensor], tuple]:
    """Value [N, out], Jacobian [N, D, out] and Laplacian [N, out] carried through the layers in torch ops."""
    layers = [(layer.linear.weight, layer.linear.bias, layer.omega_0, layer.is_linear) for layer in net.layers]

    def run(x: torch.Tensor):
        value = x
        tangents = torch.eye(x.shape[1], device=x.device, dtype=x.dtype).expand(x.shape[0], -1, -1)
        lap = torch.zeros_like(x)
        for weight, bias, omega, linear in layers:
            z = value @ weight.t() + bias
            zt = tangents @ weight.t()
            zl = lap @ weight.t()
            if linear:
                value, tangents, lap = z, zt, zl
                continue
            s, c = torch.sin(omega * z), torch.cos(omega * z)
            f1, f2 = omega * c, -omega * omega * s
            value, tangents, lap = s, f1.unsqueeze(1) * zt, f1 * zl + f2 * (zt * zt).sum(1)
        return value, tangents, lap

    return run


def torch_func_jet(net: Siren) -> Callable[[torch.Tensor], tuple]:
    def single(point: torch.Tensor) -> torch.Tensor:
        return net(point.unsqueeze(0)).squeeze(0)

    grad = torch.func.vmap(torch.func.jacrev(single))
    hess = torch.func.vmap(torch.func.hessian(single))

    def run(x: torch.Tensor):
        return net(x), grad(x), torch.diagonal(hess(x), dim1=-2, dim2=-1).sum(-1)

    return run


def bench_net(name: str, shape: tuple, n: int, peak: float, warmup: int, reps: int) -> Dict:
    torch.manual_seed(0)
    net = Siren(*shape).cuda()
    x = torch.rand(n, shape[0], device="cuda") * 2 - 1
    compiled = torch.compile(forward_laplacian(net))
    func_jet = torch_func_jet(net)
    peers: Dict[str, Callable[[], object]] = {
        "ours (siren_fused, fused CUDA)": lambda: siren_fused.jet(net, x, 2, backend="fused"),
        "nested autograd (reference)": lambda: reference.jet(net, x, 2),
        "torch.func (vmap jacrev/hessian)": lambda: func_jet(x),
        "forward Laplacian, torch.compile": lambda: compiled(x),
    }
    result = {"net": name, "points": n, "order": 2, "peers": {}}
    with torch.no_grad():
        ours = siren_fused.jet(net, x, 2, backend="fused")
        ref = reference.jet(net, x, 2)
        result["max_abs_laplacian_diff_vs_reference"] = (ours.laplacian - ref.laplacian).abs().max().item()
        result["max_abs_laplacian_reference"] = ref.laplacian.abs().max().item()
        del ours, ref
        for label, fn in peers.items():
            entry = {}
            try:
                start = time.perf_counter()
                fn()  # the first call compiles where there is something to compile
                torch.cuda.synchronize()
                entry["first_call_s"] = time.perf_counter() - start
                seconds = time_cuda(fn, warmup, reps)
                entry.update(seconds=seconds, points_per_s=n / seconds)
            except torch.cuda.OutOfMemoryError as exc:
                entry["error"] = f"out of memory: {str(exc).splitlines()[0]}"
            torch.cuda.empty_cache()
            result["peers"][label] = entry
    ours_label = next(iter(peers))
    ours_s = result["peers"][ours_label].get("seconds")
    for entry in result["peers"].values():
        if ours_s and "seconds" in entry:
            entry["time_over_ours"] = entry["seconds"] / ours_s
    if ours_s:
        flops = jet_flops(net, n)
        result["ours_gemm_flops"] = flops
        result["ours_flop_rate"] = flops / ours_s
        result["ours_fraction_of_fp32_matmul_peak"] = flops / ours_s / peak
    return result


def stacked_parameters(nets: list) -> tuple:
    """Every network's weights and biases stacked to [B, out, in] and [B, out] leaves, and the omegas."""
    layers = [net.layers for net in nets]
    weights = [torch.stack([ls[l].linear.weight.detach() for ls in layers]).requires_grad_(True)
               for l in range(len(layers[0]))]
    biases = [torch.stack([ls[l].linear.bias.detach() for ls in layers]).requires_grad_(True)
              for l in range(len(layers[0]))]
    return weights, biases, [layer.omega_0 for layer in nets[0].layers]


def bench_batched(networks: int, shape: tuple, n: int, warmup: int, reps: int) -> Dict:
    """B networks of one shape at their own n points: the batched op against a loop of single-network calls."""
    torch.manual_seed(0)
    nets = [Siren(*shape).cuda() for _ in range(networks)]
    x = torch.rand(networks, n, shape[0], device="cuda") * 2 - 1
    weights, biases, omegas = stacked_parameters(nets)
    outermost_linear = nets[0].outermost_linear
    forward = torch.ops.siren_fused.jet_forward

    def batched(order: int, backward: bool):
        with torch.set_grad_enabled(backward):
            packed, _ = forward(x, weights, biases, omegas, order, False, outermost_linear, backward)
            if backward:
                packed.sum().backward()
        return packed

    def looped(order: int, backward: bool):
        with torch.set_grad_enabled(backward):
            jets = [siren_fused.jet(net, points, order, backend="fused") for net, points in zip(nets, x)]
            if backward:  # one backward through every network's graph, as a training step would
                sum(field.sum() for jet in jets for field in jet if field is not None).backward()
        return jets

    cases = {"order 0 forward + backward": (0, True), "order 2 jet (value, gradient, Laplacian)": (2, False)}
    result = {"networks": networks, "shape": list(shape), "points_per_network": n, "cases": {}}
    for label, (order, backward) in cases.items():
        with torch.no_grad():
            packed = batched(order, False)
            jets = looped(order, False)
            value_diff = max((packed[b, 0] - jets[b].value).abs().max().item() for b in range(networks))
        entry = {"max_abs_value_diff_batched_vs_loop": value_diff}
        for name, fn in (("batched (one launch sequence)", lambda: batched(order, backward)),
                         ("Python loop of single-network calls", lambda: looped(order, backward))):
            seconds = time_cuda(fn, warmup, reps)
            entry[name] = {"seconds": seconds, "points_per_s": networks * n / seconds}
        entry["loop_over_batched"] = (entry["Python loop of single-network calls"]["seconds"]
                                      / entry["batched (one launch sequence)"]["seconds"])
        result["cases"][label] = entry
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--points", type=int, default=2**18)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--networks", type=int, default=64, help="B of the batched-networks case")
    parser.add_argument("--points-per-network", type=int, default=1024)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_bench needs a CUDA device")
    peak = matmul_peak_flops()
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
              "fp32_matmul_peak_flops": peak, "nets": []}
    print(f"{report['device']}: measured float32 matmul peak {peak / 1e12:.1f} TFLOP/s")
    for name, shape in NETS.items():
        result = bench_net(name, shape, args.points, peak, args.warmup, args.reps)
        report["nets"].append(result)
        print(f"\n{name}, N={args.points}, order 2 (value, gradient, Laplacian)")
        print(f"  |ours - reference| Laplacian max {result['max_abs_laplacian_diff_vs_reference']:.3e} "
              f"(|Laplacian| max {result['max_abs_laplacian_reference']:.3e})")
        for label, entry in result["peers"].items():
            if "error" in entry:
                print(f"  {label:36s} {entry['error']}")
            else:
                print(f"  {label:36s} {entry['points_per_s'] / 1e6:10.2f} Mpoints/s  "
                      f"{entry.get('time_over_ours', float('nan')):7.2f}x ours' time")
        if "ours_flop_rate" in result:
            print(f"  ours: {result['ours_flop_rate'] / 1e12:.2f} TFLOP/s = "
                  f"{100 * result['ours_fraction_of_fp32_matmul_peak']:.1f}% of the measured float32 peak")
    batched = bench_batched(args.networks, (2, 256, 3, 3), args.points_per_network, args.warmup, args.reps)
    report["batched_networks"] = batched
    print(f"\nbatched networks: B={batched['networks']} x 2->256x3->3, {batched['points_per_network']} points each")
    for label, entry in batched["cases"].items():
        ours = entry["batched (one launch sequence)"]
        loop = entry["Python loop of single-network calls"]
        print(f"  {label:42s} batched {ours['seconds'] * 1e3:8.3f} ms, loop {loop['seconds'] * 1e3:8.3f} ms: "
              f"{entry['loop_over_batched']:.2f}x; |value diff| {entry['max_abs_value_diff_batched_vs_loop']:.2e}")
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
