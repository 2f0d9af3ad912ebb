"""State dicts of the paper's two published SIREN implementations and of siren-pytorch's SirenNet load into
siren_fused.Siren as they are; load errors name the keys as they are in the file."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import siren_fused
from conftest import assert_float32_bound, random_points, siren_pytorch
from published_sirens import Siren as NotebookSiren
from published_sirens import SingleBVPNet, source_jet


def assert_same_function(source: nn.Module, net: siren_fused.Siren, x: torch.Tensor) -> None:
    """In float32 the Siren's outputs equal the source net's (1e-5); its jet's value and gradient are as
    close to the float64 truth as the source's own float32 ones (twice their error plus 1e-6, the suite's
    float32 bound: both round differently, each about 5e-5 off with omega 30)."""
    source32 = source_jet(source, x, order=1)
    torch.testing.assert_close(net(x), source32.value, rtol=1e-5, atol=1e-5)
    truth = source_jet(copy.deepcopy(source).double(), x.double(), order=1)
    with torch.no_grad():
        result = siren_fused.jet(net, x, order=1)
    assert_float32_bound(result.value, source32.value, truth.value, "value")
    assert_float32_bound(result.grad, source32.grad, truth.grad, "gradient")


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


def test_siren_pytorch_checkpoint_loads_and_computes_the_same_function():
    torch.manual_seed(0)
    source = siren_pytorch().SirenNet(2, 32, 2, num_layers=3, w0=2.0, w0_initial=30.0)
    assert "last_layer.weight" in source.state_dict()
    # num_layers sine layers, then an identity last layer: hidden_layers = num_layers - 1, linear last.
    net = siren_fused.Siren(2, 32, 2, 2, first_omega_0=30.0, hidden_omega_0=2.0)
    net.load_state_dict(source.state_dict())
    assert_same_function(source, net, random_points(50, 2, seed=3, scale=1.0, dtype=torch.float32))


def test_checkpoints_load_into_a_siren_inside_another_module():
    torch.manual_seed(0)
    source = nn.ModuleDict({"field": NotebookSiren(2, 8, 1, 1, outermost_linear=True)})
    target = nn.ModuleDict({"field": siren_fused.Siren(2, 8, 1, 1)})
    target.load_state_dict(source.state_dict())
    for (name, expected), got in zip(source.state_dict().items(), target.state_dict().values()):
        assert torch.equal(got, expected), name


def test_a_linear_last_layer_into_a_sine_last_layer_is_refused_by_name_and_kind():
    source = NotebookSiren(2, 8, 1, 1, outermost_linear=True)
    net = siren_fused.Siren(2, 8, 1, 1, outermost_linear=False)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(source.state_dict())
    for kind in ("weight", "bias"):
        assert f"net.2.{kind} is the {kind} of a linear last layer" in str(error.value)
    assert "outermost_linear=True" in str(error.value)


@pytest.mark.parametrize("source, target, message", [
    (lambda: SingleBVPNet(in_features=2, hidden_features=8, num_hidden_layers=2),
     lambda: siren_fused.Siren(2, 16, 2, 1),
     "size mismatch for net.net.0.0.weight, the weight of layer 0: shape [8, 2] in the file, [16, 2] in this Siren"),
    (lambda: siren_pytorch().SirenNet(2, 8, 1, num_layers=2), lambda: siren_fused.Siren(2, 8, 1, 3),
     "size mismatch for last_layer.bias, the bias of layer 2: shape [1] in the file, [3] in this Siren"),
    (lambda: SingleBVPNet(in_features=2, hidden_features=8, num_hidden_layers=3),
     lambda: siren_fused.Siren(2, 8, 2, 1),
     'Unexpected key(s) in state_dict: "net.net.4.0.weight", "net.net.4.0.bias"'),
    (lambda: siren_pytorch().SirenNet(2, 8, 1, num_layers=4), lambda: siren_fused.Siren(2, 8, 2, 1),
     'Unexpected key(s) in state_dict: "layers.3.weight", "layers.3.bias"'),
], ids=["single-bvp-net-width", "siren-pytorch-outputs", "single-bvp-net-depth", "siren-pytorch-depth"])
def test_a_checkpoint_of_another_shape_is_refused_naming_the_files_keys(source, target, message):
    with pytest.raises(RuntimeError) as error:
        target().load_state_dict(source().state_dict())
    assert message in str(error.value)
    assert ".linear." not in str(error.value), "an error names a renamed key, not the file's"
