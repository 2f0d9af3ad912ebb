"""Oriented surface samples for SDF fitting: loading, normalising into [-1, 1]^3, batching.

A surface comes from a mesh (``.ply``, ``.obj``, ``.off``: its surface is sampled with face normals)
or from an oriented point cloud (``.xyz`` with columns ``x y z nx ny nz``, or a ``.ply`` without faces
whose vertices carry ``nx ny nz``). The default is the Stanford bunny scan shipped in the ``pymeshfix``
wheel. Batches follow the SIREN paper's ``dataio.PointCloud``: on-surface points with their normals,
plus as many points drawn uniformly in [-1, 1]^3.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from ..training_loop import SeededBatches
from ..user_errors import InputFileError, MissingInputFile, reading

SUPPORTED_SUFFIXES = (".ply", ".obj", ".off", ".xyz")
SURFACE_FILE = "a mesh (.ply, .obj, .off) or an oriented point cloud (.xyz 'x y z nx ny nz', .ply with normals)"
MESH_SUFFIXES = (".ply", ".obj", ".off")


@dataclass(frozen=True)
class OrientedPoints:
    """Surface points ``[N, 3]`` with unit normals ``[N, 3]`` (float64 numpy arrays)."""

    points: np.ndarray
    normals: np.ndarray

    def __post_init__(self) -> None:
        if self.points.ndim != 2 or self.points.shape[1] != 3:
            raise ValueError(f"points must be [N, 3], got shape {self.points.shape}")
        if self.normals.shape != self.points.shape:
            raise ValueError(f"normals must have the points' shape {self.points.shape}, got {self.normals.shape}")
        if len(self.points) == 0:
            raise ValueError("the surface has no points")

    def subsample(self, count: int, seed: int = 0) -> "OrientedPoints":
        """At most ``count`` of the points, drawn without replacement."""
        if count >= len(self.points):
            return self
        chosen = np.random.default_rng(seed).choice(len(self.points), size=count, replace=False)
        return OrientedPoints(self.points[chosen], self.normals[chosen])


def default_surface_path() -> Path:
    """The Stanford bunny scan in the pymeshfix wheel (its ``examples`` package needs pyvista: not imported)."""
    try:
        root = importlib.resources.files("pymeshfix")
    except ModuleNotFoundError as error:
        raise MissingInputFile(
            "the default surface is the Stanford bunny from the pymeshfix wheel: `pip install pymeshfix`, "
            "or pass a mesh or point cloud file"
        ) from error
    return Path(str(root / "examples" / "StanfordBunny.ply"))


def _unit_normals(points: np.ndarray, normals: np.ndarray, source: Path) -> OrientedPoints:
    """Normalised normals; points whose normal has zero length (degenerate faces, bad scans) are dropped."""
    lengths = np.linalg.norm(normals, axis=1)
    valid = np.isfinite(lengths) & (lengths > 1e-12) & np.isfinite(points).all(axis=1)
    if not valid.any():
        raise InputFileError(f"{source}: no point has a finite, non-zero normal")
    return OrientedPoints(points[valid], normals[valid] / lengths[valid, None])


def _load_xyz(path: Path) -> OrientedPoints:
    try:
        table = np.loadtxt(path, ndmin=2, dtype=np.float64)
    except ValueError as error:
        raise InputFileError(f"{path}: not a whitespace-separated table of numbers ({error})") from error
    if table.size == 0:
        raise InputFileError(f"{path}: the file holds no points")
    if table.shape[1] != 6:
        raise InputFileError(
            f"{path}: an .xyz point cloud needs 6 columns 'x y z nx ny nz' (normals are required), "
            f"got {table.shape[1]} columns"
        )
    return _unit_normals(table[:, :3], table[:, 3:], path)


def _ply_vertex_normals(cloud: "trimesh.PointCloud", path: Path) -> np.ndarray:
    """The ``nx ny nz`` vertex properties that trimesh keeps in a PLY point cloud's raw metadata."""
    vertex = cloud.metadata.get("_ply_raw", {}).get("vertex", {}).get("data")
    # ASCII PLY gives a dict of columns, binary PLY a structured array: both index by property name.
    names = vertex.keys() if isinstance(vertex, dict) else getattr(getattr(vertex, "dtype", None), "names", None)
    if not {"nx", "ny", "nz"} <= set(names or ()):
        raise InputFileError(f"{path}: a point cloud without faces needs vertex normals 'nx ny nz'")
    return np.stack([vertex[name] for name in ("nx", "ny", "nz")], axis=1).reshape(-1, 3).astype(np.float64)


