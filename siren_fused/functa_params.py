"""DeepMind functa's ``LatentModulatedSiren`` parameters (its Haiku layout) as a siren_fused modulated SIREN.

functa (Dupont et al., 2022; ``function_reps.py`` in google-deepmind/functa) trains its model under
``hk.transform``, so its parameters are a dict from Haiku module names to ``{parameter name: array}``. For a
``LatentModulatedSiren(width, depth, out_channels, latent_dim, layer_sizes, w0, modulate_scale, modulate_shift,
use_meta_sgd)`` they are (Haiku names modules built in ``__init__`` ``parent/~/child`` and those built in
``__call__`` ``parent/child``, numbering repeats ``_1``, ``_2``, ...)::

    latent_modulated_siren/~/latent_vector                          latent_vector [latent_dim]
    latent_modulated_siren/~/latent_to_modulation/~/mlp/~/linear_k  w [in, out], b [out]  (k = 0 .. len(layer_sizes))
    latent_modulated_siren/modulated_siren_layer/linear             w [in_features, width], b [width]
    latent_modulated_siren/modulated_siren_layer_i/linear           w [width, width], b [width]  (i = 1 .. depth - 2)
    latent_modulated_siren/modulated_siren_layer_{depth-1}/linear   w [width, out_channels], b [out_channels]
    latent_modulated_siren/~/meta_sgd_lrs                           meta_sgd_lrs [latent_dim]  (with use_meta_sgd)

and its forward is, for a latent z and coordinates x (functa's are in [0, 1]):

    m = MLP(z)                       ReLU between the linear_k layers, none after the last
    layer l < depth - 1:             h = sin(w0 * (scale_l * (h @ w + b) + shift_l))
    last layer:                      out = h @ w + b + 0.5

with m split layer by layer, ``width`` values per modulation: shift-only, shift_l = m[l width : (l + 1) width];
scale-only, scale_l = 1 + the same; with both, scale_l = 1 + m[2 l width : (2 l + 1) width] and shift_l the next
``width`` values. Absent modulations are scale 1, shift 0.

This maps onto ``siren_fused`` with nothing approximated: ``Siren(in_features, width, depth - 2, out_channels,
first_omega_0=w0, hidden_omega_0=w0)`` takes each ``w`` transposed (Haiku's ``hk.Linear`` stores ``[in, out]``,
``nn.Linear`` ``[out, in]``) and ``b`` as it is, the last bias plus functa's 0.5; the modulation is
:class:`siren_fused.Modulation`'s formula ``sin(omega (gamma (W h + b) + beta))`` exactly, which
:class:`LatentToModulation` computes from latents ``[B, latent_dim]``, one network per latent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

import numpy as np
import torch
from torch import nn

from .film import Modulation
from .modules import Siren

ROOT = "latent_modulated_siren"
LATENT = f"{ROOT}/~/latent_vector"
META_SGD_LRS = f"{ROOT}/~/meta_sgd_lrs"
MLP_LAYER = re.compile(re.escape(f"{ROOT}/~/latent_to_modulation/~/mlp/~/linear_") + r"(\d+)")
SIREN_LAYER = re.compile(re.escape(f"{ROOT}/modulated_siren_layer") + r"(?:_(\d+))?/linear")

FunctaParams = Mapping[str, Mapping[str, Any]]


class LatentToModulation(nn.Module):
    """functa's ``LatentToModulation``: an MLP (ReLU between its linear layers) from a latent to the modulations
    of every hidden layer of the SIREN, as a :class:`siren_fused.Modulation` of one network per latent."""

    def __init__(self, latent_dim: int, layer_sizes: List[int], width: int, modulated_layers: int,
                 modulate_scale: bool, modulate_shift: bool) -> None:
        super().__init__()
        if not (modulate_scale or modulate_shift):
            raise ValueError("a LatentToModulation modulates the scale, the shift or both")
        self.width = width
        self.modulated_layers = modulated_layers
        self.modulate_scale = modulate_scale
        self.modulate_shift = modulate_shift
        sizes = [latent_dim, *layer_sizes, modulated_layers * width * (modulate_scale + modulate_shift)]
        layers: List[nn.Module] = []
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.ReLU()] if index > 0 else []
            layers.append(nn.Linear(fan_in, fan_out))
        self.mlp = nn.Sequential(*layers)

    def forward(self, latents: torch.Tensor) -> Modulation:
        """The modulation of the networks of ``latents`` ``[B, latent_dim]``: each hidden layer's ``[B, width]``
        shifts (zeros without shift modulation) and scales (None without scale modulation)."""
        per_layer = self.mlp(latents).unflatten(-1, (self.modulated_layers, -1, self.width))
        scales = shifts = None
        if self.modulate_scale:
            scales = list((per_layer[..., 0, :] + 1).unbind(-2))
        if self.modulate_shift:
            shifts = list(per_layer[..., -1, :].unbind(-2))
        else:
            shifts = [torch.zeros_like(scale) for scale in scales]
        return Modulation(shifts, scales)


@dataclass
class FunctaModel:
    """A functa ``LatentModulatedSiren`` loaded by :func:`from_functa_params`.

    siren: the shared SIREN (functa's output offset of 0.5 in its last bias).
    latent_to_modulation: latents ``[B, latent_dim]`` to the :class:`siren_fused.Modulation` of B networks.
    latent: the parameters' ``latent_vector`` ``[latent_dim]`` (functa's meta-learned initial latent).
    meta_sgd_lrs: the per-latent-entry inner learning rates of meta-SGD, where the parameters hold them.
    """

    siren: Siren
    latent_to_modulation: LatentToModulation
    latent: torch.Tensor
    meta_sgd_lrs: Optional[torch.Tensor] = None

    def modulation(self, latents: Optional[torch.Tensor] = None) -> Modulation:
        """The modulation of ``latents`` ``[B, latent_dim]``; by default of the parameters' own latent (B = 1)."""
        return self.latent_to_modulation(self.latent.unsqueeze(0) if latents is None else latents)


