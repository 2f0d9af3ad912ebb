"""Training the set encoder and hypernetwork on the paper's loss, with checkpoints that resume.

The loss (the release's ``image_hypernetwork_loss``): the mean squared error of the predicted decoder over every
pixel of the image, plus 0.1 times the mean square of the latent codes, plus 100 times the mean square of all
predicted decoder parameters. Adam, with the gradient norm clipped to 1 as the release's training loop does.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from ..baselines import SettingsError, check_settings
from ..images.data import pixel_grid
from ..training_loop import FittedModel, StepTiming, fit, optimizer_step, time_backend_steps
from .data import ContextBatch, ContextBatches, ImageSet
from .model import DECODERS, ImageHypernetwork, build_decoder

# Settings that shape the networks or the batches: a checkpoint only resumes a run that agrees on them.
ARCHITECTURE_FIELDS = ("decoder", "channels", "size", "decoder_hidden", "decoder_layers", "latent", "hyper_hidden",
                       "encoder_layers", "batch", "context_min", "context_max", "seed")


@dataclass
class HypernetConfig:
    """Hyper-parameters of one hypernetwork run, sized for a CPU run of minutes.

    The paper's (its ``train_img_neural_process.py``): a 2 -> 256 x 3 -> C SIREN decoder, a 256-wide latent
    and hypernetwork, 100 images a batch, Adam at 5e-5 for 401 epochs of CelebA (about 650,000 steps). The
    defaults shrink the decoder, the latent, the batch and the run (minutes of CPU time a model), and take a
    larger learning rate to get somewhere in that time.
    """

    decoder: str = "siren"
    channels: int = 3
    size: int = 32
    decoder_hidden: int = 64
    decoder_layers: int = 2
    latent: int = 128
    hyper_hidden: int = 128
    encoder_layers: int = 2
    batch: int = 32
    context_min: int = 10
    context_max: int = 200
    steps: int = 1500
    lr: float = 2e-4
    latent_weight: float = 0.1
    parameter_weight: float = 100.0
    max_grad_norm: float = 1.0
    backend: str = "auto"
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise SettingsError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        check_settings(self, {**dict.fromkeys(("channels", "size", "decoder_hidden", "latent", "hyper_hidden", "batch",
                                                "context_min", "checkpoint_every"), 1),
                              **dict.fromkeys(("decoder_layers", "encoder_layers", "steps"), 0)})


def build_model(config: HypernetConfig) -> ImageHypernetwork:
    """A fresh encoder, hypernetwork and decoder template as configured, initialised from ``config.seed``."""
    torch.manual_seed(config.seed)
    decoder = build_decoder(config.decoder, config.decoder_hidden, config.decoder_layers, config.channels,
                            config.size)
    return ImageHypernetwork(decoder, config.channels, config.latent, config.hyper_hidden, config.encoder_layers)


def loss_terms(model: ImageHypernetwork, batch: ContextBatch, grid: torch.Tensor, config: HypernetConfig,
               backend: str = "auto") -> Dict[str, torch.Tensor]:
    """The paper's three terms: image MSE over every pixel, latent and parameter penalties, each weighted."""
    z, params = model(batch.coords, batch.values, batch.mask)
    reconstruction = model.reconstruct(grid, params, backend)
    squares = sum(theta.pow(2).sum() for theta in params.values())
    entries = sum(theta.numel() for theta in params.values())
    return {"image": (reconstruction - batch.pixels).pow(2).mean(),
            "latent": config.latent_weight * z.pow(2).mean(),
            "parameters": config.parameter_weight * squares / entries}


def training_step(model: ImageHypernetwork, optimizer: torch.optim.Optimizer, batch: ContextBatch,
                  grid: torch.Tensor, config: HypernetConfig) -> Dict[str, float]:
    return optimizer_step(optimizer, loss_terms(model, batch, grid, config, config.backend), config.max_grad_norm)


def train_hypernet(config: HypernetConfig, train_images: ImageSet, checkpoint_path: Optional[Path] = None,
                   resume: bool = False, progress: bool = True) -> FittedModel:
    """Train ``config``'s model on ``train_images`` for ``config.steps`` steps in total; with ``checkpoint_path``,
    saves every ``config.checkpoint_every`` steps, at the end and on Ctrl-C, and ``resume`` continues from it."""
    train_images.check_shape(config.channels, config.size)
    model = build_model(config)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    batches = ContextBatches(train_images, config.batch, config.context_min, config.context_max, config.seed)
    grid = pixel_grid(config.size)
    return fit(model, optimizer, lambda batch: training_step(model, optimizer, batch, grid, config), batches,
               config.steps, checkpoint_path, config.checkpoint_every, asdict(config), ARCHITECTURE_FIELDS, resume,
               label=f"hypernet {config.decoder}", progress=progress)


def time_training_steps(config: HypernetConfig, train_images: ImageSet, backends: Sequence[str] = ("fused", "reference"),
                        steps: int = 20, warmup_steps: int = 2) -> Dict[str, StepTiming]:
    """Median and mean training-step time per decoder backend for ``config``'s model on the same batches (its
    ``backend`` is ignored): the fused batched kernels against ``functional_call`` under ``vmap``."""
    grid = pixel_grid(config.size)

    def step(model: ImageHypernetwork, optimizer: torch.optim.Optimizer, batch: ContextBatch, backend: str):
        return optimizer_step(optimizer, loss_terms(model, batch, grid, config, backend), config.max_grad_norm)

    batches = ContextBatches(train_images, config.batch, config.context_min, config.context_max, config.seed)
    return time_backend_steps(build_model(config), step, batches, functools.partial(torch.optim.Adam, lr=config.lr),
                              backends, steps, warmup_steps)