def _load_with_trimesh(path: Path, surface_samples: int, seed: int) -> OrientedPoints:
    import trimesh

    try:
        loaded = trimesh.load(str(path), force=None, process=False)
    except Exception as error:  # trimesh raises many types for malformed files
        raise InputFileError(f"{path}: trimesh could not read it ({type(error).__name__}: {error})") from error
    if isinstance(loaded, trimesh.Scene):
        if not loaded.geometry:
            raise InputFileError(f"{path}: the file holds no geometry")
        loaded = loaded.dump(concatenate=True)
    if isinstance(loaded, trimesh.Trimesh) and len(loaded.faces) > 0:
        if loaded.area <= 0:
            raise InputFileError(f"{path}: the mesh has zero surface area")
        points, face_index = trimesh.sample.sample_surface(loaded, surface_samples, seed=seed)
        return _unit_normals(np.asarray(points, np.float64), loaded.face_normals[face_index], path)
    vertices = np.asarray(getattr(loaded, "vertices", np.empty((0, 3))), np.float64).reshape(-1, 3)
    if len(vertices) == 0:
        raise InputFileError(f"{path}: the file holds no points")
    return _unit_normals(vertices, _ply_vertex_normals(loaded, path), path)


def load_oriented_points(path: Optional[Union[str, Path]] = None, surface_samples: int = 200_000,
                         seed: int = 0) -> OrientedPoints:
    """Oriented surface points from ``path`` (or the default bunny), in the file's own coordinates.

    Args:
        path: a mesh (``.ply``/``.obj``/``.off``) or an oriented point cloud (``.xyz`` with normals,
            or a face-less ``.ply`` with vertex normals); None for the Stanford bunny.
        surface_samples: how many points to sample from a mesh's surface (area-weighted).
        seed: seed of that sampling.

    Raises:
        MissingInputFile: the file does not exist.
        InputFileError: unsupported extension, an empty or unreadable file, one that does not decode, or a point
            cloud without normals.
    """
    source = default_surface_path() if path is None else Path(path)
    if not source.is_file():
        raise MissingInputFile(f"surface file not found: {source}")
    suffix = source.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(f"{source}: unsupported extension {suffix!r}; expected one of "
                             f"{', '.join(SUPPORTED_SUFFIXES)}")
    if source.stat().st_size == 0:
        raise InputFileError(f"{source}: the file is empty")
    with reading(source, SURFACE_FILE):
        return _load_xyz(source) if suffix == ".xyz" else _load_with_trimesh(source, surface_samples, seed)


def normalise_to_unit_cube(surface: OrientedPoints) -> OrientedPoints:
    """Centre on the mean and scale uniformly into [-1, 1]^3, as the paper's ``dataio.PointCloud`` does.

    One scale for all axes keeps the aspect ratio (normals are unchanged); the shape then touches the
    cube only along its longest extent, which the uniform off-surface samples cover.
    """
    centred = surface.points - surface.points.mean(axis=0, keepdims=True)
    low, high = centred.min(), centred.max()
    if high - low <= 0:
        raise InputFileError("the surface points all coincide: nothing to fit")
    return OrientedPoints((centred - low) / (high - low) * 2.0 - 1.0, surface.normals)


@dataclass
class SdfBatch:
    """One training batch: the first ``on_surface`` rows of ``points`` lie on the surface."""

    points: torch.Tensor  # [2 * on_surface, 3]
    normals: torch.Tensor  # [on_surface, 3]
    on_surface: int


class SdfBatchSampler(SeededBatches):
    """Batches of ``on_surface`` random surface points plus as many uniform points in [-1, 1]^3."""

    def __init__(self, surface: OrientedPoints, on_surface: int, dtype: torch.dtype = torch.float32,
                 seed: int = 0) -> None:
        if on_surface < 1:
            raise ValueError(f"on_surface must be >= 1, got {on_surface}")
        self.points = torch.as_tensor(surface.points, dtype=dtype)
        self.normals = torch.as_tensor(surface.normals, dtype=dtype)
        super().__init__(seed)
        self.on_surface = on_surface

    def next(self) -> SdfBatch:
        index = torch.randint(len(self.points), (self.on_surface,), generator=self.generator)
        off_surface = torch.rand(self.on_surface, 3, generator=self.generator, dtype=self.points.dtype) * 2 - 1
        return SdfBatch(torch.cat([self.points[index], off_surface]), self.normals[index], self.on_surface)

