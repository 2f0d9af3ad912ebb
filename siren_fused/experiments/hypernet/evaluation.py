"""Scoring a trained hypernetwork on held-out images: each image's decoder predicted from a number of its pixels
(10, 100, 1000 or all, as the paper's Fig. 6 and its ``test_neural_process.py``), rendered over every pixel, and
compared with the image (PSNR on intensities in [0, 1], averaged over the images)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Union

import numpy as np
import torch

from ..images.data import pixel_grid, psnr
from .data import ContextBatch, ImageSet, evaluation_context
from .model import ImageHypernetwork

ALL_PIXELS = "all"
CONTEXT_COUNTS = (10, 100, 1000, ALL_PIXELS)
EVALUATION_CHUNK = 64  # images per forward pass: bounds memory at the paper's width (64 x 1024 x 256 floats a layer)
ContextCount = Union[int, str]


def pixel_count(count: ContextCount, images: ImageSet) -> int:
    """The number of context pixels ``count`` stands for in ``images`` (all of them for ``"all"``)."""
    pixels = images.size ** 2
    return pixels if count == ALL_PIXELS else min(int(count), pixels)


@torch.no_grad()
def reconstruct(model: ImageHypernetwork, context: ContextBatch, size: int, backend: str = "auto") -> torch.Tensor:
    """``[M, size, size, C]``: each image rendered from the decoder its context predicts, EVALUATION_CHUNK images
    at a time."""
    grid = pixel_grid(size)
    parts = []
    for start in range(0, context.coords.shape[0], EVALUATION_CHUNK):
        part = slice(start, start + EVALUATION_CHUNK)
        _, params = model(context.coords[part], context.values[part], context.mask[part])
        parts.append(model.reconstruct(grid, params, backend))
    return torch.cat(parts).reshape(-1, size, size, model.channels)


@dataclass
class ContextScores:
    """Per context count: the context shown, the reconstructions and the PSNR of each image."""

    context: Dict[ContextCount, ContextBatch]
    reconstructions: Dict[ContextCount, torch.Tensor]
    psnr_db: Dict[ContextCount, np.ndarray]

    def mean_psnr(self) -> Dict[str, float]:
        return {str(count): float(scores.mean()) for count, scores in self.psnr_db.items()}


def evaluate(model: ImageHypernetwork, images: ImageSet, counts: Sequence[ContextCount] = CONTEXT_COUNTS,
             seed: int = 0, backend: str = "auto") -> ContextScores:
    """Reconstruct every image from each number of context pixels in ``counts``; the pixels shown depend on
    ``seed`` and the count only, so models evaluated with the same seed see the same ones."""
    model.eval()
    context, reconstructions, scores = {}, {}, {}
    for count in counts:
        context[count] = evaluation_context(images, pixel_count(count, images), seed)
        reconstructions[count] = reconstruct(model, context[count], images.size, backend)
        scores[count] = np.array([psnr(prediction.numpy(), truth.numpy())
                                  for prediction, truth in zip(reconstructions[count], images.images)])
    return ContextScores(context, reconstructions, scores)


def context_mean_psnr(images: ImageSet, counts: Sequence[ContextCount] = CONTEXT_COUNTS,
                      seed: int = 0) -> Dict[str, float]:
    """The PSNR of the flat image of each context's mean colour, on the context :func:`evaluate` shows with the
    same ``seed``: what a model scores that has learned colour but no structure."""
    scores = {}
    for count in counts:
        context = evaluation_context(images, pixel_count(count, images), seed)
        means = context.values.mean(dim=1)  # every context pixel is shown here: no mask to apply
        flat = means[:, None, None, :].expand_as(images.images)
        scores[str(count)] = float(np.mean([psnr(prediction.numpy(), truth.numpy())
                                            for prediction, truth in zip(flat, images.images)]))
    return scores

