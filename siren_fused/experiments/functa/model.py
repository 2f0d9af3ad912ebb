"""functa's LatentModulatedSiren (Dupont et al., 2022) over the fused modulated kernels: one SIREN shared by every
image, each image a latent code that a linear map turns into shifts of the SIREN's hidden layers (functa's
default: shifts only, its ``LatentToModulation`` with no hidden layer)."""

from __future__ import annotations

import torch
from torch import nn

from ...film import Modulation
from ...jet import jet
from ...modules import Siren


class LatentModulatedSiren(nn.Module):
    """``sin(w0 (W h + b + beta_l(z)))`` in each hidden layer, beta(z) = A z + c split by layer; 2-D pixel
    coordinates in, ``channels`` values out."""

    def __init__(self, channels: int, hidden: int, hidden_layers: int, latent: int, w0: float = 30.0) -> None:
        super().__init__()
        self.latent = latent
        self.hidden = hidden
        self.channels = channels
        self.siren = Siren(2, hidden, hidden_layers, channels, first_omega_0=w0, hidden_omega_0=w0)
        self.to_shifts = nn.Linear(latent, hidden * (hidden_layers + 1))

    def modulation(self, latents: torch.Tensor) -> Modulation:
        """Each hidden layer's shifts ``[B, hidden]`` for latents ``[B, latent]``."""
        return Modulation(list(self.to_shifts(latents).split(self.hidden, dim=-1)))

    def render(self, grid: torch.Tensor, latents: torch.Tensor, backend: str = "auto") -> torch.Tensor:
        """``[B, P, channels]``: the images of the B latents at the P points of ``grid`` (one fused call)."""
        return jet(self.siren, grid, 0, backend=backend, modulation=self.modulation(latents)).value
