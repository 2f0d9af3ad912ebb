"""How close a reconstructed surface is to the input one: Chamfer distance and normal consistency.

Both follow Occupancy Networks (Mescheder et al. 2019), on points sampled from each surface:

* accuracy: mean distance from a reconstructed point to the nearest input point;
* completeness: mean distance from an input point to the nearest reconstructed point;
* Chamfer-L1 = (accuracy + completeness) / 2 (Euclidean distances, not squared);
* normal consistency: mean ``|cos|`` between the normals of nearest neighbours, both ways, halved.
  The absolute value makes it ignore orientation, so it also works for unoriented scans.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Tuple

import numpy as np

from .data import OrientedPoints


@dataclass(frozen=True)
class SurfaceMetrics:
    """Distances in the units of the points (for our fits: the normalised [-1, 1]^3 cube)."""

    chamfer: float
    accuracy: float
    completeness: float
    normal_consistency: float

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)


def sample_mesh_surface(mesh: "trimesh.Trimesh", count: int, seed: int = 0) -> OrientedPoints:
    """``count`` area-weighted points on ``mesh`` with the normals of their faces."""
    import trimesh

    points, face_index = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return OrientedPoints(np.asarray(points, np.float64), np.asarray(mesh.face_normals[face_index], np.float64))


def _nearest(source: OrientedPoints, target: OrientedPoints) -> Tuple[np.ndarray, np.ndarray]:
    """Distance from each source point to its nearest target point, and ``|cos|`` of their normals."""
    from scipy.spatial import cKDTree  # the experiments extra: imported where used, like trimesh

    distance, index = cKDTree(target.points).query(source.points, workers=-1)
    cosine = np.abs(np.einsum("ij,ij->i", source.normals, target.normals[index]))
    return distance, cosine


def compare_surfaces(reconstructed: OrientedPoints, reference: OrientedPoints) -> SurfaceMetrics:
    """Chamfer-L1, accuracy, completeness and normal consistency of ``reconstructed`` vs ``reference``."""
    to_reference, cosine_to_reference = _nearest(reconstructed, reference)
    to_reconstructed, cosine_to_reconstructed = _nearest(reference, reconstructed)
    accuracy, completeness = float(to_reference.mean()), float(to_reconstructed.mean())
    return SurfaceMetrics(
        chamfer=(accuracy + completeness) / 2,
        accuracy=accuracy,
        completeness=completeness,
        normal_consistency=float((cosine_to_reference.mean() + cosine_to_reconstructed.mean()) / 2),
    )
