"""Images as regression targets: loading, pixel grids, Poisson targets and PSNR up to the unseen constant.

Conventions follow the paper's code (``dataio.py``): grey images in [-1, 1], pixel centres on a grid over
[-1, 1]^2 with coordinate 0 the row and coordinate 1 the column, gradient targets from ``scipy.ndimage.sobel``
and Laplacian targets from ``scipy.ndimage.laplace``.
"""

from __future__ import annotations

import os
from typing import Tuple

import numpy as np
import torch

from ..user_errors import InputFileError, reading

# scipy and scikit-image are imported where used: they come with the experiments extra, and the
# command line must list its commands without it.

# The paper multiplies the image by these before filtering (Implicit2DWrapper in its dataio.py).
PAPER_PREMULTIPLIER = {"grad": 1e1, "laplacian": 1e4}
TARGET_SCALINGS = ("paper", "unit")
# Sobel's [1, 2, 1] smoothing sums to 4 and its central difference spans two pixels: 8 h times the derivative.
SOBEL_GAIN = 8.0


IMAGE_FILE = "an image file (PNG, JPEG, TIFF, BMP, ...)"
# scikit-image's sample images that come with its wheel (others download on first use), taken by name.
SAMPLE_IMAGES = ("astronaut", "brick", "camera", "cat", "chelsea", "checkerboard", "clock", "coffee", "coins",
                 "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
                 "moon", "page", "rocket", "text")


def load_image(source: str, size: int) -> np.ndarray:
    """A square grey image in [-1, 1], ``size`` x ``size``.

    ``source`` is a path to any image file, or the name of a scikit-image sample (:data:`SAMPLE_IMAGES`); a
    file that is missing, empty or not an image raises an :class:`InputFileError` naming it. Non-square images
    are centre-cropped first, so the pixels stay square.
    """
    import skimage.color
    import skimage.data
    import skimage.io
    import skimage.transform
    import skimage.util

    if source in SAMPLE_IMAGES:
        raw = np.asarray(getattr(skimage.data, source)())
    elif not os.path.exists(source) and not os.path.splitext(source)[1]:
        raise InputFileError(f"image {source!r} is neither a file nor a scikit-image sample "
                             f"({', '.join(SAMPLE_IMAGES)})")
    else:
        with reading(source, IMAGE_FILE):
            raw = np.asarray(skimage.io.imread(source))
            if raw.ndim not in (2, 3) or min(raw.shape[:2]) < 1:
                raise InputFileError(f"{source}: not an image (decoded to an array of shape {list(raw.shape)})")
    if raw.ndim == 3:
        raw = skimage.color.rgb2gray(raw[..., :3])  # drops alpha; returns floats in [0, 1]
    grey = skimage.util.img_as_float(raw)
    side = min(grey.shape)
    top, left = (grey.shape[0] - side) // 2, (grey.shape[1] - side) // 2
    square = grey[top:top + side, left:left + side]
    resized = skimage.transform.resize(square, (size, size), anti_aliasing=True)
    return (resized * 2.0 - 1.0).astype(np.float32)


def pixel_grid(size: int) -> torch.Tensor:
    """Pixel centres ``[size*size, 2]`` over [-1, 1]^2, row-major like ``image.reshape(-1)``."""
    axis = torch.linspace(-1.0, 1.0, size)
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([rows, cols], dim=-1).reshape(-1, 2)


def pixel_spacing(size: int) -> float:
    """Distance between neighbouring pixel centres in grid coordinates."""
    return 2.0 / (size - 1)


def target_premultiplier(task: str, size: int, scaling: str) -> float:
    """What the image is multiplied by before the Sobel or Laplace filter.

    ``paper`` uses the paper's constants (10 and 1e4); ``unit`` turns the filters into true derivatives with
    respect to the grid coordinates, so the reconstruction is the image itself at every size.
    """
    if scaling not in TARGET_SCALINGS:
        raise ValueError(f"scaling must be one of {TARGET_SCALINGS}, got {scaling!r}")
    if scaling == "paper":
        return PAPER_PREMULTIPLIER[task]
    h = pixel_spacing(size)
    return 1.0 / (SOBEL_GAIN * h) if task == "grad" else 1.0 / h ** 2


def reconstruction_scale(task: str, size: int, scaling: str) -> float:
    """How many times the image a net fitted to the targets of ``task`` represents.

    A net whose derivative matches ``sobel(c * image)`` is about ``c * 8h * image``; one whose Laplacian matches
    ``laplace(c * image)`` is about ``c * h^2 * image``. Dividing by this compares it with the image.
    """
    h = pixel_spacing(size)
    gain = SOBEL_GAIN * h if task == "grad" else h ** 2
    return target_premultiplier(task, size, scaling) * gain


def sobel_gradient(image: np.ndarray) -> np.ndarray:
    """``[H, W, 2]`` Sobel responses along rows and columns (the grid's coordinates 0 and 1)."""
    from scipy import ndimage

    return np.stack([ndimage.sobel(image, axis=0), ndimage.sobel(image, axis=1)], axis=-1)


def poisson_target(image: np.ndarray, task: str, scaling: str = "paper") -> torch.Tensor:
    """The supervision of a Poisson task, one row per pixel: ``[N, 2]`` for ``grad``, ``[N, 1]`` for ``laplacian``."""
    from scipy import ndimage

    scaled = image.astype(np.float64) * target_premultiplier(task, image.shape[0], scaling)
    if task == "grad":
        target = sobel_gradient(scaled).reshape(-1, 2)
    elif task == "laplacian":
        target = ndimage.laplace(scaled).reshape(-1, 1)
    else:
        raise ValueError(f"task must be 'grad' or 'laplacian', got {task!r}")
    return torch.from_numpy(target.astype(np.float32))


def true_derivatives(image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Gradient norm and Laplacian of the image in grid units: the ground-truth column of the figures."""
    from scipy import ndimage

    h = pixel_spacing(image.shape[0])
    grad = sobel_gradient(image) / (SOBEL_GAIN * h)
    return np.linalg.norm(grad, axis=-1), ndimage.laplace(image) / h ** 2


def align_unseen_part(reconstruction: np.ndarray, truth: np.ndarray, task: str) -> np.ndarray:
    """Add to ``reconstruction`` the part its supervision cannot see, fitted to ``truth`` by least squares.

    Gradients do not see a constant; a Laplacian does not see a constant nor a linear ramp. Fitting exactly
    that null space (and nothing more) is the fair comparison.
    """
    if task == "fit":
        return reconstruction
    size = truth.shape[0]
    grid = pixel_grid(size).numpy().astype(np.float64)
    basis = np.ones((size * size, 1))
    if task == "laplacian":
        basis = np.concatenate([basis, grid], axis=1)
    residual = (truth - reconstruction).reshape(-1).astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(basis, residual, rcond=None)
    return reconstruction + (basis @ coefficients).reshape(truth.shape).astype(reconstruction.dtype)


def psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of images in [-1, 1], measured as the paper does on intensities mapped to [0, 1]."""
    pred01 = np.clip((prediction + 1.0) / 2.0, 0.0, 1.0)
    truth01 = (truth + 1.0) / 2.0
    mse = float(np.mean((pred01 - truth01) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(1.0 / mse))
