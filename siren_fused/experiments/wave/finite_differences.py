"""A finite-difference solver of the 2-D wave equation u_tt = c^2 (u_xx + u_yy), the reference the SIREN's
solution is scored against.

Second order in space and time: the five-point Laplacian on a uniform grid of [-1, 1]^2 with u = 0 on the
boundary, and the leapfrog step u^{n+1} = 2 u^n - u^{n-1} + (c dt)^2 Delta_h u^n, started from rest by the
Taylor step u^1 = u^0 + (c dt)^2 / 2 Delta_h u^0 (u_t = 0 at t = 0). The time step is a fraction ``cfl`` of the
stability limit h / (c sqrt(2)); frames between steps are interpolated linearly (second order, like the scheme).
Over the paper's time window the pulse stays far from the boundary, which therefore plays no part.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Sequence

import numpy as np


def grid_axis(intervals: int) -> np.ndarray:
    """The nodes -1 = x_0 < ... < x_intervals = 1."""
    if intervals < 2:
        raise ValueError(f"intervals must be >= 2, got {intervals}")
    return np.linspace(-1.0, 1.0, intervals + 1)


def _laplacian(u: np.ndarray, h: float) -> np.ndarray:
    """Five-point Laplacian at the interior nodes, zero on the boundary."""
    result = np.zeros_like(u)
    result[1:-1, 1:-1] = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1]) / h ** 2
    return result


def solve_wave(initial: Callable[[np.ndarray, np.ndarray], np.ndarray], times: Sequence[float], intervals: int,
               speed: float = 1.0, cfl: float = 0.5) -> Dict[float, np.ndarray]:
    """u at each of ``times`` (>= 0) on the (intervals + 1)^2 grid, indexed [y, x], from u(t=0) = initial(x, y)
    (arrays of the grid) at rest."""
    if not 0 < cfl <= 1:
        raise ValueError(f"cfl must be in (0, 1], got {cfl}")
    if speed <= 0 or any(t < 0 for t in times):
        raise ValueError(f"speed must be positive and times non-negative, got {speed} and {list(times)}")
    axis = grid_axis(intervals)
    h = axis[1] - axis[0]
    x, y = np.meshgrid(axis, axis, indexing="xy")
    current = np.asarray(initial(x, y), dtype=np.float64).copy()
    current[[0, -1], :] = current[:, [0, -1]] = 0.0  # homogeneous Dirichlet boundary
    end = max(times, default=0.0)
    steps = max(1, math.ceil(end * speed * math.sqrt(2) / (cfl * h)))
    dt = end / steps if end > 0 else 0.0
    courant_squared = (speed * dt) ** 2
    following = current + 0.5 * courant_squared * _laplacian(current, h)
    frames: Dict[float, np.ndarray] = {}
    pending = sorted(set(float(t) for t in times))
    for step in range(steps + 1):
        # current is u at step * dt, following at (step + 1) * dt.
        while pending and (dt == 0 or pending[0] <= (step + 1) * dt):
            weight = 0.0 if dt == 0 else pending[0] / dt - step
            frames[pending.pop(0)] = (1 - weight) * current + weight * following
        if not pending:
            break
        previous, current = current, following
        following = 2 * current - previous + courant_squared * _laplacian(current, h)
    return {float(t): frames[float(t)] for t in times}