def _tensor(params: FunctaParams, module: str, name: str, dtype: torch.dtype) -> torch.Tensor:
    if module not in params or name not in params[module]:
        raise KeyError(f"functa parameters have no {module!r} {{{name!r}: ...}}")
    # np.array copies: JAX's arrays are read-only, which torch would share (and warn about) without a copy.
    return torch.from_numpy(np.array(params[module][name])).to(dtype)


def _numbered(params: FunctaParams, pattern: re.Pattern, what: str) -> List[str]:
    """The module names of ``params`` that ``pattern`` matches, in the order of their number (none: 0)."""
    numbers = {int(m.group(1) or 0): name for name in params if (m := pattern.fullmatch(name))}
    if sorted(numbers) != list(range(len(numbers))) or not numbers:
        raise ValueError(f"functa parameters must number their {what} 0, 1, 2, ... without gaps, got "
                         f"{sorted(numbers)}")
    return [numbers[k] for k in range(len(numbers))]


def from_functa_params(params: FunctaParams, w0: float = 30.0, modulate_scale: Optional[bool] = None,
                       dtype: torch.dtype = torch.float32) -> FunctaModel:
    """Loads functa's ``LatentModulatedSiren`` parameters (the module docstring has the layout and the mapping).

    Args:
        params: the Haiku parameters, ``{module name: {parameter name: array}}`` (NumPy or JAX arrays, or anything
            ``numpy.asarray`` takes), as ``hk.transform``'s ``init`` or a functa checkpoint's ``params`` holds them.
        w0: functa's ``w0``, the omega_0 of every sine layer; parameters do not record it. 30 is functa's experiment
            configuration (its class's default is 1).
        modulate_scale: whether the modulations are scales and shifts. With both, the MLP's output has two values a
            hidden unit, which the loader infers; with one it cannot tell functa's default, shifts only (None or
            False), from scales only (True).
        dtype: the dtype of the loaded tensors.

    Returns:
        The :class:`FunctaModel`: ``siren_fused.jet(model.siren, x, order, modulation=model.modulation(latents))``
        is functa's output at x for each latent, with its derivatives.
    """
    known = {LATENT, META_SGD_LRS}
    unknown = [name for name in params if name not in known and not MLP_LAYER.fullmatch(name)
               and not SIREN_LAYER.fullmatch(name)]
    if unknown:
        raise ValueError(f"not functa LatentModulatedSiren parameters: unknown modules {unknown} (expected "
                         f"{ROOT}/modulated_siren_layer*/linear, {ROOT}/~/latent_to_modulation/~/mlp/~/linear_*, "
                         f"{LATENT} and optionally {META_SGD_LRS})")
    siren_layers = _numbered(params, SIREN_LAYER, "modulated_siren_layer modules")
    mlp_layers = _numbered(params, MLP_LAYER, "latent_to_modulation linear_k modules")
    if len(siren_layers) < 2:
        raise ValueError(f"a functa LatentModulatedSiren has depth >= 2 modulated_siren_layer modules, got "
                         f"{len(siren_layers)}")
    weights = [_tensor(params, name, "w", dtype).T for name in siren_layers]
    biases = [_tensor(params, name, "b", dtype) for name in siren_layers]
    width, in_features, out_features = weights[0].shape[0], weights[0].shape[1], weights[-1].shape[0]
    siren = Siren(in_features, width, len(siren_layers) - 2, out_features, first_omega_0=w0, hidden_omega_0=w0)
    siren = siren.to(dtype)
    mlp_weights = [_tensor(params, name, "w", dtype).T for name in mlp_layers]
    mlp_biases = [_tensor(params, name, "b", dtype) for name in mlp_layers]
    modulated_layers = len(siren_layers) - 1
    per_unit, remainder = divmod(mlp_weights[-1].shape[0], modulated_layers * width)
    if remainder or per_unit not in (1, 2):
        raise ValueError(f"the latent_to_modulation MLP's output size {mlp_weights[-1].shape[0]} must be 1 or 2 "
                         f"modulations for each of the {width} units of the {modulated_layers} hidden layers")
    if per_unit == 2 and modulate_scale is False:
        raise ValueError("modulate_scale=False, but the modulation MLP outputs scales and shifts (2 a unit)")
    scaled = per_unit == 2 or bool(modulate_scale)
    to_modulation = LatentToModulation(mlp_weights[0].shape[1], [w.shape[0] for w in mlp_weights[:-1]], width,
                                       modulated_layers, modulate_scale=scaled,
                                       modulate_shift=per_unit == 2 or not scaled).to(dtype)
    linears = [module for module in to_modulation.mlp if isinstance(module, nn.Linear)]
    with torch.no_grad():
        for layer, weight, bias in zip(siren.layers, weights, biases):
            layer.linear.weight.copy_(weight)
            layer.linear.bias.copy_(bias)
        siren.layers[-1].linear.bias.add_(0.5)  # functa's output offset, for targets in [0, 1]
        for linear, weight, bias in zip(linears, mlp_weights, mlp_biases):
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
    lrs = _tensor(params, META_SGD_LRS, "meta_sgd_lrs", dtype) if META_SGD_LRS in params else None
    return FunctaModel(siren, to_modulation, _tensor(params, LATENT, "latent_vector", dtype), lrs)
