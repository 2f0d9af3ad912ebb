"""The paper's baseline networks, sized like a Siren: ReLU, ReLU with positional encoding, tanh.

Each takes ``(in_features, hidden_features, hidden_layers, out_features)`` as
:class:`siren_fused.Siren` does, so experiments swap models by name (see :data:`MODELS`).
Their derivatives come from :func:`siren_fused.reference.jet` (autograd), which takes any module.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import torch
from torch import nn

from .. import reference
from ..jet import jet
from ..jet_types import Jet
from ..modules import Siren
from .user_errors import UserError


def _mlp(widths: list[int], activation: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class ActivationMLP(nn.Module):
    """A plain MLP with one activation after every layer but the last."""

    def __init__(self, in_features: int, hidden_features: int, hidden_layers: int, out_features: int,
                 activation: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.net = _mlp([in_features] + [hidden_features] * (hidden_layers + 1) + [out_features], activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PositionalEncoding(nn.Module):
    """x -> [x, sin(2^i pi x), cos(2^i pi x) for i < frequencies], per coordinate."""

    def __init__(self, in_features: int, frequencies: int) -> None:
        super().__init__()
        self.register_buffer("scales", (2.0 ** torch.arange(frequencies)) * math.pi, persistent=False)
        self.out_features = in_features * (1 + 2 * frequencies)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = (x[..., None] * self.scales.to(x.dtype)).flatten(-2)
        return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=-1)


class ReluPE(nn.Module):
    """ReLU MLP on positionally encoded inputs (the paper's 'ReLU P.E.' baseline)."""

    def __init__(self, in_features: int, hidden_features: int, hidden_layers: int, out_features: int,
                 frequencies: int = 10) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.encoding = PositionalEncoding(in_features, frequencies)
        self.mlp = ActivationMLP(self.encoding.out_features, hidden_features, hidden_layers, out_features, nn.ReLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.encoding(x))


def nyquist_frequencies(samples: int) -> int:
    """The paper's number of encoding frequencies for a signal of ``samples`` samples along an axis over [-1, 1]
    (its ``get_num_frequencies_nyquist``): the highest octave below the grid's Nyquist rate, samples / 4."""
    if samples < 4:
        raise SettingsError(f"samples must be >= 4 for a positional encoding below the Nyquist rate, got {samples}")
    return int(math.floor(math.log2(samples / 4)))


MODELS: Dict[str, Callable[[int, int, int, int], nn.Module]] = {
    "siren": Siren,
    "relu": lambda i, h, l, o: ActivationMLP(i, h, l, o, nn.ReLU),
    "relu_pe": ReluPE,
    "tanh": lambda i, h, l, o: ActivationMLP(i, h, l, o, nn.Tanh),
}

# How figures and tables name the models.
MODEL_TITLES = {"siren": "SIREN", "relu": "ReLU", "relu_pe": "ReLU P.E.", "tanh": "tanh"}

def network_jet(net: nn.Module, x: torch.Tensor, order: int, hessian: bool = False, backend: str = "auto",
                laplacian_weights: Optional[Sequence[float]] = None) -> Jet:
    """The jet of any of :data:`MODELS`: :func:`siren_fused.jet` on ``backend`` for a Siren, the autograd
    reference for the others (``backend`` does not apply to them)."""
    if isinstance(net, Siren):
        return jet(net, x, order, hessian, backend=backend, laplacian_weights=laplacian_weights)
    return reference.jet(net, x, order, hessian, laplacian_weights)


class SettingsError(UserError):
    """A training config's setting out of its range: the user's input, which the command line reports as a
    one-line error instead of a traceback."""


def check_settings(config: Any, minimums: Mapping[str, int], unit_intervals: Sequence[str] = ()) -> None:
    """A training config's range checks: each field named in ``minimums`` is at least its minimum, and each
    named in ``unit_intervals`` lies in [0, 1]; a :class:`SettingsError` names the first that does not."""
    for name, minimum in minimums.items():
        if getattr(config, name) < minimum:
            raise SettingsError(f"{name} must be >= {minimum}, got {getattr(config, name)}")
    for name in unit_intervals:
        if not 0 <= getattr(config, name) <= 1:
            raise SettingsError(f"{name} must be in [0, 1], got {getattr(config, name)}")


def check_model_settings(config: Any, minimums: Mapping[str, int], unit_intervals: Sequence[str] = ()) -> None:
    """:func:`check_settings` after checking that ``config.model`` is one of :data:`MODELS`."""
    if config.model not in MODELS:
        raise SettingsError(f"model must be one of {sorted(MODELS)}, got {config.model!r}")
    check_settings(config, minimums, unit_intervals)
