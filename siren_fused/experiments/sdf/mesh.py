"""The zero level set of a signed distance field as a triangle mesh (marching cubes on a grid).

The field is evaluated in chunks of grid points generated on the fly, so memory holds the
``resolution^3`` volume of values plus one chunk, whatever the network's width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Union

import numpy as np
import torch
from torch import nn

from ...chunked import Grid, evaluate_in_chunks

ScalarField = Callable[[torch.Tensor], torch.Tensor]  # points [N, 3] -> values [N] or [N, 1]


def network_field(net: nn.Module) -> ScalarField:
    """The network's first output as a field, evaluated in the parameters' dtype without autograd."""
    dtype = next(net.parameters()).dtype

    def field(points: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net(points.to(dtype))[:, 0]

    return field


def evaluate_on_grid(field: ScalarField, resolution: int, bound: float = 1.0, chunk_size: int = 65_536) -> np.ndarray:
    """Values ``[R, R, R]`` (float32) of ``field`` at the ``R^3`` grid spanning ``[-bound, bound]^3``.

    Entry ``[i, j, k]`` is the value at ``(axis[i], axis[j], axis[k])``. The grid's points are generated and
    evaluated ``chunk_size`` at a time (:class:`siren_fused.Grid`, :func:`siren_fused.evaluate_in_chunks`).
    """
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    grid = Grid((resolution,) * 3, low=-bound, high=bound)
    values = evaluate_in_chunks(lambda points: field(points).reshape(-1).detach().float(), grid, chunk_size)
    return values.cpu().numpy().reshape(resolution, resolution, resolution)


def extract_mesh(field: ScalarField, resolution: int = 128, bound: float = 1.0, chunk_size: int = 65_536,
                 level: float = 0.0) -> "trimesh.Trimesh":
    """Marching cubes of ``field == level`` over ``[-bound, bound]^3``, face normals pointing to ``field > level``."""
    import trimesh
    from skimage.measure import marching_cubes

    volume = evaluate_on_grid(field, resolution, bound, chunk_size)
    if not volume.min() < level < volume.max():
        raise ValueError(
            f"the field has no {level} level set in [-{bound}, {bound}]^3 (values span "
            f"[{volume.min():.4g}, {volume.max():.4g}]): the fit failed or the shape lies outside the box"
        )
    spacing = 2.0 * bound / (resolution - 1)
    # skimage's default "descent" winding gives faces whose normals point up the field (outwards for an SDF).
    vertices, faces, _, _ = marching_cubes(volume, level=level, spacing=(spacing,) * 3)
    return trimesh.Trimesh(vertices - bound, faces, process=False)


def largest_component(mesh: "trimesh.Trimesh") -> "trimesh.Trimesh":
    """The connected piece of ``mesh`` with the largest area.

    Short fits leave small spurious surfaces ("floaters") in empty space; scoring this piece as well
    as the whole mesh separates how well the shape is captured from how clean the space around it is.
    """
    pieces = mesh.split(only_watertight=False)
    return max(pieces, key=lambda piece: piece.area) if len(pieces) else mesh


def write_mesh(mesh: "trimesh.Trimesh", path: Union[str, Path]) -> Path:
    """Write ``mesh`` (format from the suffix, e.g. ``.ply``), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mesh.export(str(path))
    return path
