"""Scoring on held-out images, functa's table: test PSNR by the number of inner steps that fit each image's latent
(0: the shared network alone)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np
import torch

from ..hypernet.data import ImageSet
from ..images.data import pixel_grid, psnr
from .fitting import fit_latents
from .model import LatentModulatedSiren

INNER_STEP_COUNTS = (0, 1, 3, 10)


@dataclass
class InnerStepScores:
    """Per number of inner steps: the reconstructions ``[M, S, S, C]`` and each image's PSNR."""

    reconstructions: Dict[int, torch.Tensor]
    psnr_db: Dict[int, np.ndarray]

    def mean_psnr(self) -> Dict[str, float]:
        return {str(steps): float(scores.mean()) for steps, scores in self.psnr_db.items()}


def evaluate(model: LatentModulatedSiren, images: ImageSet, inner_lr: float,
             step_counts: Sequence[int] = INNER_STEP_COUNTS, backend: str = "auto") -> InnerStepScores:
    """Fit every test image's latent by each number of inner steps (the training's step size) and score it."""
    grid = pixel_grid(images.size)
    pixels = images.pixels()
    reconstructions, scores = {}, {}
    for steps in step_counts:
        latents = fit_latents(model, grid, pixels, steps, inner_lr, backend)
        with torch.no_grad():
            rendered = model.render(grid, latents, backend).reshape(images.images.shape)
        reconstructions[steps] = rendered
        scores[steps] = np.array([psnr(prediction.numpy(), truth.numpy())
                                  for prediction, truth in zip(rendered, images.images)])
    return InnerStepScores(reconstructions, scores)
