"""Fitting networks to a sampled signal's values (a waveform, a video): Adam on the mean squared error over
random batches of samples, through the shared training loop with checkpoints that resume; the fitted signal
rendered back over all its samples in chunks; and the command-line settings the signal commands share.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import torch
from torch import nn

from ..chunked import Points, evaluate_in_chunks
from .command_options import add_option, add_run_options
from .training_loop import Checkpoint, SeededBatches, checkpoint_files, train

RENDER_CHUNK = 65_536  # samples per forward pass when rendering: 64 MB of activations a layer at 256 wide


class SampleBatches(SeededBatches):
    """Random mini-batches of sample indices (drawn with replacement); all samples when ``batch`` covers them."""

    def __init__(self, samples: int, batch: int, seed: int) -> None:
        super().__init__(seed)
        self.samples = samples
        self.batch = samples if batch <= 0 else min(batch, samples)

    def next(self) -> Optional[torch.Tensor]:
        """Indices of the next batch, or None for every sample."""
        if self.batch == self.samples:
            return None
        return torch.randint(0, self.samples, (self.batch,), generator=self.generator)


@dataclass
class SignalFit:
    """A fitted network, the step it reached, the training loop's wall time over every run that led there (a
    resumed run adds its own to the checkpoint's) and its last loss."""

    net: nn.Module
    step: int
    seconds: float
    final_loss: float


def fit_signal(net: nn.Module, coords: torch.Tensor, values: torch.Tensor, steps: int, lr: float, batch: int,
               seed: int, checkpoint_path: Optional[Path] = None, checkpoint_every: int = 100,
               settings: Mapping[str, Any] = (), resume: bool = False, label: str = "fit",
               progress: bool = True) -> SignalFit:
    """Adam on ``mean((net(coords) - values) ** 2)`` over batches of ``batch`` samples (0: all), ``steps`` in total.

    With ``checkpoint_path``, saves every ``checkpoint_every`` steps, at the end and on Ctrl-C; ``resume``
    continues from an existing checkpoint, which must have been written with the same ``settings`` (those
    that shape the network, the signal and the batches).
    """
    if coords.shape[0] != values.shape[0]:
        raise ValueError(f"coords and values must have one row per sample, got {coords.shape[0]} and "
                         f"{values.shape[0]} rows")
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    batches = SampleBatches(coords.shape[0], batch, seed)

    def step(index: Optional[torch.Tensor]) -> Dict[str, float]:
        x, y = (coords, values) if index is None else (coords[index], values[index])
        optimizer.zero_grad(set_to_none=True)
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.detach())}

    settings = dict(settings)
    checkpoint = None if checkpoint_path is None else Checkpoint(
        checkpoint_path, checkpoint_every, {"model": net, "optimizer": optimizer}, settings, tuple(settings))
    run = train(step, batches, steps, checkpoint, resume, label=label, progress=progress)
    return SignalFit(net, run.step, run.total_seconds, run.losses.get("loss", float("nan")))


@torch.no_grad()
def render(net: nn.Module, points: Points, chunk_size: int = RENDER_CHUNK, progress: bool = False) -> torch.Tensor:
    """The network's values ``[N, out]`` at every point, a chunk at a time (:func:`siren_fused.evaluate_in_chunks`)."""
    return evaluate_in_chunks(net, points, chunk_size, progress, description="rendering")


def add_signal_fit_arguments(parser: argparse.ArgumentParser, models: Sequence[str], hidden: int, steps: int,
                             batch: int) -> None:
    """The settings every signal command shares; the defaults given are the command's CPU-sized ones."""
    add_option(parser, "models", list(models), choices=list(models), nargs="+")
    add_option(parser, "hidden_features", hidden)
    add_option(parser, "hidden_layers", 3, paper=3)
    add_option(parser, "steps", steps)
    add_option(parser, "lr", 1e-4, paper="1e-4")
    add_option(parser, "batch", batch)
    add_run_options(parser, checkpoint_every=100, time_backends=False)


def fit_models(builders: Mapping[str, Callable[[], nn.Module]], coords: torch.Tensor, values: torch.Tensor,
               args: argparse.Namespace, out: Path, settings: Mapping[str, Any]) -> Dict[str, SignalFit]:
    """Fit each model built by ``builders`` (from ``args.seed``) with the shared settings, checkpointing to
    ``out/<model>/checkpoint.pt``; ``settings`` describe the signal, for the checkpoints to match."""
    fits = {}
    checkpoints = checkpoint_files(out, list(builders), args.resume, args.restart)
    for name, build in builders.items():
        torch.manual_seed(args.seed)  # every model starts from the same seed, as in a paired comparison
        # The keys "hidden" and "layers" are those of the checkpoints written before the options' renaming.
        shared = {**settings, "model": name, "hidden": args.hidden_features, "layers": args.hidden_layers,
                  "batch": args.batch, "lr": args.lr, "seed": args.seed}
        fits[name] = fit_signal(build(), coords, values, args.steps, args.lr, args.batch, args.seed,
                                checkpoints[name], args.checkpoint_every, shared, args.resume, label=name)
    return fits
