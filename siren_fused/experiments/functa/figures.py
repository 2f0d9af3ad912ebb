"""The figure: a few held-out images, each a row of reconstructions after 0, 1, 3 and 10 inner steps, then the
truth."""

from __future__ import annotations

from typing import Sequence

import torch

from ..hypernet.figures import _shown
from ..images.figures import pyplot, save_figure
from .evaluation import InnerStepScores


def save_inner_step_figure(scores: InnerStepScores, truth: torch.Tensor, images: Sequence[int], path: str,
                           title: str = "") -> str:
    counts = list(scores.reconstructions)
    figure, axes = pyplot().subplots(len(images), len(counts) + 1, figsize=(1.9 * (len(counts) + 1), 2.0 * len(images)),
                                     squeeze=False)
    for row, image in enumerate(images):
        panels = [(f"{steps} steps", scores.reconstructions[steps][image], f"{scores.psnr_db[steps][image]:.1f} dB")
                  for steps in counts] + [("truth", truth[image], "")]
        for column, (label, panel, caption) in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(_shown((panel.numpy() + 1.0) / 2.0), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_xlabel(caption, fontsize=8, labelpad=1)
            if row == 0:
                axis.set_title(label, fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)
