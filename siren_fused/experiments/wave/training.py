"""Training a network on the wave equation's loss, with checkpoints that resume where an interrupted run stopped.

A SIREN's residual u_tt - c^2 (u_xx + u_yy) is its jet's weighted Laplacian (``laplacian_weights=(1, -c^2,
-c^2)``): value, 3 tangents and one second-order component a point, where the full Hessian carries 6. The
Hessian's weighted trace gives the same residual (``hessian=True``), which the step timing compares.
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
from .problem import WaveBatch, WaveBatches, wave_loss_terms, wave_operator_weights

ARCHITECTURE_FIELDS = ("model", "hidden_features", "hidden_layers", "points", "final_window", "window_growth",
                       "pulse_variance", "wide_pulse_variance", "narrowing", "steps", "seed")
# The step-timing variants: (jet backend, whether the residual comes from the full Hessian).
TIMED_VARIANTS = {"fused": ("fused", False), "reference": ("reference", False), "fused_hessian": ("fused", True)}


@dataclass
class WaveConfig:
    """Hyper-parameters of one wave-equation fit, sized for a CPU run of minutes.

    The paper's (its code release): 3 -> 512 x 3 -> 1 with omega_0 = 30, 340^2 = 115,600 points a batch, Adam at
    learning rate 2e-5 for 100,000 steps, the time window growing to 0.4 over the whole run, and a pulse of
    variance 5e-4. The default is a smaller network on small batches at a larger rate that falls along a cosine
    to 2% of itself (``cosine_schedule``; ``final_lr_ratio`` 1 keeps it constant, as the paper does); the
    window grows over the first ``window_growth`` of the steps, so that the last ones train on the whole of it,
    and the pulse is 4.5 times as wide (variance 0.01): at this size the paper's pulse is not learned
    (``benchmarks/RESULTS.md``). ``steps`` sets the window's rate, which is why a checkpoint resumes only a run
    of the same length. A ``wide_pulse_variance`` (0: off) starts the run from that wider pulse, narrowing to
    ``pulse_variance`` over the first ``narrowing`` of the steps (:class:`.problem.WaveBatches`).
    """

    model: str = "siren"
    hidden_features: int = 128
    hidden_layers: int = 3
    points: int = 4096
    steps: int = 1500
    lr: float = 3e-4
    final_lr_ratio: float = 0.02
    final_window: float = 0.4
    window_growth: float = 0.7
    pulse_variance: float = 0.01
    wide_pulse_variance: float = 0.0
    narrowing: float = 0.5
    backend: str = "auto"
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        check_model_settings(self, {"hidden_features": 1, "points": 1, "checkpoint_every": 1, "steps": 1,
                                    "hidden_layers": 0}, unit_intervals=("final_lr_ratio",))
        if self.final_window <= 0:
            raise SettingsError(f"final_window must be > 0, got {self.final_window}")
        if not 0 < self.window_growth <= 1:
            raise SettingsError(f"window_growth must be in (0, 1], got {self.window_growth}")
        if not self.pulse_variance > 0:
            raise SettingsError(f"pulse_variance must be > 0, got {self.pulse_variance}")
        if self.wide_pulse_variance < 0 or not 0 < self.narrowing <= 1:
            raise SettingsError(f"wide_pulse_variance must be >= 0 and narrowing in (0, 1], got "
                                f"{self.wide_pulse_variance} and {self.narrowing}")


def build_model(config: WaveConfig) -> nn.Module:
    """A fresh (t, x, y) -> u network of the configured kind, initialised from ``config.seed``."""
    torch.manual_seed(config.seed)
    return MODELS[config.model](3, config.hidden_features, config.hidden_layers, 1)


def make_batches(config: WaveConfig) -> WaveBatches:
    growth_steps = max(1, round(config.window_growth * config.steps))
    return WaveBatches(config.points, config.final_window, growth_steps, config.pulse_variance, seed=config.seed,
                       wide_pulse_variance=config.wide_pulse_variance or None,
                       narrowing_batches=round(config.narrowing * config.steps))


def loss_terms(net: nn.Module, batch: WaveBatch, backend: str = "auto",
               hessian: bool = False) -> Dict[str, torch.Tensor]:
    jet = network_jet(net, batch.points, 2, hessian=hessian, backend=backend,
                      laplacian_weights=wave_operator_weights())
    return wave_loss_terms(jet.value[:, 0], jet.grad[:, 0, 0], jet.laplacian[:, 0], batch)


def training_step(net: nn.Module, optimizer: torch.optim.Optimizer, batch: WaveBatch, backend: str = "auto",
                  hessian: bool = False) -> Dict[str, float]:
    """One Adam step on the loss; returns its terms and their sum as floats."""
    return optimizer_step(optimizer, loss_terms(net, batch, backend, hessian))


def train_wave(config: WaveConfig, checkpoint_path: Optional[Path] = None, resume: bool = False,
               progress: bool = True, evaluation: Optional[Evaluation] = None) -> FittedModel:
    """Fit ``config.model`` for ``config.steps`` steps, saving a checkpoint every ``config.checkpoint_every``
    steps, at the end and on Ctrl-C; ``resume`` continues from an existing one. ``evaluation`` scores the
    network as it trains (the result's ``history``)."""
    net = build_model(config)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    # training_step is looked up at each call, so a test can replace it to interrupt a run.
    return fit(net, optimizer, lambda batch: training_step(net, optimizer, batch, config.backend),
               make_batches(config), config.steps, checkpoint_path, config.checkpoint_every, asdict(config),
               ARCHITECTURE_FIELDS, resume, label=f"wave {config.model}", progress=progress,
               scheduler=cosine_schedule(optimizer, config.steps, config.final_lr_ratio), evaluation=evaluation)


def time_training_steps(config: WaveConfig, variants: Sequence[str] = tuple(TIMED_VARIANTS), steps: int = 20,
                        warmup_steps: int = 2) -> Dict[str, StepTiming]:
    """Median and mean SIREN step time per variant of :data:`TIMED_VARIANTS`, on the same batches (drawn from
    the middle of the window's growth, so every batch spans time)."""
    batches = make_batches(config)
    batches.drawn = batches.growth_steps // 2

    def step(net, optimizer, batch, variant):
        return training_step(net, optimizer, batch, *TIMED_VARIANTS[variant])

    net = build_model(WaveConfig(**{**asdict(config), "model": "siren"}))
    return time_backend_steps(net, step, batches, functools.partial(torch.optim.Adam, lr=config.lr), variants, steps,
                              warmup_steps)
