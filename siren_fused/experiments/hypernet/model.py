"""The networks of the paper's Sec. 4.4: a set encoder over context pixels, a hypernetwork that maps its latent
code to every parameter of a decoder, and the decoders it predicts (a SIREN, or the ReLU + positional-encoding
baseline), evaluated for a whole batch of predicted networks at once.

Layouts follow the paper's code release (``meta_modules.py``, ``modules.py``): the set encoder is four sine
layers (``2 + C -> L``, two ``L -> L`` hidden, ``L -> L``), every one initialised with the SIREN hidden-layer rule,
mean-pooled over the context pixels a mask keeps; the hypernetwork is one ReLU MLP ``L -> H -> H -> numel`` per
decoder parameter tensor, its last layer's weights a hundredth of Kaiming's so the predicted parameters start
near its bias.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional

import torch
from torch import nn

from ... import reference
from ...jet import jet
from ...modules import Siren
from ..baselines import ActivationMLP, ReluPE, nyquist_frequencies

DECODERS = ("siren", "relu_pe")
DECODER_TITLES = {"siren": "SIREN", "relu_pe": "ReLU P.E."}
IN_FEATURES = 2  # (row, column)
LAST_LAYER_SCALE = 1e-2  # the release divides the last layer's Kaiming-normal weights by 100


def build_decoder(kind: str, hidden_features: int, hidden_layers: int, channels: int, size: int) -> nn.Module:
    """The network whose parameters the hypernetwork predicts: ``2 -> hidden x layers -> channels``.

    The baseline encodes (row, column) with the paper's Nyquist-rate number of frequencies for ``size`` pixels
    a side (3 at 32 pixels, as the release's ``PosEncodingNeRF``)."""
    if kind == "siren":
        return Siren(IN_FEATURES, hidden_features, hidden_layers, channels)
    if kind == "relu_pe":
        return ReluPE(IN_FEATURES, hidden_features, hidden_layers, channels, frequencies=nyquist_frequencies(size))
    raise ValueError(f"decoder must be one of {DECODERS}, got {kind!r}")


def decode(net: nn.Module, coords: torch.Tensor, params: Mapping[str, torch.Tensor],
           backend: str = "auto") -> torch.Tensor:
    """The values ``[B, N, out]`` of B decoders that share ``net``'s architecture and take their parameters from
    ``params`` (names of ``net.named_parameters()`` to tensors with a leading batch dimension B), at ``coords``
    ``[B, N, 2]`` or ``[N, 2]``. Gradients flow into the ``params`` tensors: that is how the hypernetwork trains.

    A SIREN's B networks run through the fused kernels in one call (``siren_fused.jet``'s ``params``, with
    ``backend`` its jet backend); the baseline through ``functional_call`` under ``vmap`` (the reference's
    batched route, which takes any module).
    """
    if isinstance(net, Siren):
        return jet(net, coords, order=0, params=params, backend=backend).value
    return reference.functional_jet(net, params, params.keys(), coords, order=0).value


class SetEncoder(nn.Module):
    """A latent code ``[B, latent]`` from a set of context pixels: sine layers on each (row, column, values)
    pair, averaged over the pairs the mask keeps.

    The layers are a :class:`siren_fused.Siren` with a sine last layer; every layer, the first too, takes the
    hidden-layer initialisation, as the release's ``SetEncoder`` does."""

    def __init__(self, channels: int, latent: int, hidden_layers: int = 2, omega_0: float = 30.0) -> None:
        super().__init__()
        self.in_features = IN_FEATURES + channels
        self.net = Siren(self.in_features, latent, hidden_layers, latent, first_omega_0=omega_0,
                         hidden_omega_0=omega_0, outermost_linear=False)
        first = self.net.layers[0]
        with torch.no_grad():
            bound = math.sqrt(6.0 / first.in_features) / omega_0
            first.linear.weight.uniform_(-bound, bound)

    def forward(self, coords: torch.Tensor, values: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``coords [B, M, 2]``, ``values [B, M, C]``, ``mask [B, M]`` (true or 1 for the pairs to pool; None: all).

        Masked-out pairs contribute nothing, whatever their values; each image needs at least one kept pair."""
        if coords.shape[:2] != values.shape[:2] or coords.shape[-1] + values.shape[-1] != self.in_features:
            raise ValueError(f"coords [B, M, {IN_FEATURES}] and values [B, M, {self.in_features - IN_FEATURES}] "
                             f"expected, got {list(coords.shape)} and {list(values.shape)}")
        pairs = torch.cat([coords, values], dim=-1)
        embedded = self.net(pairs.reshape(-1, self.in_features)).reshape(*pairs.shape[:2], -1)
        if mask is None:
            return embedded.mean(dim=1)
        weights = mask.to(embedded.dtype).unsqueeze(-1)
        counts = weights.sum(dim=1)
        if bool((counts == 0).any()):
            raise ValueError("every image needs at least one context pixel, got a mask with none")
        # where, not a product: a masked pair's embedding is dropped even when it is not finite.
        return torch.where(weights > 0, embedded, 0.0).sum(dim=1) / counts


class HyperNetwork(nn.Module):
    """One ReLU MLP ``latent -> hidden -> hidden -> numel`` per parameter tensor of ``decoder``; ``forward(z)``
    maps ``z [B, latent]`` to ``{name: [B, *shape]}`` for every name of ``decoder.named_parameters()``.

    The last layer of each MLP starts with weights a hundredth of Kaiming's (the release's) and its bias at
    ``decoder``'s own initial values of that tensor, so every predicted decoder starts as a freshly initialised
    network of its kind plus a latent-dependent part (about as large as a SIREN's initial hidden weights).
    The release draws that bias from U(-1/n, 1/n) with n the decoder layer's fan-in: a SIREN's first-layer
    rule, and close to its hidden-layer one; taking the decoder's own initialisation treats the baseline alike."""

    def __init__(self, decoder: nn.Module, latent: int, hidden: int, hidden_layers: int = 1) -> None:
        super().__init__()
        self.shapes = {name: tuple(parameter.shape) for name, parameter in decoder.named_parameters()}
        # ModuleDict keys cannot contain dots; the decoder's names keep theirs in self.shapes.
        self.nets = nn.ModuleDict()
        for name, parameter in decoder.named_parameters():
            mlp = ActivationMLP(latent, hidden, hidden_layers, parameter.numel(), nn.ReLU)
            layers = [module for module in mlp.modules() if isinstance(module, nn.Linear)]
            with torch.no_grad():
                for layer in layers:
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                layers[-1].weight.mul_(LAST_LAYER_SCALE)
                layers[-1].bias.copy_(parameter.detach().reshape(-1))
            self.nets[self._key(name)] = mlp

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    def forward(self, z: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {name: self.nets[self._key(name)](z).reshape(z.shape[0], *shape) for name, shape in self.shapes.items()}


class ImageHypernetwork(nn.Module):
    """Set encoder, hypernetwork and the decoder template whose parameters the hypernetwork predicts.

    The template's own parameters are frozen: they only give names and shapes (and the hypernetwork's starting
    bias); every image's decoder takes its parameters from the hypernetwork."""

    def __init__(self, decoder: nn.Module, channels: int, latent: int = 256, hyper_hidden: int = 256,
                 encoder_hidden_layers: int = 2) -> None:
        super().__init__()
        self.channels = channels
        self.encoder = SetEncoder(channels, latent, encoder_hidden_layers)
        self.hypernet = HyperNetwork(decoder, latent, hyper_hidden)
        self.decoder = decoder.requires_grad_(False)

    def forward(self, coords: torch.Tensor, values: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The latent codes ``[B, latent]`` of B context sets, and the decoder parameters predicted from them."""
        z = self.encoder(coords, values, mask)
        return z, self.hypernet(z)

    def reconstruct(self, coords: torch.Tensor, params: Mapping[str, torch.Tensor],
                    backend: str = "auto") -> torch.Tensor:
        """The predicted decoders' values ``[B, N, channels]`` at ``coords``."""
        return decode(self.decoder, coords, params, backend)
