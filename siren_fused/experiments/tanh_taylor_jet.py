"""Linear operators of a tanh MLP by Taylor mode in plain PyTorch: the ``kdv`` and ``plate`` commands' baseline.

Nested torch.func (``siren_fused.reference.operator_jet``) builds each order's whole derivative tensor, one
nested pass per order: a training step of the 64-wide tanh MLP on 640 points took over a second at order 4,
longer than the SIREN's whole fused step ten times over, which made the commands' defaults take most of an hour.
The operators need only the directional derivatives the SIREN's fused jet carries (``operator_plan``): along
each of the plan's R directions v, the derivatives of u(x + s v) in s up to the plan's order, pushed through
each layer (linear in every derivative; tanh by Faa di Bruno's formula). So the baseline computes the same
fields, exactly, in a few batched tensor ops a layer, and trains by plain autograd through them.
"""

from __future__ import annotations

from typing import List, Mapping

import torch
from torch import nn

from ..jet_types import OperatorJet
from ..operator_jet import fields_of_packed, planned
from ..operator_plan import MultiIndex, checked_operators


def _tanh_derivatives(t: torch.Tensor, order: int) -> List[torch.Tensor]:
    """tanh's derivatives 1..order at the points where tanh is ``t``, as polynomials in t."""
    first = 1 - t * t
    derivatives = [first, -2 * t * first, -2 * first * (1 - 3 * t * t), 8 * t * first * (2 - 3 * t * t)]
    return derivatives[:order]


def _tanh_of_series(z: List[torch.Tensor]) -> List[torch.Tensor]:
    """The derivatives 0..K of tanh(z(s)) in s from those of z(s) (K <= 4), by Faa di Bruno's formula."""
    t = torch.tanh(z[0])
    f = _tanh_derivatives(t, len(z) - 1)
    out = [t]
    if len(z) > 1:
        out.append(f[0] * z[1])
    if len(z) > 2:
        out.append(f[1] * z[1] ** 2 + f[0] * z[2])
    if len(z) > 3:
        out.append(f[2] * z[1] ** 3 + 3 * f[1] * z[1] * z[2] + f[0] * z[3])
    if len(z) > 4:
        out.append(f[3] * z[1] ** 4 + 6 * f[2] * z[1] ** 2 * z[2] + f[1] * (4 * z[1] * z[3] + 3 * z[2] ** 2)
                   + f[0] * z[4])
    return out


def directional_series(layers: nn.Sequential, x: torch.Tensor, directions: torch.Tensor,
                       order: int) -> List[torch.Tensor]:
    """The derivatives 0..order of u(x + s v) in s at s = 0 along each direction v [R, D], through ``layers``
    (Linear and Tanh modules): the value [N, out], then each degree's [R, N, out]."""
    value = x
    along = directions[:, None, :].expand(-1, x.shape[0], -1)
    series = [along] + [torch.zeros_like(along)] * (order - 1)  # x + s v is linear in s
    for layer in layers:
        if isinstance(layer, nn.Linear):
            value = layer(value)
            series = [s @ layer.weight.T for s in series]  # the bias is constant in s
        elif isinstance(layer, nn.Tanh):
            value, *series = _tanh_of_series([value] + series)
        else:
            raise TypeError(f"the Taylor-mode baseline takes Linear and Tanh layers, got {type(layer).__name__}")
    return [value] + series


def tanh_operator_jet(net: nn.Module, x: torch.Tensor,
                      operators: Mapping[str, Mapping[MultiIndex, float]]) -> OperatorJet:
    """Value, gradient and each operator ``sum_alpha c_alpha d^alpha u`` (|alpha| <= 4, order >= 2) of a tanh MLP
    (``baselines.ActivationMLP`` with ``nn.Tanh``, its layers in ``net.net``) at ``x`` [N, D]: the fields
    :func:`siren_fused.operator_jet` gives a Siren, from the same plan; differentiable with respect to x and
    the parameters."""
    plan = planned(checked_operators(operators, x.shape[1]), x.shape[1])
    series = directional_series(net.net, x, torch.tensor(plan.directions, dtype=x.dtype), plan.order)
    # The packed layout of operator_plan.taylor_component: the value, each lower degree's R directions in turn,
    # then the top degree collapsed into one component per operator by the plan's weights.
    top = torch.einsum("mr,rno->mno", torch.tensor(plan.top_weights, dtype=x.dtype), series[plan.order])
    packed = torch.cat([series[0][None], *series[1 : plan.order], top])
    return fields_of_packed(plan, packed)
