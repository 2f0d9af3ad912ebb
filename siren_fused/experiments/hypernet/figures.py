"""The figure in the layout of the paper's Fig. 6: for a few test images, the context pixels shown (on a white
blank), each model's reconstruction from them, and the truth; one column per number of context pixels."""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch

from ..images.figures import pyplot, save_figure
from .data import ContextBatch
from .evaluation import ALL_PIXELS, ContextScores

BLANK = 1.0  # white, on intensities in [0, 1], as the release's sparse-context images


def context_image(context: ContextBatch, image: int, size: int) -> np.ndarray:
    """``[size, size, C]`` in [0, 1]: image ``image``'s context pixels on a white blank."""
    canvas = torch.full((size * size, context.values.shape[-1]), BLANK)
    # The grid's pixel centres are evenly spaced over [-1, 1]: back to row-major indices.
    rows_cols = torch.round((context.coords[image] + 1.0) / 2.0 * (size - 1)).long()
    shown = context.mask[image]
    flat = rows_cols[shown, 0] * size + rows_cols[shown, 1]
    canvas[flat] = (context.values[image][shown] + 1.0) / 2.0
    return canvas.reshape(size, size, -1).clamp(0.0, 1.0).numpy()


def _shown(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] as imshow takes it: ``[H, W]`` for grey, ``[H, W, 3]`` for colour."""
    image = np.clip(image, 0.0, 1.0)
    return image[..., 0] if image.shape[-1] == 1 else image


def save_context_figure(scores: Dict[str, ContextScores], truth: torch.Tensor, images: Sequence[int], path: str,
                        title: str = "") -> str:
    """For each index in ``images``: a row of context, one row per model (``scores`` by title, all evaluated with
    the same seed, so on the same context), a row of truth; columns the context counts of the scores."""
    titles = list(scores)
    counts = list(scores[titles[0]].context)
    size = truth.shape[1]
    rows_per_image = len(titles) + 2
    figure, axes = pyplot().subplots(rows_per_image * len(images), len(counts),
                                     figsize=(1.9 * len(counts), 1.9 * rows_per_image * len(images)), squeeze=False)
    for block, image in enumerate(images):
        for column, count in enumerate(counts):
            first = scores[titles[0]]
            panels = [("context", context_image(first.context[count], image, size), "")]
            for name in titles:
                reconstruction = (scores[name].reconstructions[count][image].numpy() + 1.0) / 2.0
                panels.append((name, reconstruction, f"{scores[name].psnr_db[count][image]:.1f} dB"))
            panels.append(("truth", (truth[image].numpy() + 1.0) / 2.0, ""))
            for offset, (label, panel, caption) in enumerate(panels):
                axis = axes[block * rows_per_image + offset, column]
                axis.imshow(_shown(panel), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
                if caption:
                    axis.set_xlabel(caption, fontsize=8, labelpad=1)
                if column == 0:
                    axis.set_ylabel(label, fontsize=9)
                if block == 0 and offset == 0:
                    pixels = size * size if count == ALL_PIXELS else count
                    axis.set_title(f"all {pixels} pixels" if count == ALL_PIXELS else f"{pixels} pixels", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)
