"""Training an image network on values, gradients or Laplacians, and evaluating its jet over all pixels.

SIRENs take their derivatives from :func:`siren_fused.jet` (``fused`` or ``reference`` backend); the baselines
from :func:`siren_fused.reference.jet`, which works for any module.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Dict, Optional

import torch
from tqdm import tqdm

from .. import reference
from ..jet import jet
from ..jet_types import Jet
from ..modules import Siren

TASK_ORDERS: Dict[str, int] = {"fit": 0, "grad": 1, "laplacian": 2}
EVALUATION_CHUNK = 8192  # pixels per jet call when evaluating: bounds memory at 512x512 and above


def model_jet(net: torch.nn.Module, x: torch.Tensor, order: int, backend: str) -> Jet:
    """The jet of any image model: through ``siren_fused.jet`` for a Siren, autograd otherwise."""
    if order == 0:
        return Jet(net(x))
    if isinstance(net, Siren):
        return jet(net, x, order=order, backend=backend)
    return reference.jet(net, x, order=order)


def task_loss(net: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, task: str, backend: str) -> torch.Tensor:
    """The paper's losses: MSE of values, squared gradient error summed over axes, MSE of Laplacians."""
    result = model_jet(net, x, TASK_ORDERS[task], backend)
    if task == "fit":
        return (result.value - target).pow(2).mean()
    if task == "grad":
        return (result.grad[:, 0, :] - target).pow(2).sum(-1).mean()
    return (result.laplacian - target).pow(2).mean()


@dataclass
class TrainingRun:
    """A trained net, the wall time of its training loop and its last loss."""

    net: torch.nn.Module
    seconds: float
    final_loss: float


class PixelBatches:
    """Random mini-batches of pixel indices from a seeded generator; the whole image when ``batch`` covers it."""

    def __init__(self, pixels: int, batch: int, seed: int) -> None:
        self.pixels = pixels
        self.batch = pixels if batch <= 0 else min(batch, pixels)
        self.generator = torch.Generator().manual_seed(seed)

    def next(self) -> Optional[torch.Tensor]:
        """Indices of the next batch, or None for every pixel."""
        if self.batch == self.pixels:
            return None
        return torch.randint(0, self.pixels, (self.batch,), generator=self.generator)


def _optimisation_step(net: torch.nn.Module, optimiser: torch.optim.Optimizer, coords: torch.Tensor,
                       target: torch.Tensor, task: str, backend: str, index: Optional[torch.Tensor]) -> float:
    x, y = (coords, target) if index is None else (coords[index], target[index])
    optimiser.zero_grad(set_to_none=True)
    loss = task_loss(net, x, y, task, backend)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def train(net: torch.nn.Module, coords: torch.Tensor, target: torch.Tensor, task: str, steps: int, lr: float,
          batch: int, backend: str = "fused", seed: int = 0, label: str = "train") -> TrainingRun:
    """Adam on ``task_loss`` for ``steps`` steps, with a tqdm bar showing the loss."""
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    batches = PixelBatches(coords.shape[0], batch, seed)
    loss = float("nan")
    start = time.perf_counter()
    with tqdm(range(steps), desc=label, unit="step", dynamic_ncols=True) as bar:
        for step in bar:
            loss = _optimisation_step(net, optimiser, coords, target, task, backend, batches.next())
            if step % 25 == 0 or step == steps - 1:
                bar.set_postfix(loss=f"{loss:.4g}")
    return TrainingRun(net, time.perf_counter() - start, loss)


def time_backends_per_step(net: Siren, coords: torch.Tensor, target: torch.Tensor, task: str, steps: int,
                           lr: float, batch: int, seed: int = 0) -> Dict[str, float]:
    """Seconds per training step of a Siren with each backend, interleaved step by step on the same batches.

    Interleaving makes both backends see the same load on a shared machine; each runs on its own copy of the
    net so the timing leaves ``net`` untouched. One warm-up step per backend is not counted.
    """
    backends = ("fused", "reference")
    nets = {name: copy.deepcopy(net) for name in backends}
    optimisers = {name: torch.optim.Adam(nets[name].parameters(), lr=lr) for name in backends}
    batches = PixelBatches(coords.shape[0], batch, seed)
    totals = dict.fromkeys(backends, 0.0)
    for step in range(steps + 1):
        index = batches.next()
        for name in backends:
            start = time.perf_counter()
            _optimisation_step(nets[name], optimisers[name], coords, target, task, name, index)
            if step > 0:
                totals[name] += time.perf_counter() - start
    return {name: totals[name] / max(steps, 1) for name in backends}


@torch.no_grad()
def evaluate_jet(net: torch.nn.Module, coords: torch.Tensor, backend: str = "fused") -> Jet:
    """Value, gradient and Laplacian at every pixel, in chunks, without building a graph."""
    chunks = [model_jet(net, part, 2, backend) for part in coords.split(EVALUATION_CHUNK)]
    return Jet(*(torch.cat([getattr(c, field) for c in chunks]) for field in ("value", "grad", "laplacian")))
