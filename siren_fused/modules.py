"""SIREN modules with the initialisation of Sitzmann et al. (NeurIPS 2020)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

import torch
from torch import nn

if TYPE_CHECKING:
    from .film import Modulation


@dataclass(frozen=True)
class ForeignKeys:
    """State-dict keys of another SIREN implementation that name one of this Siren's linear layers.

    pattern: a key without its prefix; group ``layer`` the layer's index (absent: the last layer), group
    ``kind`` the tensor's (weight or bias).
    layers: which of this Siren's layers such keys may name: "all", "last" or "hidden" (all but the last).
    A key naming another layer is left as it is, so strict loading reports it by its name in the file.
    linear_last: whether the source's last layer, keyed this way, is always linear.
    """

    pattern: re.Pattern
    layers: str
    linear_last: bool

    def layer_of(self, name: str, last_layer: int) -> Optional[Tuple[int, str]]:
        """(layer, kind) that the key ``name`` gives in a Siren whose last layer is ``last_layer``, or None
        where it is not such a key or names no layer of that Siren that these keys may name."""
        match = self.pattern.fullmatch(name)
        if match is None:
            return None
        index = match.groupdict().get("layer")
        layer = last_layer if index is None else int(index)
        allowed = {"all": layer <= last_layer, "last": layer == last_layer, "hidden": layer < last_layer}
        return (layer, match["kind"]) if allowed[self.layers] else None


# The other implementations' keys that differ from this Siren's ``net.{layer}.linear.{weight,bias}``.
FOREIGN_KEYS = (
    # The code release's SingleBVPNet (modules.py, mode='mlp'): an FCBlock whose layers are
    # Sequential(BatchLinear, Sine) pairs, built with a linear last layer.
    ForeignKeys(re.compile(r"net\.net\.(?P<layer>\d+)\.0\.(?P<kind>weight|bias)"), "all", linear_last=True),
    # The notebook's Siren (explore_siren.ipynb) names its sine layers as this one does, but stores a linear
    # last layer (outermost_linear=True) as a bare nn.Linear.
    ForeignKeys(re.compile(r"net\.(?P<layer>\d+)\.(?P<kind>weight|bias)"), "last", linear_last=True),
    # siren-pytorch's SirenNet: its sine layers, then a last layer whose activation (identity by default,
    # final_activation otherwise) its state dict does not hold.
    ForeignKeys(re.compile(r"layers\.(?P<layer>\d+)\.(?P<kind>weight|bias)"), "hidden", linear_last=False),
    ForeignKeys(re.compile(r"last_layer\.(?P<kind>weight|bias)"), "last", linear_last=False),
)


class SineLayer(nn.Module):
    """``sin(omega_0 * (W x + b))``, or ``W x + b`` when ``linear=True``.

    Weights follow the paper: the first layer draws from U(-1/n, 1/n), every later
    layer from U(-sqrt(6/n)/omega_0, sqrt(6/n)/omega_0), with n = in_features. Biases
    keep PyTorch's default initialisation, as the paper's reference code does.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        omega_0: float = 30.0,
        is_first: bool = False,
        linear: bool = False,
        init_omega_0: float | None = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.omega_0 = float(omega_0)
        self.is_first = is_first
        self.linear = nn.Linear(in_features, out_features)
        self.is_linear = linear
        # A linear last layer still takes the hidden layers' omega_0 for its init bound.
        self.reset_parameters(self.omega_0 if init_omega_0 is None else init_omega_0)

    @torch.no_grad()
    def reset_parameters(self, omega_0: float) -> None:
        n = self.in_features
        bound = 1.0 / n if self.is_first else math.sqrt(6.0 / n) / omega_0
        self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        return z if self.is_linear else torch.sin(self.omega_0 * z)

    def extra_repr(self) -> str:
        kind = "linear" if self.is_linear else f"omega_0={self.omega_0}"
        return f"{self.in_features} -> {self.out_features}, {kind}"


