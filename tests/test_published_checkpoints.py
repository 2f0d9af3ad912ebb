"""State dicts of the paper's two published SIREN implementations load into siren_fused.Siren as they are.

Both source classes are written here from their published structure (the notebook explore_siren.ipynb and
the code release's modules.py): only their module nesting, hence their state-dict keys, and their forward
matter, not their initialisation.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import siren_fused
from conftest import assert_float32_bound, fused_available, random_points


class NotebookSineLayer(nn.Module):
    """The notebook's sine layer: ``sin(omega_0 * linear(x))`` with the Linear under ``.linear``."""

    def __init__(self, in_features: int, out_features: int, omega_0: float) -> None:
        super().__init__()
        self.omega_0 = omega_0
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega_0 * self.linear(x))


class NotebookSiren(nn.Module):
    """The notebook's Siren: ``net`` a Sequential of sine layers, the last one a bare nn.Linear when
    ``outermost_linear``; ``forward`` returns the output and the coordinates it differentiates against."""

    def __init__(self, in_features: int, hidden_features: int, hidden_layers: int, out_features: int,
                 outermost_linear: bool = False, first_omega_0: float = 30.0, hidden_omega_0: float = 30.0) -> None:
        super().__init__()
        layers = [NotebookSineLayer(in_features, hidden_features, first_omega_0)]
        layers += [NotebookSineLayer(hidden_features, hidden_features, hidden_omega_0) for _ in range(hidden_layers)]
        layers.append(nn.Linear(hidden_features, out_features) if outermost_linear
                      else NotebookSineLayer(hidden_features, out_features, hidden_omega_0))
        self.net = nn.Sequential(*layers)

    def forward(self, coords: torch.Tensor):
        coords = coords.clone().detach().requires_grad_(True)
        return self.net(coords), coords


class Sine(nn.Module):
    """The code release's activation: omega fixed at 30 for every layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(30 * x)


class FCBlock(nn.Module):
    """The code release's FCBlock with the sine nonlinearity: ``net`` a Sequential of (Linear, Sine) pairs, the
    last pair without its Sine. (Its BatchLinear is an nn.Linear subclass: the same state-dict keys.)"""

    def __init__(self, in_features: int, out_features: int, num_hidden_layers: int, hidden_features: int) -> None:
        super().__init__()
        blocks = [nn.Sequential(nn.Linear(in_features, hidden_features), Sine())]
        blocks += [nn.Sequential(nn.Linear(hidden_features, hidden_features), Sine()) for _ in range(num_hidden_layers)]
        blocks.append(nn.Sequential(nn.Linear(hidden_features, out_features)))
        self.net = nn.Sequential(*blocks)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.net(coords)


class SingleBVPNet(nn.Module):
    """The code release's SingleBVPNet, type='sine', mode='mlp': an FCBlock under ``net``, called with a
    dict of coordinates and returning one."""

    def __init__(self, out_features: int = 1, in_features: int = 2, hidden_features: int = 256,
                 num_hidden_layers: int = 3) -> None:
        super().__init__()
        self.net = FCBlock(in_features, out_features, num_hidden_layers, hidden_features)

    def forward(self, model_input: dict) -> dict:
        coords = model_input["coords"].clone().detach().requires_grad_(True)
        return {"model_in": coords, "model_out": self.net(coords)}


def value_and_gradient(source: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The source net's output [N, out] and its gradient [N, out, in] by autograd, as its users compute them."""
    if isinstance(source, SingleBVPNet):
        result = source({"coords": x})
        output, coords = result["model_out"], result["model_in"]
    else:
        output, coords = source(x)
    grad = torch.stack([torch.autograd.grad(output[:, k].sum(), coords, retain_graph=True)[0]
                        for k in range(output.shape[1])], dim=1)
    return output.detach(), grad


def assert_same_function(source: nn.Module, net: siren_fused.Siren, x: torch.Tensor) -> None:
    """In float32 the Siren's outputs equal the source net's (1e-5); its fused jet's value and gradient are as
    close to the float64 truth as the source's own float32 ones (twice their error plus 1e-6, the suite's
    float32 bound: both round differently, each about 5e-5 off with omega 30)."""
    value32, grad32 = value_and_gradient(source, x)
    torch.testing.assert_close(net(x), value32, rtol=1e-5, atol=1e-5)
    if not fused_available("cpu"):
        return
    value64, grad64 = value_and_gradient(copy.deepcopy(source).double(), x.double())
    with torch.no_grad():
        result = siren_fused.jet(net, x, order=1, backend="fused")
    assert_float32_bound(result.value, value32, value64, "value")
    assert_float32_bound(result.grad, grad32, grad64, "gradient")


@pytest.mark.parametrize("outermost_linear", [True, False])
def test_notebook_siren_checkpoint_loads_and_computes_the_same_function(outermost_linear):
    torch.manual_seed(0)
    source = NotebookSiren(2, 32, 2, 3, outermost_linear, first_omega_0=30.0, hidden_omega_0=20.0)
    if outermost_linear:
        assert "net.3.weight" in source.state_dict()  # the bare nn.Linear last layer
    net = siren_fused.Siren(2, 32, 2, 3, first_omega_0=30.0, hidden_omega_0=20.0, outermost_linear=outermost_linear)
    net.load_state_dict(source.state_dict())
    assert_same_function(source, net, random_points(50, 2, seed=1, scale=1.0, dtype=torch.float32))


def test_single_bvp_net_checkpoint_loads_and_computes_the_same_function():
    torch.manual_seed(0)
    source = SingleBVPNet(out_features=1, in_features=3, hidden_features=32, num_hidden_layers=3)
    assert "net.net.4.0.weight" in source.state_dict()
    net = siren_fused.Siren(3, 32, 3, 1)  # omega 30 everywhere, linear last layer: SingleBVPNet's
    net.load_state_dict(source.state_dict())
    assert_same_function(source, net, random_points(50, 3, seed=2, scale=1.0, dtype=torch.float32))


def test_checkpoints_load_into_a_siren_inside_another_module():
    torch.manual_seed(0)
    source = nn.ModuleDict({"field": NotebookSiren(2, 8, 1, 1, outermost_linear=True)})
    target = nn.ModuleDict({"field": siren_fused.Siren(2, 8, 1, 1)})
    target.load_state_dict(source.state_dict())
    for (name, expected), got in zip(source.state_dict().items(), target.state_dict().values()):
        assert torch.equal(got, expected), name


def test_a_linear_last_layer_into_a_sine_last_layer_is_refused_by_name():
    source = NotebookSiren(2, 8, 1, 1, outermost_linear=True)
    net = siren_fused.Siren(2, 8, 1, 1, outermost_linear=False)
    with pytest.raises(RuntimeError, match="net.2.weight is the weight of a linear last layer.*outermost_linear=True"):
        net.load_state_dict(source.state_dict())


def test_a_checkpoint_of_another_size_is_refused_by_load_state_dict():
    source = SingleBVPNet(in_features=2, hidden_features=8, num_hidden_layers=2)
    with pytest.raises(RuntimeError, match="net.0.linear.weight: copying a param with shape"):
        siren_fused.Siren(2, 16, 2, 1).load_state_dict(source.state_dict())
