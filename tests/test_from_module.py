"""siren_fused.Siren.from_module: the equivalent fused Siren of a live SIREN module of another implementation,
checked against the source module's own forward and autograd derivatives."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import siren_fused
from conftest import random_points, random_siren, siren_pytorch
from published_sirens import FCBlock
from published_sirens import Siren as NotebookSiren
from published_sirens import SingleBVPNet, assert_jet_matches_source, output_and_coords


class ScaledSine(nn.Module):
    """A user's own sine activation, its omega under a name from_module does not know."""

    def __init__(self, frequency: float) -> None:
        super().__init__()
        self.frequency = frequency

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.frequency * x)


SOURCES = {
    "siren-pytorch": lambda: siren_pytorch().SirenNet(2, 32, 3, num_layers=3),  # w0 1 after w0_initial 30
    "siren-pytorch-no-bias-sine-last": lambda: siren_pytorch().SirenNet(
        3, 16, 2, num_layers=2, w0=5.0, w0_initial=20.0, use_bias=False, final_activation=siren_pytorch().Sine(5.0)),
    "single-bvp-net": lambda: SingleBVPNet(out_features=2, in_features=3, hidden_features=32, num_hidden_layers=2),
    "fc-block-sine-last": lambda: FCBlock(2, 1, 1, 16, outermost_linear=False),
    "notebook-linear-last": lambda: NotebookSiren(2, 32, 2, 3, outermost_linear=True, hidden_omega_0=20.0),
    "notebook-sine-last": lambda: NotebookSiren(1, 16, 1, 2, first_omega_0=10.0),  # the class default
    "sequential": lambda: nn.Sequential(nn.Linear(2, 16), ScaledSine(15.0), nn.Linear(16, 16), ScaledSine(3.0),
                                        nn.Dropout(0.0), nn.Linear(16, 2), nn.Identity()),
    "siren-fused": lambda: random_siren(2, 16, 1, 2, seed=4, first_omega_0=10.0, outermost_linear=False,
                                        dtype=torch.float32),
}


@pytest.mark.parametrize("name", SOURCES)
def test_from_module_matches_the_source_and_its_autograd_derivatives(name):
    torch.manual_seed(0)
    source = SOURCES[name]()
    net = siren_fused.Siren.from_module(source)
    x = random_points(64, net.in_features, seed=5, scale=1.0, dtype=torch.float32)
    output, _ = output_and_coords(source, x)
    torch.testing.assert_close(net(x), output, rtol=1e-5, atol=1e-5)
    assert_jet_matches_source(source, lambda module, points: siren_fused.jet(siren_fused.Siren.from_module(module),
                                                                             points, order=2), x)


def test_from_module_reads_sizes_omegas_and_the_last_layers_kind():
    net = siren_fused.Siren.from_module(SOURCES["siren-pytorch-no-bias-sine-last"]())
    assert (net.in_features, net.out_features, len(net.layers), net.outermost_linear) == (3, 2, 3, False)
    assert [layer.omega_0 for layer in net.layers] == [20.0, 5.0, 5.0]
    assert [layer.linear.weight.shape[0] for layer in net.layers] == [16, 16, 2]
    # SingleBVPNet's Sine keeps its 30 in its forward: read off the activation.
    net = siren_fused.Siren.from_module(SOURCES["single-bvp-net"]())
    assert [layer.omega_0 for layer in net.layers] == [30.0, 30.0, 30.0, 30.0] and net.outermost_linear


def test_from_module_copies_the_weights_into_a_new_siren_of_the_sources_dtype():
    source = NotebookSiren(2, 8, 1, 1, outermost_linear=True).double()
    net = siren_fused.Siren.from_module(source)
    for (name, expected), got in zip(source.state_dict().items(), net.state_dict().values()):
        assert got.dtype == torch.float64 and torch.equal(got, expected), name
        assert got.data_ptr() != expected.data_ptr(), f"{name} is shared with the source"


