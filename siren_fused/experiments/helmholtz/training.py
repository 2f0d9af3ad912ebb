"""Training a network on the Helmholtz residual, with checkpoints that resume where an interrupted run stopped.

The loss is the release's ``helmholtz_pml``: the L1 norm of the residual's real and imaginary parts, summed,
split in two terms. Where the source is nonzero, |residual - f| weighted by N / 1000 (N points a batch), so that
the hundred source samples count against the thousands elsewhere; everywhere else |residual|.

The residual needs u_xx and u_yy apart (the layer weights them with different complex functions of x), so
the SIREN's jet is the full Hessian (``hessian=True``: 3 second-order components at D = 2) rather than a
Laplacian. The baselines' jets come from autograd.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from ..baselines import MODELS, SettingsError, check_model_settings, network_jet
from ..training_loop import (Evaluation, FittedModel, StepTiming, cosine_schedule, fit, optimizer_step,
                             time_backend_steps)
from .problem import INNER_FRACTION, VELOCITIES, HelmholtzBatch, HelmholtzBatches, helmholtz_operator

# Settings that shape the network or the batches: a checkpoint only resumes a run that agrees on them.
ARCHITECTURE_FIELDS = ("model", "hidden_features", "hidden_layers", "points", "inner_fraction", "velocity",
                       "absorption", "absorption_steps", "seed")
SOURCE_TERM_WEIGHT_PER_POINT = 1e-3  # the release's N / 1e3


@dataclass
class HelmholtzConfig:
    """Hyper-parameters of one Helmholtz fit, sized for a CPU run of minutes.

    The paper's (its code release): 2 -> 256 x 3 -> 2 with omega_0 = 30, 230^2 = 52,900 points a batch,
    Adam at learning rate 2e-5 for 50,000 steps. The default is a 64-wide network of the same depth on small
    batches for a short run (the baselines' derivatives go through autograd, whose Hessian of a 256-wide network
    takes over a second a step on a 2-core CPU), at a larger rate that falls along a cosine to 2% of itself
    (``cosine_schedule``; ``final_lr_ratio`` 1 keeps it constant, as the paper does), with half of the points
    away from the source drawn inside the layer (``inner_fraction``, see :mod:`.problem`), and a medium that
    absorbs at first: k^2 becomes k^2 (1 - i eps), eps falling linearly from ``absorption`` to 0 over the first
    ``absorption_steps`` steps (0: the release's lossless medium throughout; see :mod:`.problem` for why).
    """

    model: str = "siren"
    hidden_features: int = 64
    hidden_layers: int = 3
    points: int = 2048
    steps: int = 1500
    lr: float = 3e-4
    final_lr_ratio: float = 0.02
    inner_fraction: float = INNER_FRACTION
    velocity: str = "uniform"
    absorption: float = 1.0
    absorption_steps: int = 750
    backend: str = "auto"
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        check_model_settings(self, {"hidden_features": 1, "points": 1, "checkpoint_every": 1, "steps": 0,
                                    "hidden_layers": 0, "absorption": 0, "absorption_steps": 0},
                             unit_intervals=("final_lr_ratio", "inner_fraction"))
        if self.velocity not in VELOCITIES:
            raise SettingsError(f"velocity must be one of {VELOCITIES}, got {self.velocity!r}")


def build_model(config: HelmholtzConfig) -> nn.Module:
    """A fresh 2 -> 2 network (real and imaginary part) of the configured kind, initialised from ``config.seed``."""
    torch.manual_seed(config.seed)
    return MODELS[config.model](2, config.hidden_features, config.hidden_layers, 2)


def make_batches(config: HelmholtzConfig) -> HelmholtzBatches:
    return HelmholtzBatches(config.points, config.velocity, seed=config.seed, inner_fraction=config.inner_fraction,
                            absorption=config.absorption, absorption_batches=config.absorption_steps)


def loss_terms(net: nn.Module, batch: HelmholtzBatch, backend: str = "auto") -> Dict[str, torch.Tensor]:
    """The release's two residual terms on ``batch``."""
    jet = network_jet(net, batch.points, 2, hessian=True, backend=backend)
    residual = helmholtz_operator(jet.value, jet.grad, jet.hessian, batch.pml, batch.slowness, batch.absorption)
    at_source = batch.source != 0
    misfit = torch.where(at_source, residual - batch.source, residual)
    l1 = misfit.real.abs() + misfit.imag.abs()
    weight = SOURCE_TERM_WEIGHT_PER_POINT * batch.points.shape[0]
    return {"source": (l1 * at_source).sum() * weight, "residual": (l1 * ~at_source).sum()}


def training_step(net: nn.Module, optimizer: torch.optim.Optimizer, batch: HelmholtzBatch,
                  backend: str = "auto") -> Dict[str, float]:
    """One Adam step on the loss; returns its terms and their sum as floats."""
    return optimizer_step(optimizer, loss_terms(net, batch, backend))


def train_helmholtz(config: HelmholtzConfig, checkpoint_path: Optional[Path] = None, resume: bool = False,
                    progress: bool = True, evaluation: Optional[Evaluation] = None) -> FittedModel:
    """Fit ``config.model`` for ``config.steps`` steps in total, saving a checkpoint every
    ``config.checkpoint_every`` steps, at the end and on Ctrl-C; ``resume`` continues from an existing one.
    ``evaluation`` scores the network as it trains (the result's ``history``)."""
    net = build_model(config)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    batches = make_batches(config)
    # training_step is looked up at each call, so a test can replace it to interrupt a run.
    return fit(net, optimizer, lambda batch: training_step(net, optimizer, batch, config.backend), batches,
               config.steps, checkpoint_path, config.checkpoint_every, asdict(config), ARCHITECTURE_FIELDS, resume,
               label=f"helmholtz {config.model}", progress=progress,
               scheduler=cosine_schedule(optimizer, max(1, config.steps), config.final_lr_ratio), evaluation=evaluation)


def time_training_steps(config: HelmholtzConfig, backends: Sequence[str] = ("fused", "reference"), steps: int = 20,
                        warmup_steps: int = 2) -> Dict[str, StepTiming]:
    """Median and mean step time per jet backend for ``config``'s SIREN and batch (its ``backend`` is ignored)."""
    net = build_model(HelmholtzConfig(**{**asdict(config), "model": "siren"}))
    return time_backend_steps(net, training_step, make_batches(config),
                              functools.partial(torch.optim.Adam, lr=config.lr), backends, steps, warmup_steps)
