"""One training step of a SIREN supervised on its value and its Laplacian, through the fused jet.

The step is shared by every training path (single process, DistributedDataParallel): it only
needs a module that maps coordinates to ``(value, laplacian)``, which :class:`ValueAndLaplacian` is.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ...jet import jet
from ...modules import Siren


class ValueAndLaplacian(nn.Module):
    """``coords -> (value, laplacian)`` of a Siren, from the fused jet kernels.

    The jet is computed inside ``forward`` so that wrappers that hook the forward
    (DistributedDataParallel prepares its gradient all-reduce there) see it.
    """

    def __init__(self, siren: Siren, backend: str = "fused") -> None:
        super().__init__()
        self.siren = siren
        self.backend = backend

    def forward(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        result = jet(self.siren, coords, order=2, backend=self.backend)
        return result.value, result.laplacian


class JetFitLoss(NamedTuple):
    """The training loss and its two terms (each a mean over the points)."""

    total: torch.Tensor
    value_mse: torch.Tensor
    laplacian_mse: torch.Tensor


def jet_fit_loss(value: torch.Tensor, laplacian: torch.Tensor, targets: torch.Tensor,
                 laplacian_weight: float) -> JetFitLoss:
    """``mse(value) + laplacian_weight * mse(laplacian)`` against ``targets[:, 0]`` and ``targets[:, 1]``.

    Both terms are means, so the mean of equal-size shards' losses is the full data's loss
    (what makes data-parallel gradient averaging exact).
    """
    value_mse = torch.mean((value[:, 0] - targets[:, 0]) ** 2)
    laplacian_mse = torch.mean((laplacian[:, 0] - targets[:, 1]) ** 2)
    return JetFitLoss(value_mse + laplacian_weight * laplacian_mse, value_mse, laplacian_mse)


def train_step(model: nn.Module, coords: torch.Tensor, targets: torch.Tensor, optimizer: torch.optim.Optimizer,
               laplacian_weight: float) -> JetFitLoss:
    """One optimiser step on the jet-fitting loss; returns the loss terms, detached.

    ``model`` maps coords to ``(value, laplacian)``: a :class:`ValueAndLaplacian`, or one wrapped
    in DistributedDataParallel (whose backward then averages the gradients across processes).
    """
    optimizer.zero_grad(set_to_none=True)
    value, laplacian = model(coords)
    loss = jet_fit_loss(value, laplacian, targets, laplacian_weight)
    loss.total.backward()
    optimizer.step()
    return JetFitLoss(*(term.detach() for term in loss))
