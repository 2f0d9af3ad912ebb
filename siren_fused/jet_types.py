"""The result type shared by the fused and the reference backends."""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional

import torch


class Jet(NamedTuple):
    """Value and derivatives of a network at N points.

    value:     [N, out]
    grad:      [N, out, in] (order >= 1, else None): the Jacobian
    laplacian: [N, out] (order 2, else None): sum_k a_k d2/dx_k^2, a_k = 1 unless laplacian_weights are given
    hessian:   [N, out, in, in] (order 2 with ``hessian=True``, else None)
    """

    value: torch.Tensor
    grad: Optional[torch.Tensor] = None
    laplacian: Optional[torch.Tensor] = None
    hessian: Optional[torch.Tensor] = None


class OperatorJet(NamedTuple):
    """Value, gradient and linear differential operators of a network at N points
    (:func:`siren_fused.operator_jet`).

    value:  [N, out]
    grad:   [N, out, in]: the Jacobian (None where it was not asked for)
    fields: {name: [N, out]}, one per operator asked for, in the order given
    """

    value: torch.Tensor
    grad: Optional[torch.Tensor]
    fields: Dict[str, torch.Tensor]
