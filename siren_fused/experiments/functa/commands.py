"""``siren-fused functa``: functa-style modulated SIRENs (Dupont et al., 2022, "From data to functa"). One SIREN is
shared by every image; an image is a latent code that a linear map turns into shifts of the SIREN's hidden layers
(functa's ``LatentModulatedSiren``, shift modulations), fitted by a few gradient steps from zero. The shared network
is meta-learned so that those few steps go far (first order: see siren_fused.experiments.functa.training). Scored on
held-out images by test PSNR against the number of inner steps, functa's table; the images are those the
``hypernet`` command loads, so the two commands' test PSNRs compare.

The command writes ``<out>/functa.png`` (held-out reconstructions after 0, 1, 3 and 10 inner steps),
``<out>/functa.json`` (test PSNR by inner steps, settings, times) and a checkpoint in ``<out>/functa/`` that
``--resume`` continues. Every step renders the batch's images through the fused modulated kernels in one call,
the shared weights one GEMM over all the images' pixels.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..command_options import add_run_options, count, format_step_time, real
from ..command_parser import add_command
from ..hypernet.commands import add_image_data_options
from ..hypernet.data import load_split
from ..training_loop import checkpoint_files
from .evaluation import evaluate
from .figures import save_inner_step_figure
from .training import FunctaConfig, time_training_steps, train_functa

REQUIRED_MODULES = ("tqdm", "skimage", "matplotlib")  # progress bar, images, figure
DEFAULTS = FunctaConfig()
# (flag, config field, type with its bounds, what it sets, functa's value) of the size and schedule options.
SIZE_OPTIONS = (("--hidden-features", "hidden", count(1), "width of the shared SIREN's hidden layers", 512),
                ("--hidden-layers", "hidden_layers", count(1), "hidden layers of the shared SIREN", 14),
                ("--latent", "latent", count(1), "width of an image's latent code", 512),
                ("--w0", "w0", real(above=0), "the SIREN's omega_0", 30.0),
                ("--batch", "batch", count(1), "images per meta-learning step", 128),
                ("--steps", "steps", count(1), "meta-learning steps", 500000),
                ("--lr", "lr", real(above=0), "outer (meta) learning rate", 3e-6),
                ("--inner-steps", "inner_steps", count(1), "inner SGD steps fitting an image's latent", 3),
                ("--inner-lr", "inner_lr", real(above=0), "inner SGD learning rate", 1e-2))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``functa`` to the ``siren-fused`` command line."""
    parser = add_command(subparsers, "functa", "meta-learn a shift-modulated SIREN over images (functa)", __doc__,
                         run_functa, REQUIRED_MODULES)
    add_image_data_options(parser, DEFAULTS.size, Path("outputs/functa"))
    training = parser.add_argument_group("training")
    for flag, name, kind, what, paper in SIZE_OPTIONS:
        training.add_argument(flag, dest=name, type=kind, default=getattr(DEFAULTS, name),
                              help=f"{what}; functa's: {paper}")
    add_run_options(training, DEFAULTS.checkpoint_every)
    parser.add_argument("--figure-images", type=count(1), default=3, help="test images in the figure")


def run_functa(args: argparse.Namespace) -> int:
    """The ``functa`` command: meta-learn (or resume), score on the test split by inner steps, write figure and JSON."""
    split = load_split(args.dataset, args.size, args.images, args.test_fraction, args.test_photos)
    config = FunctaConfig(channels=split.train.channels, size=args.size, seed=args.seed, backend=args.backend,
                          checkpoint_every=args.checkpoint_every,
                          **{name: getattr(args, name) for _, name, _, _, _ in SIZE_OPTIONS})
    checkpoint = checkpoint_files(args.out, ["functa"], args.resume, args.restart)["functa"]
    run = train_functa(config, split.train, checkpoint, args.resume)
    scores = evaluate(run.net, split.test, config.inner_lr, backend=args.backend)
    shown = sorted({int(i) for i in np.linspace(0, len(split.test) - 1, max(1, args.figure_images)).round()})
    source = str(args.images) if args.images is not None else args.dataset
    figure = save_inner_step_figure(scores, split.test.images, shown, str(args.out / "functa.png"),
                                    f"held-out {source} images, {args.size}px, by inner steps")
    psnr = scores.mean_psnr()
    record = {"dataset": source, "size": args.size, "train_images": len(split.train), "test_images": len(split.test),
              "test_sources": sorted(set(split.test.sources)), "threads": torch.get_num_threads(), "figure": figure,
              "figure_images": shown, "psnr_db_by_inner_steps": psnr, "step": run.step, "losses": run.losses,
              "train_seconds": run.train_seconds, "config": asdict(config),
              "trained_parameters": sum(p.numel() for p in run.net.parameters())}
    if args.time_backends > 0:
        timings = time_training_steps(config, split.train, steps=args.time_backends)
        record["step_time"] = {backend: asdict(timing) for backend, timing in timings.items()}
        for timing in timings.values():
            print(format_step_time(f"functa step time, {timing.backend:9}", timing.median_seconds,
                                   timing.mean_seconds, timing.steps))
    (args.out / "functa.json").write_text(json.dumps(record, indent=2))
    print("\ntest PSNR (dB) by inner steps")
    print("".join(f"{steps:>8}" for steps in psnr) + f"{'steps':>8}{'train s':>19}")
    print("".join(f"{value:>8.2f}" for value in psnr.values()) + f"{run.step:>8}{record['train_seconds']:>19.1f}")
    print(f"wrote {figure} and {args.out / 'functa.json'}")
    return 0
