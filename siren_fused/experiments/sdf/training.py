"""Training a network on the SDF loss, with checkpoints that resume where an interrupted run stopped.

The gradient of the network at every sample comes from :func:`siren_fused.jet` (``order=1``) for a
SIREN, on the backend asked for; other models (the ReLU and tanh baselines) go through
:func:`siren_fused.reference.jet`, which differentiates any module with autograd.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from ... import reference
from ...jet import jet
from ...modules import Siren
from ..baselines import MODELS, check_model_settings
from ..training_loop import FittedModel, StepTiming, fit, optimizer_step, time_backend_steps
from .data import OrientedPoints, SdfBatch, SdfBatchSampler
from .loss import sdf_loss_terms

# Settings that shape the network or the batches: a checkpoint only resumes a run that agrees on them.
ARCHITECTURE_FIELDS = ("model", "hidden_features", "hidden_layers", "first_omega_0", "on_surface", "seed")


@dataclass
class SdfTrainConfig:
    """Hyper-parameters of one SDF fit, sized for a CPU run of minutes.

    The paper's: 256 wide, 3 hidden layers, 250,000 on-surface points a batch, omega_0 = 30, learning
    rate 1e-4. A short run needs the larger rate to clear spurious surfaces from empty space in time,
    and a lower first-layer frequency: with the paper's 30, this small net keeps a spurious closed
    shell inside the shape after 3,000 steps (see benchmarks/RESULTS.md); with 10 it does not.
    """

    model: str = "siren"
    hidden_features: int = 64
    hidden_layers: int = 2
    first_omega_0: float = 10.0  # SIREN only
    on_surface: int = 2048
    steps: int = 3000
    lr: float = 1e-3
    backend: str = "auto"
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        check_model_settings(self, {"hidden_features": 1, "on_surface": 1, "checkpoint_every": 1, "steps": 0,
                                    "hidden_layers": 0})


def build_model(config: SdfTrainConfig) -> nn.Module:
    """A fresh 3 -> 1 network of the configured kind and size, initialised from ``config.seed``."""
    torch.manual_seed(config.seed)
    if config.model == "siren":
        return Siren(3, config.hidden_features, config.hidden_layers, 1, first_omega_0=config.first_omega_0)
    return MODELS[config.model](3, config.hidden_features, config.hidden_layers, 1)


def value_and_gradient(net: nn.Module, points: torch.Tensor,
                       backend: str = "auto") -> Tuple[torch.Tensor, torch.Tensor]:
    """f ``[N, 1]`` and grad f ``[N, 3]``, both differentiable with respect to the parameters."""
    result = jet(net, points, order=1, backend=backend) if isinstance(net, Siren) else reference.jet(net, points, 1)
    return result.value, result.grad[:, 0, :]


def training_step(net: nn.Module, optimizer: torch.optim.Optimizer, batch: SdfBatch,
                  backend: str = "auto") -> Dict[str, float]:
    """One Adam step on the SDF loss; returns the loss terms and their sum as floats."""
    value, grad = value_and_gradient(net, batch.points, backend)
    return optimizer_step(optimizer, sdf_loss_terms(value, grad, batch.normals, batch.on_surface))


def train_sdf(config: SdfTrainConfig, surface: OrientedPoints, checkpoint_path: Optional[Path] = None,
              resume: bool = False, progress: bool = True) -> FittedModel:
    """Fit ``config.model`` to the normalised ``surface`` for ``config.steps`` steps in total.

    Saves a checkpoint every ``config.checkpoint_every`` steps, at the end, and on Ctrl-C; with
    ``resume`` and an existing checkpoint the run continues from its step (raising ``steps`` extends it).
    """
    net = build_model(config)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    sampler = SdfBatchSampler(surface, config.on_surface, seed=config.seed)
    # training_step is looked up at each call, so a test can replace it to interrupt a run.
    return fit(net, optimizer, lambda batch: training_step(net, optimizer, batch, config.backend), sampler,
               config.steps, checkpoint_path, config.checkpoint_every, asdict(config), ARCHITECTURE_FIELDS, resume,
               label=f"fit-sdf {config.model}", progress=progress)


def time_training_steps(config: SdfTrainConfig, surface: OrientedPoints,
                        backends: Sequence[str] = ("fused", "reference"), steps: int = 20,
                        warmup_steps: int = 3) -> Dict[str, StepTiming]:
    """Median and mean step time per backend for ``config``'s SIREN and batch size (its ``backend`` is ignored)."""
    if config.model != "siren":
        raise ValueError(f"backends only differ for the siren model, got model={config.model!r}")
    return time_backend_steps(build_model(config), training_step,
                              SdfBatchSampler(surface, config.on_surface, seed=config.seed),
                              functools.partial(torch.optim.Adam, lr=config.lr), backends, steps, warmup_steps)
