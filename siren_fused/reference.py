"""Pure-autograd reference: the derivatives a SIREN user would compute without this package.

Every fused kernel is tested against :func:`jet` here. The operators mirror the ones in the
SIREN paper's code (nested ``torch.autograd.grad`` with ``create_graph=True``), so the results
stay differentiable with respect to the network's parameters.
"""

from __future__ import annotations

from typing import Collection, Mapping, Optional, Sequence, Tuple

import torch
from torch.func import functional_call, jacfwd, jacrev, vmap

from .jet_types import Jet, OperatorJet


def gradient(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d sum(y) / dx: for y [N, 1] and x [N, D] this is the per-point gradient [N, D]."""
    return torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True)[0]


def jacobian(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-point Jacobian [N, out, D] of y [N, out] with respect to x [N, D]."""
    rows = [gradient(y[:, i], x) for i in range(y.shape[1])]
    if not rows:
        return y.new_zeros(y.shape[0], 0, x.shape[1])
    return torch.stack(rows, dim=1)


def divergence(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-point divergence [N, 1] of a vector field v [N, D] over x [N, D]."""
    div = torch.zeros_like(v[:, :1])
    for i in range(v.shape[1]):
        div = div + gradient(v[:, i], x)[:, i : i + 1]
    return div


def laplacian(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-point Laplacian [N, 1] of a scalar field y [N, 1]: the divergence of its gradient."""
    return divergence(gradient(y, x), x)


def hessian(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-point Hessian [N, out, D, D] of y [N, out] with respect to x [N, D]."""
    n, d = x.shape
    out = torch.empty(n, y.shape[1], d, d, dtype=y.dtype, device=y.device)
    for i in range(y.shape[1]):
        g = gradient(y[:, i], x)
        for k in range(d):
            out[:, i, k, :] = gradient(g[:, k], x)
    return out


def jet(net: torch.nn.Module, x: torch.Tensor, order: int = 2, hessian: bool = False,
        laplacian_weights: Optional[Sequence[float]] = None) -> Jet:
    """Value and derivatives of ``net`` at ``x`` by nested autograd (see :func:`siren_fused.jet`);
    with ``laplacian_weights`` a, the Laplacian is sum_k a_k d2/dx_k^2."""
    weights = [1.0] * x.shape[1] if laplacian_weights is None else [float(a) for a in laplacian_weights]
    outer_grad = torch.is_grad_enabled()
    with torch.enable_grad():
        xr = x if (x.requires_grad and outer_grad) else x.detach().requires_grad_(True)
        value = net(xr)
        grad = lap = hess = None
        if order >= 1:
            grad = jacobian(value, xr)
        if order >= 2:
            # Row (i, k) of the Hessian is the gradient of dy_i/dx_k; the Laplacian is its (weighted) trace.
            rows = [[gradient(grad[:, i, k], xr) for k in range(xr.shape[1])] for i in range(value.shape[1])]
            lap = torch.stack([sum(weights[k] * r[k][:, k] for k in range(len(r))) for r in rows], dim=1)
            if hessian:
                hess = torch.stack([torch.stack(r, dim=1) for r in rows], dim=1)
    result = Jet(value, grad, lap, hess)
    if not outer_grad:
        result = Jet(*(t.detach() if t is not None else None for t in result))
    return result


def weighted_trace(hess: torch.Tensor, laplacian_weights: Optional[Sequence[float]]) -> torch.Tensor:
    """sum_k a_k H_kk of Hessians [..., D, D] (the plain trace without weights)."""
    diagonal = torch.diagonal(hess, dim1=-2, dim2=-1)
    if laplacian_weights is None:
        return diagonal.sum(-1)
    return diagonal @ torch.tensor(list(laplacian_weights), dtype=hess.dtype, device=hess.device)


def functional_jet(net: torch.nn.Module, params: Mapping[str, torch.Tensor], batched: Collection[str],
                   x: torch.Tensor, order: int = 2, hessian: bool = False,
                   laplacian_weights: Optional[Sequence[float]] = None) -> Jet:
    """The jet of ``net`` run with ``params`` (every parameter by name) by torch.func, as a user of
    ``torch.func.functional_call`` would write it: derivatives at each point by ``jacrev`` (and
    ``jacfwd`` over it for the Hessian) under ``vmap`` over the points, and, with the entries named in
    ``batched`` holding B networks' values, ``vmap`` over the networks too (x [N, D] shared, or
    [B, N, D] one set a network). Fields as :func:`siren_fused.jet` returns them."""
    networks = bool(batched)
    param_dims = {name: 0 if name in batched else None for name in params}
    x_dim = 0 if networks and x.dim() == 3 else None

    def over_networks(fn):
        return vmap(fn, in_dims=(param_dims, x_dim)) if networks else fn

    def at_point(p, point):  # [D] -> [out]
        return functional_call(net, p, (point.unsqueeze(0),)).squeeze(0)

    def over_points(fn):
        return over_networks(vmap(fn, in_dims=(None, 0)))

    value = over_networks(lambda p, points: functional_call(net, p, (points,)))(params, x)
    grad = lap = hess = None
    if order >= 1:
        grad = over_points(jacrev(at_point, argnums=1))(params, x)
    if order >= 2:
        full = over_points(jacfwd(jacrev(at_point, argnums=1), argnums=1))(params, x)
        lap = weighted_trace(full, laplacian_weights)
        hess = full if hessian else None
    return Jet(value, grad, lap, hess)


def operator_jet(net: torch.nn.Module, x: torch.Tensor,
                 operators: Mapping[str, Mapping[Tuple[int, ...], float]], gradient: bool = True) -> OperatorJet:
    """Value, gradient and each operator ``sum_alpha c_alpha d^alpha u`` of ``net`` at ``x`` by nested
    torch.func (see :func:`siren_fused.operator_jet`): the derivative tensor of each order the operators
    need, ``jacfwd`` over ``jacrev`` as often as the order asks, under ``vmap`` over the points, then
    its entries alpha weighted (``grad`` None unless ``gradient``). Differentiable with respect to x and the
    net's parameters."""
    params = dict(net.named_parameters())
    orders = sorted({sum(alpha) for op in operators.values() for alpha in op} | {1})

    def at_point(p, point):  # [D] -> [out]
        return functional_call(net, p, (point.unsqueeze(0),)).squeeze(0)

    derivatives = {0: functional_call(net, params, (x,))}
    nested = at_point
    for k in range(1, orders[-1] + 1):
        nested = (jacrev if k == 1 else jacfwd)(nested, argnums=1)
        if k in orders:
            derivatives[k] = vmap(nested, in_dims=(None, 0))(params, x)  # [N, out, D, ..., D]

    def partial(alpha: Tuple[int, ...]) -> torch.Tensor:
        index = [k for k, a in enumerate(alpha) for _ in range(a)]
        return derivatives[len(index)][(slice(None), slice(None), *index)]

    fields = {name: sum(c * partial(alpha) for alpha, c in op.items()) for name, op in operators.items()}
    return OperatorJet(derivatives[0], derivatives[1] if gradient else None, fields)
