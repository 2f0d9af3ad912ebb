"""Accuracy of a trained network against the finite-difference solution: relative L2 error at several times on
a grid over the whole square."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np
import torch
from torch import nn

from .finite_differences import grid_axis, solve_wave
from .problem import SPEED, initial_pulse


@dataclass
class FrameComparison:
    """The network's and the finite-difference solution's frames ([n, n], indexed [y, x]) at each time, and the
    relative L2 error of each network frame."""

    network: Dict[float, np.ndarray]
    finite_differences: Dict[float, np.ndarray]
    relative_l2_errors: Dict[float, float]


def finite_difference_frames(times: Sequence[float], intervals: int, stride: int,
                             pulse_variance: float) -> Dict[float, np.ndarray]:
    """The reference frames on every ``stride``-th node of an ``intervals``-interval grid, from a pulse of
    ``pulse_variance``."""
    frames = solve_wave(functools.partial(initial_pulse, variance=pulse_variance), times, intervals, SPEED)
    return {t: frame[::stride, ::stride] for t, frame in frames.items()}


def network_frame(net: nn.Module, time: float, axis: np.ndarray) -> np.ndarray:
    """u(time, x, y) on the grid axis x axis, indexed [y, x]."""
    x, y = np.meshgrid(axis, axis, indexing="xy")
    points = np.stack([np.full(x.size, time), x.ravel(), y.ravel()], axis=1)
    dtype = next(net.parameters()).dtype
    with torch.no_grad():
        value = net(torch.from_numpy(points).to(dtype))[:, 0].double().numpy()
    return value.reshape(x.shape)


def compare_to_finite_differences(net: nn.Module, reference: Dict[float, np.ndarray], intervals: int,
                                  stride: int) -> FrameComparison:
    axis = grid_axis(intervals)[::stride]
    frames = {t: network_frame(net, t, axis) for t in reference}
    errors = {t: float(np.linalg.norm(frames[t] - reference[t]) / np.linalg.norm(reference[t])) for t in reference}
    return FrameComparison(frames, reference, errors)
