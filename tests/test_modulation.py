"""siren_fused.modulated_params: siren-pytorch's SirenNet.forward(x, mods) as params of the fused jet, checked
against siren-pytorch's own forward and autograd derivatives."""

from __future__ import annotations

from typing import Optional, Sequence

import pytest
import torch
from torch import nn

import siren_fused
from conftest import random_points, relative_error, siren_pytorch
from published_sirens import assert_jet_matches_source, source_jet


class Modulated(nn.Module):
    """A SirenNet called with fixed mods (kept as buffers, so that they follow the net's dtype)."""

    def __init__(self, net: nn.Module, mods: Sequence[Optional[torch.Tensor]]) -> None:
        super().__init__()
        self.net = net
        self.count = len(mods)
        for index, mod in enumerate(mods):
            self.register_buffer(f"mod{index}", mod)

    def mods(self) -> tuple:
        return tuple(getattr(self, f"mod{index}") for index in range(self.count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, self.mods())


def modulated_jet(source: Modulated, x: torch.Tensor) -> siren_fused.Jet:
    net = siren_fused.Siren.from_module(source.net)
    return siren_fused.jet(net, x, order=2, params=siren_fused.modulated_params(net, source.mods()))


def random_mods(count: int, hidden: int, seed: int, *batch: int) -> list:
    """Random factors of both signs (shape [*batch, hidden]), the second layer's left out (None)."""
    g = torch.Generator().manual_seed(seed)
    mods = [torch.randn(*batch, hidden, generator=g, dtype=torch.float64) for _ in range(count)]
    return [None if index == 1 else mod for index, mod in enumerate(mods)]


def test_modulated_params_give_siren_pytorchs_modulated_network():
    torch.manual_seed(0)
    source = Modulated(siren_pytorch().SirenNet(2, 16, 2, num_layers=3, w0=2.0), random_mods(3, 16, seed=1))
    assert_jet_matches_source(source, modulated_jet, random_points(64, 2, seed=2, scale=1.0))


def test_one_tensor_modulates_every_hidden_layer_as_siren_pytorch_does():
    torch.manual_seed(0)
    source = siren_pytorch().SirenNet(2, 16, 1, num_layers=3).double()
    mod = random_mods(1, 16, seed=3)[0]
    x = random_points(32, 2, seed=4, scale=1.0)
    net = siren_fused.Siren.from_module(source)
    fused = siren_fused.jet(net, x, order=0, params=siren_fused.modulated_params(net, mod))
    assert relative_error(fused.value, source(x, mod)) <= 1e-12


def test_batched_mods_give_one_network_per_latent():
    torch.manual_seed(0)
    source = siren_pytorch().SirenNet(2, 16, 1, num_layers=3, w0=2.0).double()
    mods = random_mods(3, 16, 5, 4)  # B = 4 latents' factors, each [4, 16]
    x = random_points(32, 2, seed=6, scale=1.0)
    net = siren_fused.Siren.from_module(source)
    fused = siren_fused.jet(net, x, order=2, params=siren_fused.modulated_params(net, mods))
    for b in range(4):
        truth = source_jet(Modulated(source, [None if mod is None else mod[b] for mod in mods]), x)
        for name in ("value", "grad", "laplacian"):
            assert relative_error(getattr(fused, name)[b], getattr(truth, name)) <= 1e-12, (b, name)


def test_gradients_reach_the_mods_as_through_siren_pytorch():
    torch.manual_seed(0)
    source = siren_pytorch().SirenNet(2, 16, 1, num_layers=2, w0=2.0).double()
    mods = [random_mods(2, 16, seed=7)[0].requires_grad_(), None]
    x = random_points(32, 2, seed=8, scale=1.0)
    net = siren_fused.Siren.from_module(source)
    fused = siren_fused.jet(net, x, order=2, params=siren_fused.modulated_params(net, mods)).laplacian
    coords = x.clone().requires_grad_()
    own = siren_fused.reference.laplacian(source(coords, tuple(mods)), coords)
    fused_grad, own_grad = (torch.autograd.grad((laplacian ** 2).mean(), mods[0])[0] for laplacian in (fused, own))
    assert relative_error(fused_grad, own_grad) <= 1e-12


@pytest.mark.parametrize("mods, error, message", [
    ([None], ValueError, r"mods must have one entry per hidden layer \(2\), got 1"),
    ("ab", TypeError, r"mods must be a tensor or a sequence of tensors or None, got str"),
    ([None, 1.0], TypeError, r"mods\[1\] must be a tensor or None, got float"),
    ([None, torch.ones(7)], ValueError, r"mods\[1\] must be \[8\] or \[B, 8\] \(the net's hidden_features\)"),
    ([torch.ones(8, dtype=torch.float64), None], ValueError, r"mods\[0\] is torch\.float64 on cpu but the net's"),
], ids=["count", "string", "number", "width", "dtype"])
def test_bad_mods_are_refused_by_name(mods, error, message):
    with pytest.raises(error, match=message):
        siren_fused.modulated_params(siren_fused.Siren(2, 8, 1, 1), mods)
