"""The paper's 2-D + time wave equation (Sec. 4.3) as its code release sets it up.

u(t, x, y) on t >= 0, (x, y) in [-1, 1]^2 solves u_tt - c^2 (u_xx + u_yy) = 0 with c = 1, starting at rest from
a Gaussian pulse: u(0) = g(x, y) / (50 g(0)), g of variance sigma = 5e-4 at the origin (a peak of 0.02), and
u_t(0) = 0. The network's inputs are (t, x, y) in that order, so the residual is the weighted Laplacian of u with
weights (1, -c^2, -c^2): one jet component.

Batches follow the release's ``WaveSource``: points uniform in space and in a time window [0, T_k] that grows
linearly with the step k up to the final window (the release: 0.4 at its last step), of which the last 2,000
sit at t = 0, the last 1,000 of those in the disc of radius 0.25 around the pulse so that it is always sampled.
The loss is the release's ``wave_pml``: |u - u_0| at t = 0 summed, weighted N / 10; |u_t| at t = 0 summed,
weighted N / 100; and the residual |u_tt - c^2 Delta u| summed over all points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
import torch

from ..training_loop import SeededBatches

SPEED = 1.0
PULSE_VARIANCE = 5e-4
PULSE_PEAK = 1.0 / 50.0  # the release divides the unit-mass Gaussian by 50 times its peak
PULSE_CUTOFF = 1e-5  # initial values below this are zero (the release's encoding)
INITIAL_SAMPLES = 2000
PULSE_SAMPLES = 1000
PULSE_SAMPLE_RADIUS = 0.25  # the release's 5e2 * sigma
INITIAL_VALUE_WEIGHT_PER_POINT = 1e-1
INITIAL_VELOCITY_WEIGHT_PER_POINT = 1e-2


def wave_operator_weights(speed: float = SPEED) -> Tuple[float, float, float]:
    """The weighted-Laplacian weights of u_tt - c^2 (u_xx + u_yy) on inputs (t, x, y)."""
    return (1.0, -speed ** 2, -speed ** 2)


def initial_pulse(x, y):
    """u(t = 0) at (x, y), numpy arrays or torch tensors alike."""
    squared_radius = x ** 2 + y ** 2
    exp = np.exp if isinstance(squared_radius, np.ndarray) else torch.exp
    value = PULSE_PEAK * exp(-0.5 * squared_radius / PULSE_VARIANCE)
    return value * (value >= PULSE_CUTOFF)


@dataclass
class WaveBatch:
    """Points [N, 3] as (t, x, y), which of them are at t = 0 ([N] bool), and u_0 there ([N], zero elsewhere)."""

    points: torch.Tensor
    at_start: torch.Tensor
    initial_value: torch.Tensor


class WaveBatches(SeededBatches):
    """``points`` per batch in the growing time window; its state is the generator and the batches drawn."""

    def __init__(self, points: int, final_window: float, growth_steps: int, seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__(seed)
        if points <= INITIAL_SAMPLES:
            raise ValueError(f"points must be more than the {INITIAL_SAMPLES} initial-condition samples, got {points}")
        if final_window <= 0 or growth_steps < 1:
            raise ValueError(f"final_window must be > 0 and growth_steps >= 1, got {final_window} and {growth_steps}")
        self.points = points
        self.final_window = final_window
        self.growth_steps = growth_steps
        self.dtype = dtype
        self.drawn = 0

    def window(self) -> float:
        """The time window of the next batch."""
        return self.final_window * min(1.0, self.drawn / self.growth_steps)

    def next(self) -> WaveBatch:
        g = self.generator
        space = torch.rand(self.points, 2, generator=g, dtype=torch.float64) * 2 - 1
        radius = PULSE_SAMPLE_RADIUS * torch.rand(PULSE_SAMPLES, generator=g, dtype=torch.float64).sqrt()
        angle = 2 * math.pi * torch.rand(PULSE_SAMPLES, generator=g, dtype=torch.float64)
        space[-PULSE_SAMPLES:] = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
        time = torch.rand(self.points, generator=g, dtype=torch.float64) * self.window()
        time[-INITIAL_SAMPLES:] = 0.0
        self.drawn += 1
        at_start = time == 0
        initial = torch.where(at_start, initial_pulse(space[:, 0], space[:, 1]), torch.zeros_like(time))
        return WaveBatch(torch.cat([time[:, None], space], dim=1).to(self.dtype), at_start, initial.to(self.dtype))

    def state_dict(self) -> Dict[str, object]:
        return {**super().state_dict(), "drawn": self.drawn}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        super().load_state_dict(state)
        self.drawn = int(state["drawn"])


def wave_loss_terms(value: torch.Tensor, time_derivative: torch.Tensor, wave_residual: torch.Tensor,
                    batch: WaveBatch) -> Dict[str, torch.Tensor]:
    """The release's three terms from u [N], u_t [N] and u_tt - c^2 Delta u [N] at the batch's points."""
    n = batch.points.shape[0]
    start = batch.at_start
    return {"initial_value": (value - batch.initial_value)[start].abs().sum() * n * INITIAL_VALUE_WEIGHT_PER_POINT,
            "initial_velocity": time_derivative[start].abs().sum() * n * INITIAL_VELOCITY_WEIGHT_PER_POINT,
            "residual": wave_residual.abs().sum()}
