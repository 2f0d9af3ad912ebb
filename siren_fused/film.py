"""Modulated SIRENs: shared weights, and a FiLM shift (and optionally scale) of each hidden layer.

The formula is functa's ``LatentModulatedSiren`` (Dupont et al., 2022; ``function_reps.py``): hidden layer l
(every layer but the last) computes

    h_l = sin(omega_l * (gamma_l * (W_l h_{l-1} + b_l) + beta_l))

with the shift beta_l and the scale gamma_l per feature, added and multiplied after the bias and before
omega_l; the last layer is ``W h + b`` (or a sine, unmodulated, for ``outermost_linear=False``). functa's
network is ``Siren(in, width, depth - 2, out, first_omega_0=w0, hidden_omega_0=w0)``; its ``+ 0.5`` on the output
is the caller's (or folded into the last bias). functa's default modulates shifts only: no scales, gamma = 1.

A :class:`Modulation` holds beta_l (and gamma_l) for every hidden layer, either per network (each ``[B, width]``:
B networks that share the weights, such as B images' latents mapped to shifts) or per point (each
``[N, width]``, one network). The fused kernels run the B networks' points through each shared weight as one
GEMM, and the modulation enters the sine rule's argument: the shift moves the pre-activation's value, the scale
multiplies its value and every derivative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
from torch.func import jacfwd, jacrev, vmap

from .jet_types import Jet
from .modules import Siren


@dataclass(frozen=True)
class Modulation:
    """Shifts beta_l and, optionally, scales gamma_l of a SIREN's hidden layers (see the module docstring).

    shifts: one tensor per hidden layer (every layer but the last), in order, each ``[B, width]`` (B networks)
        or, with ``per_point=True``, ``[N, width]`` (one row per point of x ``[N, D]``).
    scales: None (gamma = 1), or tensors shaped like ``shifts``.
    per_point: whether a row belongs to a point rather than to a network.
    """

    shifts: Sequence[torch.Tensor]
    scales: Optional[Sequence[torch.Tensor]] = None
    per_point: bool = False

    @property
    def networks(self) -> Optional[int]:
        """B for modulations per network, None per point."""
        return None if self.per_point else self.shifts[0].shape[0]

    def tensors(self) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """(shifts, scales) as lists, scales empty without scales: what the ops take."""
        return list(self.shifts), [] if self.scales is None else list(self.scales)


def check_modulation(net: Siren, modulation: Modulation, x: torch.Tensor) -> None:
    """Raises an error naming x or the entry where ``modulation`` does not fit ``net`` and x's shape, dtype and
    device."""
    if not isinstance(modulation, Modulation):
        raise TypeError(f"modulation must be a siren_fused.Modulation, got {type(modulation).__name__}")
    if x.dim() not in ((2,) if modulation.per_point else (2, 3)) or x.shape[-1] != net.in_features:
        raise ValueError(f"x must be [N, {net.in_features}]" + ("" if modulation.per_point else
                         f" or, per network, [B, N, {net.in_features}]") + f", got shape {list(x.shape)}")
    hidden = len(net.layers) - 1
    for name in ("shifts", "scales"):
        tensors = getattr(modulation, name)
        if tensors is None and name == "scales":
            continue
        if isinstance(tensors, torch.Tensor) or not isinstance(tensors, Sequence):
            raise TypeError(f"modulation.{name} must be a sequence of tensors, one per hidden layer, got "
                            f"{type(tensors).__name__}")
        if len(tensors) != hidden:
            raise ValueError(f"modulation.{name} must have one tensor per hidden layer ({hidden}: every layer but "
                             f"the last), got {len(tensors)}")
        for index, (tensor, layer) in enumerate(zip(tensors, net.layers)):
            if not isinstance(tensor, torch.Tensor):
                raise TypeError(f"modulation.{name}[{index}] must be a torch.Tensor, got {type(tensor).__name__}")
            if tensor.dtype != x.dtype or tensor.device != x.device:
                raise TypeError(f"modulation.{name}[{index}] must have x's dtype {x.dtype} on {x.device}, got "
                                f"{tensor.dtype} on {tensor.device}")
            width = layer.out_features
            if modulation.per_point:
                if x.dim() != 2 or tensor.shape != (x.shape[0], width):
                    raise ValueError(f"modulation.{name}[{index}] per point must be [N, {width}] for x [N, D] "
                                     f"(N = {x.shape[0] if x.dim() == 2 else 'x must be 2-D'}), got "
                                     f"{list(tensor.shape)}")
            elif tensor.dim() != 2 or tensor.shape[1] != width or tensor.shape[0] < 1:
                raise ValueError(f"modulation.{name}[{index}] must be [B, {width}] (B >= 1 networks; the layer's "
                                 f"width {width}), got {list(tensor.shape)}")
            elif tensor.shape[0] != modulation.shifts[0].shape[0]:
                raise ValueError(f"every modulation tensor must hold the same number of networks B, got "
                                 f"{modulation.shifts[0].shape[0]} in shifts[0] and {tensor.shape[0]} in "
                                 f"{name}[{index}]")
    if not modulation.per_point and x.dim() == 3 and x.shape[0] != modulation.networks:
        raise ValueError(f"x [B, N, D] must have the modulation's B = {modulation.networks} networks, got shape "
                         f"{list(x.shape)}")


def modulated_forward(net: Siren, x: torch.Tensor, modulation: Modulation) -> torch.Tensor:
    """The modulated SIREN's values in plain PyTorch: ``[B, N, out]`` per network (x ``[N, D]`` or
    ``[B, N, D]``), ``[N, out]`` per point."""
    shifts, scales = modulation.tensors()

    def rows(t: torch.Tensor) -> torch.Tensor:  # a network's row applies to all its points: [B, 1, width]
        return t if modulation.per_point else t.unsqueeze(-2)

    h = x
    for index, layer in enumerate(net.layers):
        z = layer.linear(h)
        if index < len(shifts):
            z = (rows(scales[index]) * z if scales else z) + rows(shifts[index])
        h = z if layer.is_linear else torch.sin(layer.omega_0 * z)
    return h


def reference_jet(net: Siren, x: torch.Tensor, modulation: Modulation, order: int, hessian: bool,
                  laplacian_weights: Optional[Sequence[float]]) -> Jet:
    """The modulated jet by torch.func (``jacrev``, ``jacfwd`` over it for second derivatives, ``vmap`` over
    the points and the networks), as :func:`siren_fused.jet` returns it."""
    from .reference import weighted_trace

    shifts, scales = modulation.tensors()

    def at_point(point, point_shifts, point_scales):  # [D] and each layer's [width] -> [out]
        one = Modulation([s.unsqueeze(0) for s in point_shifts],
                         [s.unsqueeze(0) for s in point_scales] or None, per_point=True)
        return modulated_forward(net, point.unsqueeze(0), one).squeeze(0)

    point_rows = 0 if modulation.per_point else None

    def mapped(fn):
        over_points = vmap(fn, in_dims=(0, point_rows, point_rows))
        if modulation.per_point:
            return over_points
        return vmap(over_points, in_dims=(0 if x.dim() == 3 else None, 0, 0))

    value = modulated_forward(net, x, modulation)
    grad = lap = hess = None
    if order >= 1:
        grad = mapped(jacrev(at_point))(x, shifts, scales)
    if order >= 2:
        full = mapped(jacfwd(jacrev(at_point)))(x, shifts, scales)
        lap = weighted_trace(full, laplacian_weights)
        hess = full if hessian else None
    return Jet(value, grad, lap, hess)
