"""Training an image network on values, gradients or Laplacians, and evaluating its jet over all pixels.

SIRENs take their derivatives from :func:`siren_fused.jet` (``fused`` or ``reference`` backend); the baselines
from :func:`siren_fused.reference.jet`, which works for any module.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from ... import reference
from ...chunked import evaluate_in_chunks
from ...jet import jet
from ...jet_types import Jet
from ...modules import Siren
from ..signal_fit import SampleBatches
from ..training_loop import fit, time_backend_steps

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
    """A trained net, the step it reached, the wall time of its training loop over every run that led there, and
    its last loss."""

    net: torch.nn.Module
    step: int
    seconds: float
    final_loss: float


def _task_step(coords: torch.Tensor, target: torch.Tensor, task: str):
    """The training step on ``task`` for :mod:`..training_loop`: ``step(net, optimiser, pixel index, backend)``."""

    def step(net: torch.nn.Module, optimiser: torch.optim.Optimizer, index: Optional[torch.Tensor],
             backend: str) -> Dict[str, float]:
        x, y = (coords, target) if index is None else (coords[index], target[index])
        optimiser.zero_grad(set_to_none=True)
        loss = task_loss(net, x, y, task, backend)
        loss.backward()
        optimiser.step()
        return {"loss": float(loss.detach())}

    return step


def train_image_network(net: torch.nn.Module, coords: torch.Tensor, target: torch.Tensor, task: str, steps: int,
                        lr: float, batch: int, backend: str = "auto", seed: int = 0, label: str = "train",
                        checkpoint_path: Optional[Path] = None, checkpoint_every: int = 100,
                        settings: Optional[Dict[str, Any]] = None, resume: bool = False) -> TrainingRun:
    """Adam on ``task_loss`` for ``steps`` steps, with a progress bar showing the loss. With ``checkpoint_path``,
    saves every ``checkpoint_every`` steps (and at the end and on Ctrl-C) with ``settings``, which a resumed
    checkpoint (``resume``) must share."""
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    step = _task_step(coords, target, task)
    settings = dict(settings or {})
    run = fit(net, optimiser, lambda index: step(net, optimiser, index, backend),
              SampleBatches(coords.shape[0], batch, seed), steps, checkpoint_path, checkpoint_every, settings,
              tuple(settings), resume, label=label)
    return TrainingRun(net, run.step, run.train_seconds, run.losses.get("loss", float("nan")))


def time_backends_per_step(net: Siren, coords: torch.Tensor, target: torch.Tensor, task: str, steps: int,
                           lr: float, batch: int, seed: int = 0) -> Dict[str, float]:
    """Median seconds per training step of a Siren with each backend, on the same batches (``net`` untouched)."""
    timings = time_backend_steps(net, _task_step(coords, target, task), SampleBatches(coords.shape[0], batch, seed),
                                 functools.partial(torch.optim.Adam, lr=lr), steps=steps, warmup_steps=1)
    return {backend: timing.median_seconds for backend, timing in timings.items()}


@torch.no_grad()
def evaluate_jet(net: torch.nn.Module, coords: torch.Tensor, backend: str = "fused") -> Jet:
    """Value, gradient and Laplacian at every pixel, in chunks, without building a graph."""
    return evaluate_in_chunks(lambda x: model_jet(net, x, 2, backend), coords, EVALUATION_CHUNK)
