"""PNG figures in the layout of the paper's Fig. 1 and Fig. 3."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np

ROW_NAMES = ("image", "|gradient|", "Laplacian")
FIGURE_DPI = 72  # keeps a 5 x 3 grid of 256-pixel panels under 300 KB (about 230 KB)


@dataclass
class Derivatives:
    """One column of Fig. 1: an image with its gradient norm and Laplacian, all ``[H, W]`` in image units."""

    image: np.ndarray
    grad_norm: np.ndarray
    laplacian: np.ndarray


def pyplot():
    """matplotlib's pyplot drawing to files only (no display on the machines this runs on); imported here, not
    with the module, because matplotlib comes with the experiments extra."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: "matplotlib.figure.Figure", path: str) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    pyplot().close(figure)
    return path


def save_derivative_grid(columns: Dict[str, Derivatives], path: str, title: str = "") -> str:
    """Rows image, gradient norm, Laplacian; one column per entry (ground truth first by convention).

    Every row shares one colour scale, taken from the first column, so columns compare by eye.
    """
    names = list(columns)
    reference = columns[names[0]]
    grad_max = float(np.percentile(reference.grad_norm, 99)) or 1.0
    lap_max = float(np.percentile(np.abs(reference.laplacian), 99)) or 1.0
    styles = [dict(cmap="gray", vmin=-1.0, vmax=1.0), dict(cmap="viridis", vmin=0.0, vmax=grad_max),
              dict(cmap="RdBu_r", vmin=-lap_max, vmax=lap_max)]
    figure, axes = pyplot().subplots(3, len(names), figsize=(2.6 * len(names), 7.8), squeeze=False)
    for col, name in enumerate(names):
        panels = (columns[name].image, columns[name].grad_norm, columns[name].laplacian)
        for row, (panel, style) in enumerate(zip(panels, styles)):
            axis = axes[row, col]
            axis.imshow(panel, **style)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name)
            if col == 0:
                axis.set_ylabel(ROW_NAMES[row])
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def save_image_row(images: Sequence[np.ndarray], names: Sequence[str], path: str, title: str = "") -> str:
    """Grey images in [-1, 1] side by side, one title each."""
    figure, axes = pyplot().subplots(1, len(images), figsize=(2.8 * len(images), 3.2), squeeze=False)
    for axis, image, name in zip(axes[0], images, names):
        axis.imshow(image, cmap="gray", vmin=-1.0, vmax=1.0)
        axis.set_title(name)
        axis.set_xticks([])
        axis.set_yticks([])
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
