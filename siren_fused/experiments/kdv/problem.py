"""The Korteweg-de Vries equation u_t + 6 u u_x + u_xxx = 0 with its single soliton
u = (c/2) sech^2(sqrt(c)/2 (x - c t - x0)), on x in [-X, X], t in [0, T].

The network sees (x / X, 2 t / T - 1) in [-1, 1]^2, so by the chain rule u_x = u_xi / X, u_xxx = u_xixixi / X^3
and u_t = 2 u_tau / T: one directional jet of order 3 along the two axes (6 components a point) gives u_t, u_x
and u_xxx. The loss: the mean squared residual at uniform points, plus the mean squared misfit to the soliton
at t = 0 and at x = +-X (where it is nearly zero), each weighted 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
import torch
from torch import nn

from ...jet_types import OperatorJet
from ..operator_pde import PointBatches

HALF_WIDTH = 8.0  # X
DURATION = 4.0    # T
SPEED = 1.0       # c
START = -2.0      # x0
CONDITION_WEIGHT = 10.0


def soliton(x, t):
    """The exact solution at (x, t), numpy arrays or torch tensors alike."""
    cosh = np.cosh if isinstance(x, np.ndarray) else torch.cosh
    return 0.5 * SPEED / cosh(0.5 * math.sqrt(SPEED) * (x - SPEED * t - START)) ** 2


def to_physical(points: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(x, t) of network inputs (xi, tau) in [-1, 1]^2."""
    return points[:, 0] * HALF_WIDTH, (points[:, 1] + 1) * DURATION / 2


@dataclass
class KdvBatch:
    points: torch.Tensor     # [N, 2] network inputs: collocation points, then the initial and boundary points
    conditions: int          # the last `conditions` points are on t = 0 or x = +-X
    target: torch.Tensor     # [conditions]: the soliton there


class KdvBatches(PointBatches):
    def next(self) -> KdvBatch:
        interior = torch.rand(self.points, 2, generator=self.generator) * 2 - 1
        conditions = max(1, self.points // 4)
        edge = torch.rand(conditions, 2, generator=self.generator) * 2 - 1
        initial = torch.arange(conditions) % 2 == 0
        edge[initial, 1] = -1.0  # t = 0
        edge[~initial, 0] = torch.where(edge[~initial, 0] < 0, -1.0, 1.0)  # x = -X or X
        x, t = to_physical(edge)
        return KdvBatch(torch.cat([interior, edge]), conditions, soliton(x, t))


class KdvProblem:
    name = "kdv"
    title = "KdV single soliton: u_t + 6 u u_x + u_xxx = 0"
    summary = "solve the KdV equation (third order) for a soliton; SIREN against tanh, scored against the exact solution"
    defaults = {"first_omega_0": 10.0}
    paper_settings = {"hidden_features": 256, "hidden_layers": 4, "points": 8192, "steps": 20000, "lr": 1e-4,
                      "final_lr_ratio": 0.02}
    operators = {"u_t": {(0, 1): 2.0 / DURATION}, "u_x": {(1, 0): 1.0 / HALF_WIDTH},
                 "u_xxx": {(3, 0): 1.0 / HALF_WIDTH ** 3}}

    def batches(self, points: int, seed: int) -> KdvBatches:
        return KdvBatches(points, seed)

    def loss_terms(self, jet: OperatorJet, batch: KdvBatch) -> Dict[str, torch.Tensor]:
        u = jet.value[:, 0]
        residual = jet.fields["u_t"][:, 0] + 6 * u * jet.fields["u_x"][:, 0] + jet.fields["u_xxx"][:, 0]
        interior = residual[: -batch.conditions]
        return {"residual": (interior ** 2).mean(),
                "conditions": CONDITION_WEIGHT * ((u[-batch.conditions:] - batch.target.to(u)) ** 2).mean()}

    def scored_fields(self, net: nn.Module, resolution: int = 128) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """u on a resolution x resolution grid over (x, t), rows along t."""
        axis = np.linspace(-1.0, 1.0, resolution)
        xi, tau = np.meshgrid(axis, axis, indexing="xy")
        points = torch.from_numpy(np.stack([xi.ravel(), tau.ravel()], axis=1)).to(next(net.parameters()).dtype)
        with torch.no_grad():
            value = net(points)[:, 0].double().numpy().reshape(xi.shape)
        x, t = to_physical(torch.from_numpy(np.stack([xi.ravel(), tau.ravel()], axis=1)))
        return {"u": (value, soliton(x, t).numpy().reshape(xi.shape))}
