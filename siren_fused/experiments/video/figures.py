"""The video figures: frames of the truth and of each network with one frame's spatial gradient, and the PSNR
of every frame."""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from ..images.figures import pyplot, save_figure


def _as_image(frame: np.ndarray) -> np.ndarray:
    """RGB in [-1, 1] -> [0, 1] for imshow."""
    return np.clip((frame + 1.0) / 2.0, 0.0, 1.0)


def save_frames_figure(clips: Dict[str, np.ndarray], gradients: Dict[str, np.ndarray], frame_indices: Sequence[int],
                       gradient_frame: int, path: str, title: str = "") -> str:
    """One row per clip ``[T, H, W, 3]`` (the truth first): the frames ``frame_indices``, then the norm of the
    spatial gradient of frame ``gradient_frame`` from ``gradients`` (``[H, W]`` per row name), on the truth's
    scale."""
    names = list(clips)
    height, width = clips[names[0]].shape[1:3]
    columns = len(frame_indices) + 1
    panel = 2.4
    figure, axes = pyplot().subplots(len(names), columns, squeeze=False,
                                     figsize=(panel * columns, panel * height / width * len(names) + 0.8))
    gradient_max = float(np.percentile(gradients[names[0]], 99)) or 1.0
    for row, name in enumerate(names):
        for column, index in enumerate(frame_indices):
            axes[row, column].imshow(_as_image(clips[name][index]))
            if row == 0:
                axes[row, column].set_title(f"frame {index}")
        axes[row, -1].imshow(gradients[name], cmap="viridis", vmin=0.0, vmax=gradient_max)
        if row == 0:
            axes[row, -1].set_title(f"|spatial gradient|, frame {gradient_frame}")
        axes[row, 0].set_ylabel(name)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def save_psnr_per_frame(psnr_per_frame: Dict[str, Sequence[float]], fps: float, path: str, title: str = "") -> str:
    """PSNR (dB) of every frame, one line per network."""
    figure, axis = pyplot().subplots(figsize=(6.0, 3.0))
    for name, values in psnr_per_frame.items():
        axis.plot(np.arange(len(values)) / fps, values, marker=".", label=name)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("PSNR (dB)")
    axis.grid(alpha=0.3)
    axis.legend()
    if title:
        axis.set_title(title)
    return save_figure(figure, path)
