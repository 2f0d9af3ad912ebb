"""PNG figures of 2-D fields for the PDE experiments: a grid of panels, one colour scale a row."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

FIGURE_DPI = 60  # keeps a 3 x 4 grid of 200-pixel panels well under 300 KB


@dataclass
class Panel:
    """One image ``[H, W]`` (row 0 at y = -1, the bottom) under its title."""

    title: str
    image: np.ndarray


@dataclass
class RowStyle:
    """A row's label and colour scale."""

    label: str
    cmap: str
    vmin: float
    vmax: float


def save_panel_grid(rows: Sequence[Sequence[Optional[Panel]]], styles: Sequence[RowStyle], path: str,
                    title: str = "") -> str:
    """Rows of panels (None leaves a blank), each row drawn with its style and a colour bar; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on the machines this runs on
    import matplotlib.pyplot as plt

    columns = max(len(row) for row in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(2.7 * columns, 2.6 * len(rows)), squeeze=False)
    for row_index, (row, style) in enumerate(zip(rows, styles)):
        image = None
        for column in range(columns):
            axis = axes[row_index, column]
            axis.set_xticks([])
            axis.set_yticks([])
            panel = row[column] if column < len(row) else None
            if panel is None:
                axis.axis("off")
                continue
            image = axis.imshow(panel.image, cmap=style.cmap, vmin=style.vmin, vmax=style.vmax, origin="lower",
                                extent=(-1, 1, -1, 1))
            axis.set_title(panel.title, fontsize=9)
            if column == 0 or row[column - 1] is None:
                axis.set_ylabel(style.label)
        if image is not None:
            figure.colorbar(image, ax=list(axes[row_index]), shrink=0.8)
    if title:
        figure.suptitle(title)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(figure)
    return path
