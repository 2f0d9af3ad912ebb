"""The paper's two published SIREN implementations, written here from their published structure (the notebook
explore_siren.ipynb and the code release's modules.py); any source SIREN's derivatives as its users compute them,
and the check of a fused jet against them.

Only their class names (siren_fused.Siren.from_module recognises them by those), their module nesting, hence
their state-dict keys, and their forward matter, not their initialisation. The notebook's classes are named
Siren and SineLayer, as siren_fused's are: import them under other names.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from conftest import assert_float32_bound, jet_fields, relative_error
from siren_fused import Jet, reference


class SineLayer(nn.Module):
    """The notebook's sine layer: ``sin(omega_0 * linear(x))`` with the Linear under ``.linear``."""

    def __init__(self, in_features: int, out_features: int, omega_0: float) -> None:
        super().__init__()
        self.omega_0 = omega_0
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega_0 * self.linear(x))


class Siren(nn.Module):
    """The notebook's Siren: ``net`` a Sequential of sine layers, the last one a bare nn.Linear when
    ``outermost_linear``; ``forward`` returns the output and the coordinates it differentiates against."""

    def __init__(self, in_features: int, hidden_features: int, hidden_layers: int, out_features: int,
                 outermost_linear: bool = False, first_omega_0: float = 30.0, hidden_omega_0: float = 30.0) -> None:
        super().__init__()
        layers = [SineLayer(in_features, hidden_features, first_omega_0)]
        layers += [SineLayer(hidden_features, hidden_features, hidden_omega_0) for _ in range(hidden_layers)]
        layers.append(nn.Linear(hidden_features, out_features) if outermost_linear
                      else SineLayer(hidden_features, out_features, hidden_omega_0))
        self.net = nn.Sequential(*layers)

    def forward(self, coords: torch.Tensor):
        coords = coords.clone().detach().requires_grad_(True)
        return self.net(coords), coords


class Sine(nn.Module):
    """The code release's activation: omega fixed at 30 for every layer, in its forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(30 * x)


class FCBlock(nn.Module):
    """The code release's FCBlock: ``net`` a Sequential of (Linear, nonlinearity) pairs, the last pair without
    its nonlinearity when ``outermost_linear``. (Its BatchLinear is an nn.Linear subclass: the same keys.)"""

    def __init__(self, in_features: int, out_features: int, num_hidden_layers: int, hidden_features: int,
                 outermost_linear: bool = True, nonlinearity: type = Sine) -> None:
        super().__init__()
        blocks = [nn.Sequential(nn.Linear(in_features, hidden_features), nonlinearity())]
        blocks += [nn.Sequential(nn.Linear(hidden_features, hidden_features), nonlinearity())
                   for _ in range(num_hidden_layers)]
        last = [nn.Linear(hidden_features, out_features)] + ([] if outermost_linear else [nonlinearity()])
        blocks.append(nn.Sequential(*last))
        self.net = nn.Sequential(*blocks)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.net(coords)


class ImageDownsampling(nn.Module):
    """The code release's optional input blur, off unless ``downsample``; no parameters."""

    def __init__(self, downsample: bool = False) -> None:
        super().__init__()
        self.downsample = downsample


class SingleBVPNet(nn.Module):
    """The code release's SingleBVPNet, type='sine': an FCBlock under ``net`` with a linear last layer, called with
    a dict of coordinates and returning one. Only ``mode='mlp'`` feeds the coordinates to it as they are (the
    other modes' encodings are left out here)."""

    def __init__(self, out_features: int = 1, in_features: int = 2, hidden_features: int = 256,
                 num_hidden_layers: int = 3, mode: str = "mlp", downsample: bool = False) -> None:
        super().__init__()
        self.mode = mode
        self.image_downsampling = ImageDownsampling(downsample)
        self.net = FCBlock(in_features, out_features, num_hidden_layers, hidden_features)

    def forward(self, model_input: dict) -> dict:
        coords = model_input["coords"].clone().detach().requires_grad_(True)
        return {"model_in": coords, "model_out": self.net(coords)}


def output_and_coords(source: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The source net's output [N, out] and the coordinates it is differentiable in, called as its users call it:
    SingleBVPNet with a dict, the notebook's Siren returning its coordinates, any other with a tensor."""
    if isinstance(source, SingleBVPNet):
        result = source({"coords": x})
        return result["model_out"], result["model_in"]
    if isinstance(source, Siren):
        return source(x)
    coords = x.clone().detach().requires_grad_(True)
    return source(coords), coords


def source_jet(source: nn.Module, x: torch.Tensor, order: int = 2) -> Jet:
    """The source net's value [N, out], gradient [N, out, in] and (order 2) Laplacian [N, out] by nested autograd
    on its own forward, detached."""
    output, coords = output_and_coords(source, x)
    grad = reference.jacobian(output, coords)
    laplacian = None
    if order == 2:
        laplacian = torch.cat([reference.laplacian(output[:, k : k + 1], coords) for k in range(output.shape[1])],
                              dim=1).detach()
    return Jet(output.detach(), grad.detach(), laplacian)


def assert_jet_matches_source(source: nn.Module, fused_jet: Callable[[nn.Module, torch.Tensor], Jet],
                              x: torch.Tensor) -> None:
    """``fused_jet(source, x)``, the fused jet of a net built from ``source``, against the source's own autograd
    jet (value, gradient, Laplacian): in float64 to 1e-12 (each channel at its own scale), in float32 within the
    suite's bound of the source's own float32 error."""
    source64, x64 = copy.deepcopy(source).double(), x.double()
    truth = source_jet(source64, x64)
    fused64 = fused_jet(source64, x64)
    for name, value in jet_fields(truth):
        assert relative_error(getattr(fused64, name), value) <= 1e-12, f"float64 {name}"
    source32, x32 = copy.deepcopy(source).float(), x.float()
    source32_jet, fused32 = source_jet(source32, x32), fused_jet(source32, x32)
    for name, value in jet_fields(truth):
        assert_float32_bound(getattr(fused32, name), getattr(source32_jet, name), value, f"float32 {name}")
