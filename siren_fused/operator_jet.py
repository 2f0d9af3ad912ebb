"""The public API of orders 3 and 4: linear differential operators of a SIREN at many points.

``siren_fused.operator_jet(net, x, {"name": {alpha: c, ...}, ...})`` returns the value, the gradient and
each operator ``sum_alpha c_alpha d^alpha u`` as a field of its own, from one directional jet
(``siren_fused.operator_plan`` says which, and what it costs).
"""

from __future__ import annotations

from typing import Dict, Mapping, Tuple

import torch

from . import _extension, reference
from .jet import BACKENDS, fused_supports, network_arguments
from .jet_types import OperatorJet
from .modules import Siren
from .operator_plan import MultiIndex, Operator, OperatorPlan, checked_operators, plan_operators


PlanKey = Tuple[Tuple[Tuple[str, Tuple[Tuple[MultiIndex, float], ...]], ...], int, bool]
_PLANS: Dict[PlanKey, OperatorPlan] = {}


@torch.compiler.assume_constant_result
def _plan(operators: Tuple[Tuple[str, Tuple[Tuple[MultiIndex, float], ...]], ...], in_dims: int,
          gradient: bool) -> OperatorPlan:
    """plan_operators, once for each set of operators (a training loop asks for the same every step); a
    constant to torch.compile, which would otherwise trace its numpy solves (and which does not see through
    functools.lru_cache, hence the dictionary)."""
    key = (operators, in_dims, gradient)
    if key not in _PLANS:
        _PLANS[key] = plan_operators({name: dict(terms) for name, terms in operators}, in_dims, gradient)
    return _PLANS[key]


def planned(checked: Mapping[str, Mapping[MultiIndex, float]], in_dims: int, gradient: bool = True) -> OperatorPlan:
    """The directional jet's plan for operators already through ``checked_operators`` (and the gradient unless
    ``gradient`` is False), made once per set."""
    return _plan(tuple((name, tuple(terms.items())) for name, terms in checked.items()), in_dims, gradient)


def fields_of_packed(plan: OperatorPlan, packed: torch.Tensor) -> OperatorJet:
    """The value, gradient (None where the plan has none) and fields of a packed directional jet
    [components, N, out] laid out as ``plan`` says, combined by the plan's matrices."""
    def matrix(rows):
        return torch.tensor(rows, dtype=packed.dtype, device=packed.device)

    fields = torch.einsum("fc,cno->fno", matrix(plan.field_matrix), packed)
    grad = torch.einsum("kc,cno->nok", matrix(plan.gradient_matrix), packed) if plan.gradient_matrix else None
    return OperatorJet(packed[0], grad, dict(zip(plan.names, fields.unbind(0))))


def _check_net_and_points(net: torch.nn.Module, x: torch.Tensor, backend: str) -> None:
    if not isinstance(net, Siren):
        raise TypeError(f"net must be a siren_fused.Siren, got {type(net).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    param = net.layers[0].linear.weight
    if x.dtype != param.dtype or x.device != param.device:
        raise TypeError(f"x must have the net's dtype {param.dtype} and device {param.device}, got {x.dtype} on "
                        f"{x.device}")
    if x.dim() != 2 or x.shape[1] != net.in_features:
        raise ValueError(f"x must be [N, {net.in_features}] (the net's in_features), got shape {list(x.shape)}")


def fused_operator_jet(net: Siren, x: torch.Tensor, plan: OperatorPlan, cuda_emulated: bool = False) -> OperatorJet:
    """The fields of ``plan`` from the compiled (or emulated CUDA) kernels' directional jet: the packed
    jet [components, N, out] combined by the plan's matrices."""
    weights, biases, omegas = network_arguments(net)
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in weights + biases))
    forward = torch.ops.siren_fused.cuda_emulated_jet_forward if cuda_emulated else torch.ops.siren_fused.jet_forward
    packed, _ = forward(x, weights, biases, omegas, plan.order, False, net.outermost_linear, needs_grad, None,
                        [a for v in plan.directions for a in v], [w for row in plan.top_weights for w in row])
    return fields_of_packed(plan, packed)


def operator_jet(net: Siren, x: torch.Tensor, operators: Mapping[str, Operator], backend: str = "auto",
                 gradient: bool = True) -> OperatorJet:
    """Value, gradient and constant-coefficient linear differential operators of order up to 4.

    Args:
        net: a :class:`siren_fused.Siren`.
        x: points ``[N, in_features]`` with the net's dtype and device.
        operators: ``{name: {alpha: c_alpha}}``: each field ``sum_alpha c_alpha d^alpha u`` for
            multi-indices alpha (tuples of D non-negative ints, ``|alpha| <= 4``; mixed partials and
            any mix of orders, the value's ``(0, ..., 0)`` included). ``siren_fused.biharmonic(D)``,
            ``siren_fused.laplacian_operator(D)`` and ``siren_fused.hessian_diagonal(D)`` build common ones;
            each d^alpha u of a list as its own entry gives the separate terms (u_xxx, u_xxxx) to weight
            by point-dependent coefficients afterwards.
        backend: as :func:`siren_fused.jet` (``"auto"``, ``"fused"``, ``"reference"``: nested torch.func,
            ``"cuda_emulated"``).
        gradient: False where the gradient is not needed: its directions are then left out where the
            operators' own do not span it (u_xxxx of a 2-D net: 5 components instead of 8), and ``grad`` is None.

    Returns:
        :class:`OperatorJet` ``(value [N, out], grad [N, out, D], fields {name: [N, out]})``,
        differentiable with respect to the net's parameters and x (once, on the fused backends).

    The fused kernels carry one directional jet of order K (the highest order asked for) along R
    directions, ``1 + (K - 1) R + M`` components for M operators of order K (``operator_plan``): the
    biharmonic of a 2-D net takes 11, of a 3-D net 20; KdV's u_t + u_xxx on (x, t) 6; the Hessian
    diagonal of a 3-D net 7 (its full Hessian 10). Example, the Kirchhoff plate's Delta^2 u and the
    Laplacian for its boundary condition::

        j = siren_fused.operator_jet(net, x, {"bih": siren_fused.biharmonic(2),
                                              "lap": siren_fused.laplacian_operator(2)})
        loss = ((j.fields["bih"] - f) ** 2).mean()
    """
    _check_net_and_points(net, x, backend)
    checked = checked_operators(operators, x.shape[1])
    plan = planned(checked, x.shape[1], gradient)
    if backend == "cuda_emulated":
        if not _extension.cuda_emulated() or x.dtype != torch.float32 or x.device.type != "cpu":
            raise ValueError("backend='cuda_emulated' needs the emulated CUDA kernels and float32 CPU tensors")
        return fused_operator_jet(net, x, plan, cuda_emulated=True)
    if backend == "reference" or (backend == "auto" and not fused_supports(x)):
        return reference.operator_jet(net, x, checked, gradient)
    if not fused_supports(x):
        _extension.require()
        raise ValueError(f"backend='fused' supports float32/float64 on CPU and float32 on CUDA (when built with "
                         f"CUDA); got {x.dtype} on {x.device}")
    return fused_operator_jet(net, x, plan)

