"""The batched-networks workloads of compare.py: B SIRENs whose weights a hypernetwork predicted, each
evaluated at the same N points (the paper's Sec. 4.4 setting: 64 networks 2->256x3->3 on a 32x32 grid).

Three routes for each workload: the fused kernels taking all B networks in one call
(``siren_fused.jet(..., params=theta)``), the torch.func reference (``functional_call`` under ``vmap``
over the networks; ``jacrev`` and ``jacfwd`` over it, vmapped over the points, for the derivatives), and a
Python loop of single-network fused calls. The parameters require grad, as a hypernetwork's outputs do.
"""

from __future__ import annotations

import argparse
from typing import Callable, Dict

import torch

import siren_fused

FORWARD = "forward (vmap(functional_call), no_grad)"
ORDER0 = {"fused": "order 0 fwd+bwd, fused batched", "reference": "order 0 fwd+bwd, vmap(functional_call)",
          "loop": "order 0 fwd+bwd, loop of fused calls"}
ORDER2 = {"fused": "order 2 jet, fused batched", "reference": "order 2 jet, vmap(torch.func)",
          "loop": "order 2 jet, loop of fused calls"}
ORDER2_STEP = {"fused": "order 2 fwd+bwd, fused batched", "reference": "order 2 fwd+bwd, vmap(torch.func)"}


def build(args: argparse.Namespace):
    """The template net, B networks' parameters (each the net's own, scaled entrywise by a random factor in
    [0.5, 1.5]: distinct networks at SIREN's scales), shared points and a target."""
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    net = siren_fused.Siren(args.in_features, args.hidden, args.layers, args.batched_out_features).to(dtype)
    theta = {name: (p.detach() * (0.5 + torch.rand(args.networks, *p.shape, dtype=dtype))).requires_grad_(True)
             for name, p in net.named_parameters()}
    x = torch.rand(args.batched_n, args.in_features, dtype=dtype) * 2 - 1
    target = torch.randn(args.networks, args.batched_n, args.batched_out_features, dtype=dtype)
    return net, theta, x, target


def workloads(net: siren_fused.Siren, theta: Dict[str, torch.Tensor], x: torch.Tensor,
              target: torch.Tensor) -> Dict[str, Callable[[], object]]:
    networks = target.shape[0]

    def values(route: str) -> torch.Tensor:
        if route == "fused":
            return siren_fused.jet(net, x, 0, backend="fused", params=theta).value
        if route == "reference":
            return torch.func.vmap(lambda p: torch.func.functional_call(net, p, (x,)))(theta)
        return torch.stack([siren_fused.jet(net, x, 0, backend="fused", params=one(b)).value
                            for b in range(networks)])

    def one(b: int) -> Dict[str, torch.Tensor]:
        return {name: tensor[b] for name, tensor in theta.items()}

    def order2(route: str):
        if route == "loop":
            return [siren_fused.jet(net, x, 2, backend="fused", params=one(b)) for b in range(networks)]
        return siren_fused.jet(net, x, 2, backend=route, params=theta)

    def order0_step(route: str):
        def run():
            loss = ((values(route) - target) ** 2).mean()
            torch.autograd.grad(loss, list(theta.values()))
        return run

    def order2_step(route: str):
        def run():
            j = order2(route)
            loss = (j.laplacian ** 2).mean() + ((j.value - target) ** 2).mean()
            torch.autograd.grad(loss, list(theta.values()))
        return run

    def forward():
        with torch.no_grad():
            return values("reference")

    suite = {FORWARD: forward}
    suite.update({ORDER0[route]: order0_step(route) for route in ORDER0})
    suite.update({ORDER2[route]: (lambda route=route: order2(route)) for route in ORDER2})
    suite.update({ORDER2_STEP[route]: order2_step(route) for route in ORDER2_STEP})
    return suite


def speedups(seconds: Dict[str, float]) -> Dict[str, float]:
    """The issue's targets as ratios (the other route's time / the fused time): order 2 jet >= 1.65x the
    vmap reference, order 0 forward + backward >= 1x (no slower)."""
    return {
        "order 0 fwd+bwd: fused vs vmap(functional_call)": seconds[ORDER0["reference"]] / seconds[ORDER0["fused"]],
        "order 0 fwd+bwd: fused vs loop of fused calls": seconds[ORDER0["loop"]] / seconds[ORDER0["fused"]],
        "order 2 jet: fused vs vmap(torch.func)": seconds[ORDER2["reference"]] / seconds[ORDER2["fused"]],
        "order 2 jet: fused vs loop of fused calls": seconds[ORDER2["loop"]] / seconds[ORDER2["fused"]],
        "order 2 fwd+bwd: fused vs vmap(torch.func)":
            seconds[ORDER2_STEP["reference"]] / seconds[ORDER2_STEP["fused"]],
    }
