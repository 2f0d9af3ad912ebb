"""The Kirchhoff plate: Delta^2 u = f on the unit square, simply supported (u = 0 and Delta u = 0 on the edges),
with the manufactured solution u = sin(pi x) sin(2 pi y), so f = 25 pi^4 u and Delta u = -5 pi^2 u.

The network sees (2x - 1, 2y - 1) in [-1, 1]^2, so Delta_x = 4 Delta_xi and Delta_x^2 = 16 Delta_xi^2: one
directional jet of order 4 (3 directions, 11 components a point) gives both. The loss: the mean squared
residual over f's peak at uniform points, plus the mean squared u and Delta u (over Delta u's peak) at points on
the edges, weighted 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
import torch
from torch import nn

from ...jet_types import OperatorJet
from ...operator_plan import biharmonic, laplacian
from ..operator_pde import PointBatches, network_operator_jet

LOAD_PEAK = 25 * math.pi ** 4       # max |f|
LAPLACIAN_PEAK = 5 * math.pi ** 2   # max |Delta u|
EDGE_WEIGHT = 10.0


def exact(x, y):
    """u at (x, y) in the unit square, numpy arrays or torch tensors alike."""
    sin = np.sin if isinstance(x, np.ndarray) else torch.sin
    return sin(math.pi * x) * sin(2 * math.pi * y)


@dataclass
class PlateBatch:
    points: torch.Tensor  # [N, 2] network inputs: interior points, then the last `edges` on the boundary
    edges: int
    load: torch.Tensor    # [N - edges]: f at the interior points


class PlateBatches(PointBatches):
    def next(self) -> PlateBatch:
        interior = torch.rand(self.points, 2, generator=self.generator) * 2 - 1
        edges = max(4, self.points // 4)
        boundary = torch.rand(edges, 2, generator=self.generator) * 2 - 1
        side = torch.arange(edges) % 4
        boundary[side < 2, 0] = torch.where(side[side < 2] == 0, -1.0, 1.0)
        boundary[side >= 2, 1] = torch.where(side[side >= 2] == 2, -1.0, 1.0)
        x, y = (interior[:, 0] + 1) / 2, (interior[:, 1] + 1) / 2
        return PlateBatch(torch.cat([interior, boundary]), edges, LOAD_PEAK * exact(x, y))


class PlateProblem:
    name = "plate"
    title = "Kirchhoff plate: Delta^2 u = f, simply supported"
    summary = ("solve the biharmonic plate equation (fourth order); SIREN against tanh, scored against the exact "
               "solution")
    # A first omega of 10 left the plate at rest after 400 steps (relative L2 error 0.95); 3 reaches 0.004-0.008.
    # At the learning rate of 1e-3 one seed of three stalled near 0.9 (benchmarks/RESULTS.md); 3e-4 trains all.
    defaults = {"first_omega_0": 3.0, "lr": 3e-4}
    paper_settings = {"hidden_features": 256, "hidden_layers": 3, "points": 8192, "steps": 20000, "lr": 1e-4,
                      "final_lr_ratio": 0.02}
    operators = {"biharmonic": {alpha: 16.0 * c for alpha, c in biharmonic(2).items()},
                 "laplacian": {alpha: 4.0 * c for alpha, c in laplacian(2).items()}}

    def batches(self, points: int, seed: int) -> PlateBatches:
        return PlateBatches(points, seed)

    def loss_terms(self, jet: OperatorJet, batch: PlateBatch) -> Dict[str, torch.Tensor]:
        interior = slice(0, -batch.edges)
        edge = slice(-batch.edges, None)
        residual = (jet.fields["biharmonic"][interior, 0] - batch.load.to(jet.value)) / LOAD_PEAK
        edge_terms = jet.value[edge, 0] ** 2 + (jet.fields["laplacian"][edge, 0] / LAPLACIAN_PEAK) ** 2
        return {"residual": (residual ** 2).mean(), "edges": EDGE_WEIGHT * edge_terms.mean()}

    def scored_fields(self, net: nn.Module, resolution: int = 96) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """u and Delta u on a resolution x resolution grid over the square, rows along y."""
        axis = np.linspace(-1.0, 1.0, resolution)
        xi, eta = np.meshgrid(axis, axis, indexing="xy")
        points = torch.from_numpy(np.stack([xi.ravel(), eta.ravel()], axis=1)).to(next(net.parameters()).dtype)
        jet = network_operator_jet(net, points, {"laplacian": self.operators["laplacian"]})
        u = exact((xi + 1) / 2, (eta + 1) / 2)
        return {"u": (jet.value[:, 0].detach().double().numpy().reshape(xi.shape), u),
                "Laplacian of u": (jet.fields["laplacian"][:, 0].detach().double().numpy().reshape(xi.shape),
                                   -LAPLACIAN_PEAK * u)}