class Siren(nn.Module):
    """A SIREN: ``hidden_layers + 2`` linear layers, sine after all but (by default) the last.

    ``Siren(2, 256, 3, 1)`` is the paper's image network (five linear layers).
    Call ``net(x)`` for values, or :func:`siren_fused.jet` for values and derivatives.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        hidden_layers: int,
        out_features: int,
        first_omega_0: float = 30.0,
        hidden_omega_0: float = 30.0,
        outermost_linear: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("hidden_features", hidden_features),
                            ("out_features", out_features)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(hidden_layers, int) or hidden_layers < 0:
            raise ValueError(f"hidden_layers must be an int >= 0, got {hidden_layers!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.outermost_linear = outermost_linear
        layers = [SineLayer(in_features, hidden_features, first_omega_0, is_first=True)]
        layers += [SineLayer(hidden_features, hidden_features, hidden_omega_0) for _ in range(hidden_layers)]
        layers.append(SineLayer(hidden_features, out_features, hidden_omega_0, linear=outermost_linear))
        self.net = nn.Sequential(*layers)
        # The private registration: its public twin only exists from torch 2.5 on, and we support 2.4.
        self._register_load_state_dict_pre_hook(self._rename_published_keys)

    @classmethod
    def from_module(cls, module: nn.Module) -> "Siren":
        """The equivalent Siren of a live SIREN module from another implementation, its weights copied.

        Sizes, omegas, bias use and the last layer's kind are read from ``module`` itself: the code release's
        ``SingleBVPNet`` (``type='sine'``, ``mode='mlp'``) or ``FCBlock``, the notebook's ``Siren``,
        siren-pytorch's ``SirenNet`` (dropout 0), a ``siren_fused.Siren``, or an ``nn.Sequential`` of
        ``nn.Linear`` layers and sine activations (any module computing ``sin(omega x)``; omega is read off
        it). The result has the module's dtype and device and takes the coordinates as a plain tensor, where
        ``SingleBVPNet`` takes a dict and the notebook's ``Siren`` also returns its input. A layer without a
        bias gets a zero bias that does not require grad, so training keeps it zero. siren-pytorch's
        ``forward(x, mods)`` is :func:`siren_fused.modulated_params`. Anything ``Siren`` cannot represent
        (another activation, dropout, several hidden widths or omegas) raises an error naming the layer.
        """
        # Imported here: the reader recognises Siren and SineLayer, so it imports this module.
        from .source_modules import read_siren_layout

        layout = read_siren_layout(module)
        omegas = {} if layout.hidden_omega_0 is None else {"hidden_omega_0": layout.hidden_omega_0}
        first = layout.layers[0].weight
        net = cls(layout.in_features, layout.hidden_features, layout.hidden_layers, layout.out_features,
                  first_omega_0=layout.first_omega_0, outermost_linear=layout.outermost_linear, **omegas)
        net = net.to(dtype=first.dtype, device=first.device)
        with torch.no_grad():
            for layer, source in zip(net.layers, layout.layers):
                for parameter, tensor in ((layer.linear.weight, source.weight), (layer.linear.bias, source.bias)):
                    # A missing bias is a zero that gets no gradient: the function, and its training, stay the source's.
                    parameter.copy_(torch.zeros_like(parameter) if tensor is None else tensor)
                    parameter.requires_grad_(tensor is not None and tensor.requires_grad)
        return net

    def _rename_published_keys(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                               error_msgs) -> None:
        """Lets ``load_state_dict`` take the notebook Siren's, SingleBVPNet's and siren-pytorch SirenNet's state
        dicts as they are.

        Renames their keys in place to this Siren's. Their omegas are not in a state dict, nor, but for a linear
        last layer stored as such, the last layer's kind: build this Siren with the source's ``first_omega_0``,
        ``hidden_omega_0`` and ``outermost_linear``, or use :meth:`from_module`. Errors name the keys as they are
        in the file.
        """
        last_layer = len(self.net) - 1
        for key in [key for key in state_dict if key.startswith(prefix)]:
            name = key[len(prefix):]
            for keys in FOREIGN_KEYS:
                found = keys.layer_of(name, last_layer)
                if found is not None:
                    break
            else:
                continue
            layer, kind = found
            if layer == last_layer and keys.linear_last and not self.outermost_linear:
                error_msgs.append(f"{key} is the {kind} of a linear last layer, but this Siren has a sine last "
                                  "layer: build it with outermost_linear=True")
            tensor, parameter = state_dict.pop(key), getattr(self.net[layer].linear, kind)
            if isinstance(tensor, torch.Tensor) and tensor.shape != parameter.shape:
                error_msgs.append(f"size mismatch for {key}, the {kind} of layer {layer}: shape {list(tensor.shape)} "
                                  f"in the file, {list(parameter.shape)} in this Siren")
                # The parameter keeps its own value: torch then reports this key neither as missing nor as a size
                # mismatch under its renamed name, so the only message names the file's key.
                tensor = parameter.detach()
            state_dict[f"{prefix}net.{layer}.linear.{kind}"] = tensor

    @property
    def layers(self) -> list[SineLayer]:
        return list(self.net)

    def forward(self, x: torch.Tensor, modulation: Optional["Modulation"] = None) -> torch.Tensor:
        """The values at x ``[N, in_features]``; with a :class:`siren_fused.Modulation`, the modulated SIREN's
        (per network: x ``[N, in_features]`` or ``[B, N, in_features]``, values ``[B, N, out_features]``)."""
        if modulation is not None:
            from .film import check_modulation, modulated_forward  # film builds on this module

            check_modulation(self, modulation, x)
            return modulated_forward(self, x, modulation)
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must be [N, {self.in_features}], got {list(x.shape)}")
        return self.net(x)