def test_a_network_without_biases_trains_as_the_source_does():
    """The missing biases are zeros that get no gradient: training keeps them zero, and a few steps of a
    Laplacian loss leave the fused net's weights where siren-pytorch's own autograd leaves the source's."""
    torch.manual_seed(0)
    source = siren_pytorch().SirenNet(2, 16, 1, num_layers=2, w0=3.0, use_bias=False).double()
    net = siren_fused.Siren.from_module(source)
    assert all(not layer.linear.bias.requires_grad for layer in net.layers)
    x = random_points(64, 2, seed=6, scale=1.0)
    target = torch.sin(3 * x[:, :1]) * x[:, 1:]
    initial = [layer.linear.weight.detach().clone() for layer in net.layers]
    for model, laplacian in ((source, lambda: siren_fused.reference.laplacian(*output_and_coords(source, x))),
                             (net, lambda: siren_fused.jet(net, x, order=2).laplacian)):
        # Laplacian gradients are in the thousands here: this rate moves each weight by up to about 1e-2 a step.
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6)
        for _ in range(3):
            optimizer.zero_grad()
            ((laplacian() - target) ** 2).mean().backward()
            optimizer.step()
    for source_parameter, layer, start in zip(source.parameters(), net.layers, initial):
        assert (layer.linear.weight - start).abs().max() > 1e-3  # it trained
        torch.testing.assert_close(layer.linear.weight, source_parameter, rtol=1e-12, atol=1e-12)
        assert torch.count_nonzero(layer.linear.bias) == 0


@pytest.mark.parametrize("make, error, message", [
    (lambda: siren_pytorch().SirenNet(2, 8, 1, num_layers=2, dropout=0.1), ValueError,
     r"layers\.0\.dropout \(Dropout\) has p=0\.1: siren_fused\.Siren has no dropout"),
    (lambda: siren_pytorch().SirenNet(2, 8, 1, num_layers=2, final_activation=nn.Sigmoid()), TypeError,
     r"last_layer\.activation \(Sigmoid\) is not a sine activation"),
    (lambda: FCBlock(2, 1, 1, 8, nonlinearity=nn.ReLU), TypeError, r"net\.0\.1 \(ReLU\) is not a sine activation"),
    (lambda: SingleBVPNet(mode="nerf"), ValueError, r"the module \(SingleBVPNet\) has mode='nerf': only mode='mlp'"),
    (lambda: SingleBVPNet(downsample=True), ValueError, r"has downsample=True"),
    (lambda: NotebookSiren(2, 8, 1, 1, first_omega_0=float("nan")), ValueError,
     r"net\.0 \(SineLayer\) has omega_0=nan: expected a finite number"),
    (lambda: nn.Sequential(nn.Linear(2, 8), ScaledSine(30.0), nn.Linear(8, 8), ScaledSine(2.0), nn.Linear(8, 8),
                           ScaledSine(3.0), nn.Linear(8, 1)), ValueError,
     r"the sine after 4 has omega 3\.0 but the one after 2 has 2\.0: siren_fused\.Siren has one omega"),
    (lambda: nn.Sequential(nn.Linear(2, 8), ScaledSine(30.0), nn.Linear(8, 4), ScaledSine(1.0), nn.Linear(4, 1)),
     ValueError, r"2 has 4 outputs but 0 has 8: siren_fused\.Siren has one hidden width"),
    (lambda: nn.Sequential(nn.Linear(2, 8), nn.Linear(8, 8), ScaledSine(1.0), nn.Linear(8, 1)), ValueError,
     r"0 is a linear layer with no sine after it but is not the last layer"),
    (lambda: nn.Sequential(nn.Linear(2, 8), ScaledSine(30.0), ScaledSine(1.0), nn.Linear(8, 1)), ValueError,
     r"2 is a second sine after 0"),
    (lambda: nn.Sequential(ScaledSine(1.0), nn.Linear(2, 8), ScaledSine(1.0), nn.Linear(8, 1)), ValueError,
     r"0 is a sine before any linear layer"),
    (lambda: nn.Sequential(nn.Linear(2, 8), ScaledSine(30.0)), ValueError,
     r"the module has 1 linear layer\(s\): siren_fused\.Siren has at least two"),
    (lambda: nn.Sequential(nn.Linear(2, 8), ScaledSine(30.0), nn.LayerNorm(8), nn.Linear(8, 1)), TypeError,
     r"2 \(LayerNorm\) is not supported: from_module takes the code release's SingleBVPNet"),
    (lambda: nn.Sequential(nn.Linear(2, 8), ScaledSine(30.0), nn.Linear(8, 1).double()), ValueError,
     r"2 is torch\.float64 on cpu but 0 is torch\.float32 on cpu: expected one dtype and device"),
    (lambda: {"net": nn.Linear(2, 1)}, TypeError, r"module must be a torch\.nn\.Module, got dict"),
], ids=["dropout", "sigmoid-last", "relu", "nerf-mode", "downsampling", "nan-omega", "two-hidden-omegas",
        "two-hidden-widths", "no-sine", "two-sines", "sine-first", "one-layer", "layer-norm", "two-dtypes",
        "not-a-module"])
def test_what_siren_cannot_represent_is_refused_naming_the_layer(make, error, message):
    with pytest.raises(error, match=message):
        siren_fused.Siren.from_module(make())
