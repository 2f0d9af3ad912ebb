"""The modulated-SIREN workloads of compare.py: B shift-modulated SIRENs (functa's setting: shared weights, a
shift of every hidden layer per network) at N points each, by four routes:

* fused: ``siren_fused.jet(..., modulation=...)``, the shared weights one GEMM over every network's points;
* params: today's ``params=`` path with the equivalent full per-network weights (each weight repeated B times,
  each bias b + beta), as a hypernetwork predicting every weight would hold them;
* vmap: ``vmap(functional_call)`` of a plain PyTorch modulated SIREN over the networks' shifts (torch.func's
  ``jacrev``/``jacfwd`` over the points for the derivatives, 8 networks at a time);
* batched: the same plain module batched by hand (one matmul over all networks' points, shifts broadcast;
  nested autograd for the derivatives, 8 networks at a time: its graph holds about 0.27 MB a point, 4.4 GB
  for 16 networks of 1,024 points, so that 64 at a time ran the benchmark out of memory at B = 256).

The shifts, the shared parameters and, for params, the per-network weights require grad.
"""

from __future__ import annotations

import argparse
from typing import Callable, Dict

import torch
from torch.func import functional_call, jacfwd, jacrev, vmap

import siren_fused
from siren_fused import reference

ROUTES = ("fused", "params", "vmap", "batched")
ORDER0 = {route: f"modulated order 0 fwd+bwd, {route}" for route in ROUTES}
ORDER2 = {route: f"modulated order 2 jet, {route}" for route in ROUTES}


def build(args: argparse.Namespace):
    """The shared net, B networks' shifts, the equivalent per-network params, shared points and a target."""
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    net = siren_fused.Siren(args.in_features, args.hidden, args.layers, args.batched_out_features).to(dtype)
    shifts = [(0.1 * torch.randn(args.modulated_networks, args.hidden, dtype=dtype)).requires_grad_(True)
              for _ in net.layers[:-1]]
    params = {}
    for index, layer in enumerate(net.layers):
        weight, bias = layer.linear.weight.detach(), layer.linear.bias.detach()
        shift = shifts[index].detach() if index < len(shifts) else torch.zeros_like(bias)
        params[f"net.{index}.linear.weight"] = weight.expand(args.modulated_networks, *weight.shape).clone()
        params[f"net.{index}.linear.bias"] = (bias + shift).expand(args.modulated_networks, *bias.shape).clone()
    for tensor in params.values():
        tensor.requires_grad_(True)
    x = torch.rand(args.batched_n, args.in_features, dtype=dtype) * 2 - 1
    target = torch.randn(args.modulated_networks, args.batched_n, args.batched_out_features, dtype=dtype)
    return net, shifts, params, x, target


@torch.enable_grad()  # nested autograd needs a graph to x, also where the caller wants none to the parameters
def batched_derivatives(net: siren_fused.Siren, x: torch.Tensor, modulation: siren_fused.Modulation):
    """Value, Jacobian and Laplacian of the hand-batched module by nested autograd: x repeated per network so
    that each network's points get their own gradients."""
    xb = x.expand(modulation.networks, *x.shape).detach().requires_grad_(True)
    value = net(xb, modulation=modulation)
    rows = value.reshape(-1, value.shape[-1])
    points = xb.reshape(-1, x.shape[-1])
    grads = [torch.autograd.grad(rows[:, i].sum(), xb, create_graph=True)[0].reshape(-1, x.shape[-1])
             for i in range(rows.shape[1])]

    def second(g: torch.Tensor, k: int) -> torch.Tensor:  # d/dx_k of the gradient's k-th entry, per point
        return torch.autograd.grad(g[:, k].sum(), xb, create_graph=True)[0].reshape(points.shape)[:, k]

    laplacian = torch.stack([sum(second(g, k) for k in range(x.shape[-1])) for g in grads], dim=-1)
    return value, torch.stack(grads, dim=1), laplacian


def workloads(net: siren_fused.Siren, shifts, params: Dict[str, torch.Tensor], x: torch.Tensor,
              target: torch.Tensor) -> Dict[str, Callable[[], object]]:
    modulation = siren_fused.Modulation(shifts)
    own = dict(net.named_parameters())

    def one_network(p, network_shifts, points):  # the plain module for one network's shifts
        return functional_call(net, p, (points,), {"modulation": siren_fused.Modulation(
            [s.unsqueeze(0) for s in network_shifts])}).squeeze(0)

    def values(route: str) -> torch.Tensor:
        if route == "fused":
            return siren_fused.jet(net, x, 0, backend="fused", modulation=modulation).value
        if route == "params":
            return siren_fused.jet(net, x, 0, backend="fused", params=params).value
        if route == "vmap":
            return vmap(one_network, in_dims=(None, 0, None))(own, shifts, x)
        return net(x, modulation=modulation)

    def order2(route: str):
        if route == "fused":
            return siren_fused.jet(net, x, 2, backend="fused", modulation=modulation)
        if route == "params":
            return siren_fused.jet(net, x, 2, backend="fused", params=params)
        if route == "vmap":
            def at_point(network_shifts, point):
                return one_network(own, network_shifts, point.unsqueeze(0)).squeeze(0)
            over_points = vmap(jacfwd(jacrev(at_point, argnums=1), argnums=1), in_dims=(None, 0))
            # 8 networks at a time (vmap's chunk_size): all 256 at once, and 32 at a time, ran out of memory here.
            hessian = vmap(over_points, in_dims=(0, None), chunk_size=8)(shifts, x)
            return values("vmap"), reference.weighted_trace(hessian, None)
        parts = [[t.detach() for t in batched_derivatives(net, x, siren_fused.Modulation(
                     [s[first : first + 8].detach() for s in shifts]))] for first in range(0, modulation.networks, 8)]
        return [torch.cat([part[k] for part in parts]) for k in range(3)]

    def leaves(route: str):
        return list(params.values()) if route == "params" else [*shifts, *net.parameters()]

    def order0_step(route: str):
        def run():
            loss = ((values(route) - target) ** 2).mean()
            torch.autograd.grad(loss, leaves(route))
        return run

    suite = {"modulated forward, batched (no_grad)": lambda: torch.no_grad()(values)("batched")}
    suite.update({ORDER0[route]: order0_step(route) for route in ROUTES})
    # The order-2 jet as evaluated, without a graph to the shifts or the weights: held for backward, vmap's and
    # the hand-batched route's graphs of all 256 networks would outgrow this machine (8.4 and 16.7 GB at B = 64).
    suite.update({ORDER2[route]: (lambda route=route: torch.no_grad()(order2)(route)) for route in ROUTES})
    return suite


def parameter_megabytes(shifts, params: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """What each route holds per network: the modulations, against the params path's full weights."""
    return {"modulations (fused, vmap, batched)": sum(s.numel() * s.element_size() for s in shifts) / 2 ** 20,
            "per-network weights (params)": sum(t.numel() * t.element_size() for t in params.values()) / 2 ** 20}


def speedups(seconds: Dict[str, float]) -> Dict[str, float]:
    """The issue's targets as ratios (the other route's time / the fused time): >= 3x the params path, >= 1.5x
    the better of vmap and hand-batched plain PyTorch."""
    ratios = {}
    for name, table in (("order 0 fwd+bwd", ORDER0), ("order 2 jet", ORDER2)):
        fused = seconds[table["fused"]]
        ratios[f"{name}: fused vs params"] = seconds[table["params"]] / fused
        ratios[f"{name}: fused vs best plain PyTorch"] = min(seconds[table["vmap"]], seconds[table["batched"]]) / fused
    return ratios
