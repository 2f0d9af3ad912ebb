"""Fitting latents: functa's inner loop. Each image's latent starts at zero and takes a few plain gradient steps on
its own reconstruction error, the shared network fixed; the meta-learned initialisation is the shared network and
latent-to-shift map that make those few steps go far."""

from __future__ import annotations

import torch

from .model import LatentModulatedSiren


def image_errors(model: LatentModulatedSiren, grid: torch.Tensor, latents: torch.Tensor, pixels: torch.Tensor,
                 backend: str = "auto") -> torch.Tensor:
    """``[B]``: each image's mean squared error over its pixels ``[B, P, C]``."""
    return (model.render(grid, latents, backend) - pixels).pow(2).mean(dim=(1, 2))


def fit_latents(model: LatentModulatedSiren, grid: torch.Tensor, pixels: torch.Tensor, steps: int, lr: float,
                backend: str = "auto") -> torch.Tensor:
    """``[B, latent]``: the latents after ``steps`` gradient steps of size ``lr`` from zero, each on its own image's
    error (their sum: no image's step depends on another's). Detached: the outer step is first order."""
    latents = pixels.new_zeros(pixels.shape[0], model.latent)
    for _ in range(steps):
        latents.requires_grad_(True)
        with torch.enable_grad():
            (gradient,) = torch.autograd.grad(image_errors(model, grid, latents, pixels, backend).sum(), latents)
        latents = (latents - lr * gradient).detach()
    return latents
