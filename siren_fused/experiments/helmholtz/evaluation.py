"""Accuracy of a trained network against the analytic solution: relative L2 error on a grid inside the PML
and away from the source, where the free-space solution is the problem's solution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch
from torch import nn

from .problem import PML_THICKNESS, analytic_solution

EXCLUDED_SOURCE_RADIUS = 0.1  # the Hankel function's log singularity and the source's own width


def grid_points(resolution: int) -> np.ndarray:
    """Pixel centres of a resolution x resolution grid over [-1, 1]^2, [resolution^2, 2] (x varies fastest)."""
    axis = (np.arange(resolution) + 0.5) / resolution * 2 - 1
    y, x = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=1)


def evaluation_mask(points: np.ndarray, position: Tuple[float, float]) -> np.ndarray:
    """Inside the layer's inner edge and at least EXCLUDED_SOURCE_RADIUS from the source."""
    inside = (np.abs(points) < 1 - PML_THICKNESS).all(axis=1)
    return inside & (np.linalg.norm(points - np.asarray(position), axis=1) >= EXCLUDED_SOURCE_RADIUS)


def predict_field(net: nn.Module, points: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """The network's complex field at ``points`` [N, 2] (output 0 real, output 1 imaginary)."""
    dtype = next(net.parameters()).dtype
    with torch.no_grad():
        values = [net(torch.from_numpy(points[i:i + chunk]).to(dtype)) for i in range(0, len(points), chunk)]
    value = torch.cat(values).double().numpy()
    return value[:, 0] + 1j * value[:, 1]


def relative_l2_error(field: np.ndarray, exact: np.ndarray) -> float:
    """||field - exact|| / ||exact|| over complex samples."""
    return float(np.linalg.norm(field - exact) / np.linalg.norm(exact))


@dataclass
class FieldComparison:
    """A network's field on the grid ([resolution, resolution], complex), the analytic one, and the error
    over the evaluation mask."""

    field: np.ndarray
    exact: np.ndarray
    mask: np.ndarray
    relative_l2_error: float


def compare_to_analytic(net: nn.Module, resolution: int, position: Tuple[float, float] = (0.0, 0.0)) -> FieldComparison:
    points = grid_points(resolution)
    field = predict_field(net, points)
    exact = analytic_solution(points, position)
    mask = evaluation_mask(points, position)
    shape = (resolution, resolution)
    return FieldComparison(field.reshape(shape), exact.reshape(shape), mask.reshape(shape),
                           relative_l2_error(field[mask], exact[mask]))
