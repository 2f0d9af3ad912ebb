"""SIREN modules with the initialisation of Sitzmann et al. (NeurIPS 2020)."""

from __future__ import annotations

import math
import re

import torch
from torch import nn

# State-dict keys of the paper's two published SIREN implementations that differ from this Siren's
# ``net.{layer}.linear.{weight,bias}``. The notebook's Siren (explore_siren.ipynb) names its sine layers
# as this one does but stores a linear last layer (outermost_linear=True) as a bare nn.Linear. The code
# release's SingleBVPNet (modules.py, mode='mlp') wraps an FCBlock whose layers are
# Sequential(BatchLinear, Sine) pairs, its last layer always linear.
NOTEBOOK_LINEAR_LAST_LAYER = re.compile(r"net\.(\d+)\.(weight|bias)")
SINGLE_BVP_NET_LAYER = re.compile(r"net\.net\.(\d+)\.0\.(weight|bias)")


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

    def _rename_published_keys(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                               error_msgs) -> None:
        """Lets ``load_state_dict`` take the notebook Siren's and SingleBVPNet's state dicts as they are.

        Renames their keys in place to this Siren's. Their omegas are not in a state dict: build this Siren
        with the same ``first_omega_0`` and ``hidden_omega_0`` (SingleBVPNet's are 30 and 30).
        """
        last_layer = len(self.net) - 1
        for key in [key for key in state_dict if key.startswith(prefix)]:
            name = key[len(prefix):]
            match = SINGLE_BVP_NET_LAYER.fullmatch(name) or NOTEBOOK_LINEAR_LAST_LAYER.fullmatch(name)
            if match is None:
                continue
            layer, parameter = int(match[1]), match[2]
            # Either source's last layer, when it has these keys, is linear.
            if layer == last_layer and not self.outermost_linear:
                error_msgs.append(f"{prefix}{name} is the weight of a linear last layer, but this Siren has a sine "
                                  "last layer: build it with outermost_linear=True")
            state_dict[f"{prefix}net.{layer}.linear.{parameter}"] = state_dict.pop(key)

    @property
    def layers(self) -> list[SineLayer]:
        return list(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must be [N, {self.in_features}], got {list(x.shape)}")
        return self.net(x)
