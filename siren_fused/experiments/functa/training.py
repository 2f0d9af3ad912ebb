"""Meta-learning the shared network: each step fits a batch of images' latents by the inner loop
(:func:`fit_latents`), then takes one Adam step of the shared SIREN and latent-to-shift map on the batch's error at
those latents. First order (functa differentiates through its 3 inner steps; the fused kernels' backward is not
differentiable again, so the inner loop's latents enter the outer step as constants, as in first-order MAML)."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from ..baselines import check_settings
from ..hypernet.data import ImageSet
from ..images.data import pixel_grid
from ..training_loop import FittedModel, SeededBatches, StepTiming, fit, optimizer_step, time_backend_steps
from .fitting import fit_latents, image_errors
from .model import LatentModulatedSiren

# Settings that shape the network or the batches: a checkpoint only resumes a run that agrees on them.
ARCHITECTURE_FIELDS = ("channels", "size", "hidden", "hidden_layers", "latent", "w0", "batch", "seed")


@dataclass
class FunctaConfig:
    """Hyper-parameters of one run, sized for minutes on a CPU.

    functa's (CelebA-HQ 64 x 64): a 2 -> 512 x 15 -> 3 SIREN with w0 = 30, 512-d latents mapped to shifts by an
    MLP, 128 images a batch, 3 inner SGD steps at 1e-2, Adam at 3e-6 outer, 500,000 steps (16 GPUs). The
    defaults: 2 -> 64 x 2 -> C, 64-d latents through a linear map, 32 images a batch, 3 inner steps at 1e-2,
    Adam at 3e-4 for 600 steps.
    """

    channels: int = 3
    size: int = 32
    hidden: int = 64
    hidden_layers: int = 2
    latent: int = 64
    w0: float = 30.0
    batch: int = 32
    steps: int = 600
    lr: float = 3e-4
    inner_steps: int = 3
    inner_lr: float = 1e-2
    backend: str = "auto"
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        check_settings(self, {**dict.fromkeys(("channels", "size", "hidden", "latent", "batch", "inner_steps",
                                                "checkpoint_every"), 1),
                              **dict.fromkeys(("hidden_layers", "steps"), 0)})


class ImageBatches(SeededBatches):
    """Random batches of ``batch`` training images' pixels ``[batch, size*size, C]``."""

    def __init__(self, images: ImageSet, batch: int, seed: int) -> None:
        super().__init__(seed)
        self.pixels = images.pixels()
        self.batch = min(batch, len(images))

    def next(self) -> torch.Tensor:
        return self.pixels[torch.randperm(self.pixels.shape[0], generator=self.generator)[: self.batch]]


def build_model(config: FunctaConfig) -> LatentModulatedSiren:
    torch.manual_seed(config.seed)
    return LatentModulatedSiren(config.channels, config.hidden, config.hidden_layers, config.latent, config.w0)


def training_step(model: LatentModulatedSiren, optimizer: torch.optim.Optimizer, pixels: torch.Tensor,
                  grid: torch.Tensor, config: FunctaConfig, backend: str) -> Dict[str, float]:
    """Fit the batch's latents by the inner loop, then one outer step on the error at them."""
    latents = fit_latents(model, grid, pixels, config.inner_steps, config.inner_lr, backend)
    return optimizer_step(optimizer, {"mse": image_errors(model, grid, latents, pixels, backend).mean()})


def train_functa(config: FunctaConfig, images: ImageSet, checkpoint_path: Optional[Path] = None,
                 resume: bool = False, progress: bool = True) -> FittedModel:
    """Meta-learn ``config``'s model on ``images`` for ``config.steps`` steps in total; with ``checkpoint_path``,
    saves every ``config.checkpoint_every`` steps, at the end and on Ctrl-C, and ``resume`` continues from it."""
    images.check_shape(config.channels, config.size)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    grid = pixel_grid(config.size)
    return fit(model, optimizer, lambda pixels: training_step(model, optimizer, pixels, grid, config, config.backend),
               ImageBatches(images, config.batch, config.seed), config.steps,
               checkpoint_path, config.checkpoint_every, asdict(config), ARCHITECTURE_FIELDS, resume,
               label="functa", progress=progress)


def time_training_steps(config: FunctaConfig, images: ImageSet, backends: Sequence[str] = ("fused", "reference"),
                        steps: int = 20, warmup_steps: int = 2) -> Dict[str, StepTiming]:
    """Median and mean training-step time (inner loop and outer step) per backend on the same batches: the fused
    modulated kernels against the torch.func reference (its ``backend`` is ignored)."""
    grid = pixel_grid(config.size)

    def step(model: LatentModulatedSiren, optimizer: torch.optim.Optimizer, pixels: torch.Tensor, backend: str):
        return training_step(model, optimizer, pixels, grid, config, backend)

    return time_backend_steps(build_model(config), step, ImageBatches(images, config.batch, config.seed),
                              functools.partial(torch.optim.Adam, lr=config.lr), backends, steps, warmup_steps)
