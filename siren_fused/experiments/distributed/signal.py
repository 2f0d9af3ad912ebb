"""An image as a jet-fitting signal: pixel coordinates with value and Laplacian targets."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class ImageJetSignal(NamedTuple):
    """One row per pixel.

    coords:   [N, 2] in [-1, 1]^2 (row, column), the paper's convention.
    targets:  [N, 2]: column 0 the pixel value in [-1, 1], column 1 its Laplacian in those coordinates.
    """

    coords: torch.Tensor
    targets: torch.Tensor

    def subset(self, index: torch.Tensor) -> "ImageJetSignal":
        """The pixels at ``index`` (coordinates and targets kept together)."""
        return ImageJetSignal(self.coords[index], self.targets[index])


def image_jet_signal(image: np.ndarray, dtype: torch.dtype = torch.float32) -> ImageJetSignal:
    """Coordinates, values and finite-difference Laplacians of a square grey image with values in [-1, 1]."""
    from scipy import ndimage

    if image.ndim != 2 or image.shape[0] != image.shape[1] or image.shape[0] < 2:
        raise ValueError(f"image must be square [side, side] with side >= 2, got shape {list(image.shape)}")
    image = np.asarray(image, dtype=np.float64)  # the Laplacian's differences in float64, whatever comes in
    side = image.shape[0]
    # The 5-point stencil measures the Laplacian per pixel step; the net sees a [-1, 1] grid whose
    # step is 2 / (side - 1), so divide by the squared step to get the Laplacian the jet computes.
    spacing = 2.0 / (side - 1)
    laplacian = ndimage.laplace(image, mode="reflect") / spacing**2
    axis = torch.linspace(-1.0, 1.0, side, dtype=torch.float64)
    coords = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    targets = torch.from_numpy(np.stack([image, laplacian], axis=-1).reshape(-1, 2))
    return ImageJetSignal(coords.to(dtype), targets.to(dtype))
