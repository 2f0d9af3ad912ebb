"""PNG renderings of meshes from several viewpoints with matplotlib (no OpenGL needed on a server).

Faces are shaded by hand (Lambert with a headlight-like key light plus ambient), because
matplotlib's own 3D shading ignores triangle orientation and washes out fine detail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence, Tuple, Union

import numpy as np

DEFAULT_VIEWS: Tuple[Tuple[float, float], ...] = ((20.0, -90.0), (20.0, 0.0), (20.0, 135.0))  # (elevation, azimuth)
LIGHT_FROM_VIEW = np.array([0.35, 0.35, 1.0])  # light direction in camera coordinates: above, right, front
BASE_COLOUR = np.array([0.62, 0.72, 0.86])


def _view_direction(elevation: float, azimuth: float) -> np.ndarray:
    """Unit vector from the scene towards a matplotlib camera at (elevation, azimuth) in degrees, z up."""
    elev, azim = np.radians(elevation), np.radians(azimuth)
    return np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])


def _light_direction(elevation: float, azimuth: float) -> np.ndarray:
    """``LIGHT_FROM_VIEW`` turned into world coordinates for this camera."""
    forward = _view_direction(elevation, azimuth)
    right = np.cross([0.0, 0.0, 1.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    light = LIGHT_FROM_VIEW[0] * right + LIGHT_FROM_VIEW[1] * up + LIGHT_FROM_VIEW[2] * forward
    return light / np.linalg.norm(light)


def _face_colours(mesh: "trimesh.Trimesh", elevation: float, azimuth: float) -> np.ndarray:
    # |cos| shades back faces too: open scans and inverted patches stay visible instead of black.
    lambert = np.abs(mesh.face_normals @ _light_direction(elevation, azimuth))
    brightness = 0.25 + 0.75 * lambert
    return np.clip(brightness[:, None] * BASE_COLOUR, 0.0, 1.0)


TITLE_INCHES = 0.3  # above each row: its title in 9-point type, whatever the number of rows


def mesh_figure(meshes: Dict[str, "trimesh.Trimesh"], views: Sequence[Tuple[float, float]] = DEFAULT_VIEWS,
                panel_inches: float = 2.4, bound: float = 1.0) -> "matplotlib.figure.Figure":
    """One row per named mesh, titled by its name, one column per ``(elevation, azimuth)`` view."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    if not meshes:
        raise ValueError("render_meshes needs at least one mesh")
    rows, columns = len(meshes), len(views)
    height = (panel_inches + TITLE_INCHES) * rows
    figure = plt.figure(figsize=(panel_inches * columns, height))
    for row, (title, mesh) in enumerate(meshes.items()):
        for column, (elevation, azimuth) in enumerate(views):
            axes = figure.add_subplot(rows, columns, row * columns + column + 1, projection="3d")
            axes.add_collection3d(Poly3DCollection(mesh.triangles, facecolors=_face_colours(mesh, elevation, azimuth),
                                                   edgecolors="none", linewidths=0))
            axes.set(xlim=(-bound, bound), ylim=(-bound, bound), zlim=(-bound, bound))
            axes.set_box_aspect((1, 1, 1))
            axes.view_init(elev=elevation, azim=azimuth)
            axes.set_axis_off()
            if column == 0:
                axes.set_title(title, fontsize=9, loc="left")
    # The title band is fixed in inches: as a fraction of the figure, a one-row figure's was too thin for it.
    figure.subplots_adjust(left=0, right=1, bottom=0, top=1 - TITLE_INCHES / height, wspace=0,
                           hspace=TITLE_INCHES / panel_inches)
    return figure


def render_meshes(meshes: Dict[str, "trimesh.Trimesh"], path: Union[str, Path],
                  views: Sequence[Tuple[float, float]] = DEFAULT_VIEWS, panel_inches: float = 2.4,
                  dpi: int = 90, bound: float = 1.0) -> Path:
    """:func:`mesh_figure` of ``meshes`` written as a PNG to ``path``."""
    import matplotlib.pyplot as plt

    figure = mesh_figure(meshes, views, panel_inches, bound)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path
