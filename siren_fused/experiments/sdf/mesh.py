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

    Entry ``[i, j, k]`` is the value at ``(axis[i], axis[j], axis[k])``.
    """
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    axis = torch.linspace(-bound, bound, resolution, dtype=torch.float64)
    total = resolution ** 3
    values = np.empty(total, dtype=np.float32)
    for start in range(0, total, chunk_size):
        flat = torch.arange(start, min(start + chunk_size, total))
        # Row-major unravel of the flat index, matching values.reshape(R, R, R).
        points = torch.stack([axis[flat // resolution ** 2], axis[(flat // resolution) % resolution],
                              axis[flat % resolution]], dim=1).float()
        values[start:start + len(flat)] = field(points).reshape(-1).detach().cpu().numpy()
    return values.reshape(resolution, resolution, resolution)


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
