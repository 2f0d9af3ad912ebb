"""The order-3/4 workloads of compare.py (``--high-order``): the biharmonic and u_xxxx of a SIREN by the fused
directional jet (siren_fused.operator_jet), by nested autograd (repeated ``torch.autograd.grad`` with
``create_graph=True``, as PINN codes write it: the biharmonic as the Laplacian of the Laplacian), and by
collapsed Taylor mode (jet-for-pytorch's ``bilaplacian``, and its 4-jet along x for u_xxxx; taylor_peer.py),
each as the operator alone (no parameter gradients) and as a training step on a loss on the operator.

Nested autograd keeps every intermediate of its four nested passes: about 1 MB a point for the 2->256x3->1
SIREN's biharmonic, so at N = 16,384 its training step outgrew this 23 GB machine (killed at 20.7 GB resident).
It runs in chunks of ``--autograd-chunk`` points (each chunk's operator, or its share of the loss backward, before
the next), as a PINN code on this machine would have to; one GEMM over 2,048 rows of a 256-wide layer already runs
at the BLAS's full rate, so chunking costs it no speed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
from typing import Callable, Dict, Optional

import torch

import siren_fused
import taylor_peer
from siren_fused import reference

FUSED = "fused"
AUTOGRAD = "nested autograd"
TAYLOR = "collapsed Taylor mode"
ROUTES = (FUSED, AUTOGRAD, TAYLOR)


def operators(name: str, in_dims: int) -> Dict[str, Dict[tuple, float]]:
    """The operator a table row asks for, as siren_fused.operator_jet takes it."""
    if name == "biharmonic":
        return {name: siren_fused.biharmonic(in_dims)}
    return {name: {tuple(4 * (k == 0) for k in range(in_dims)): 1.0}}


def build(args: argparse.Namespace):
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    net = siren_fused.Siren(args.in_features, args.hidden, args.layers, 1).to(dtype)
    x = torch.rand(args.n, args.in_features, dtype=dtype) * 2 - 1
    return net, x, torch.randn(args.n, 1, dtype=dtype)


def autograd_operator(name: str, net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The operator by nested torch.autograd.grad (create_graph=True throughout, so it can be trained through)."""
    xr = x.detach().requires_grad_(True)
    u = net(xr)
    if name == "biharmonic":
        return reference.laplacian(reference.laplacian(u, xr), xr)
    for _ in range(4):
        u = reference.gradient(u, xr)[:, :1]
    return u


def taylor_operator(name: str, jet, net: torch.nn.Module, in_dims: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """x [N, D] -> the operator [N, 1] by collapsed Taylor mode, one point's jet vmapped over the points."""
    def point(p: torch.Tensor) -> torch.Tensor:
        return net(p.unsqueeze(0)).squeeze(0)

    mock = (torch.zeros(in_dims),)
    if name == "biharmonic":
        return torch.func.vmap(jet.bilaplacian(point, mock))
    four_jet = jet.jet(point, mock)
    axis = torch.zeros(in_dims)
    axis[0] = 1.0

    def along_x(p: torch.Tensor) -> torch.Tensor:
        zero = torch.zeros_like(p)
        return four_jet((p, axis.to(p), zero, zero, zero))[4]
    return torch.func.vmap(along_x)


def operator_routes(name: str, net: torch.nn.Module, x: torch.Tensor, peer) -> Dict[str, Callable[[], torch.Tensor]]:
    ops = operators(name, x.shape[1])
    # Without the gradient, as the other routes: u_xxxx then takes the x axis alone (5 components, not 1 + 3 D + 1).
    routes = {FUSED: lambda: siren_fused.operator_jet(net, x, ops, backend="fused", gradient=False).fields[name],
              AUTOGRAD: lambda: autograd_operator(name, net, x)}
    if peer is not None:
        taylor = taylor_operator(name, peer, net, x.shape[1])
        routes[TAYLOR] = lambda: taylor(x)
    return routes


def check_routes(name: str, net: torch.nn.Module, x: torch.Tensor, peer) -> None:
    """Every route computes the same operator (float64, a few points): a wrong peer call would time nothing useful."""
    net64 = copy.deepcopy(net).double()
    few = x[:16].double()
    results = {route: fn() for route, fn in operator_routes(name, net64, few, peer).items()}
    for route, value in results.items():
        error = ((value - results[FUSED]).abs().max() / results[FUSED].abs().max()).item()
        if error > 1e-8:
            raise RuntimeError(f"{route} disagrees with the fused {name}: off by {error:.2g}")


@contextlib.contextmanager
def frozen_parameters(net: torch.nn.Module):
    """The net's parameters without requires_grad inside the block."""
    for p in net.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in net.parameters():
            p.requires_grad_(True)


def chunked_autograd(name: str, net: torch.nn.Module, x: torch.Tensor, target: torch.Tensor,
                     chunk: int) -> Dict[str, Callable[[], object]]:
    """Nested autograd's operator and training step a chunk of points at a time: the operator's chunks
    detached as they come, the step's loss (the mean over all points) backward chunk by chunk, its
    gradients summing to the whole loss's."""
    def operator():
        with frozen_parameters(net):  # differentiates x under autograd, with no graph to the parameters
            return torch.cat([autograd_operator(name, net, part).detach() for part in x.split(chunk)])

    def train_step():
        net.zero_grad(set_to_none=True)
        for part, goal in zip(x.split(chunk), target.split(chunk)):
            ((autograd_operator(name, net, part) - goal) ** 2).sum().div(len(x)).backward()
    return {"operator": operator, "train step": train_step}


def workloads(args: argparse.Namespace) -> Dict[str, Callable[[], object]]:
    """The table's rows for args.operator: each route's operator alone, then its training step."""
    net, x, target = build(args)
    peer: Optional[object] = taylor_peer.load()
    routes = operator_routes(args.operator, net, x, peer)
    autograd = chunked_autograd(args.operator, net, x, target, args.autograd_chunk)

    def operator_alone(route: str):
        if route == AUTOGRAD:
            return autograd["operator"]

        def run():
            with torch.no_grad():
                return routes[route]()
        return run

    def train_step(route: str):
        if route == AUTOGRAD:
            return autograd["train step"]

        def run():
            net.zero_grad(set_to_none=True)
            ((routes[route]() - target) ** 2).mean().backward()
        return run

    rows = {"forward (net(x), no_grad)": lambda: net(x).detach()}
    rows.update({f"{route} {args.operator}": operator_alone(route) for route in routes})
    rows.update({f"{route} train step": train_step(route) for route in routes})
    return rows


def speedups(seconds: Dict[str, float], operator: str) -> Dict[str, float]:
    """The fused route against each other route, for the operator alone and for the training step."""
    out = {}
    for other in (AUTOGRAD, TAYLOR):
        for kind in (operator, "train step"):
            if f"{other} {kind}" in seconds:
                out[f"fused vs {other}, {kind}"] = seconds[f"{other} {kind}"] / seconds[f"{FUSED} {kind}"]
    return out
