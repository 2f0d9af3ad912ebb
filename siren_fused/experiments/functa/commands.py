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

from ..command_options import add_run_options, format_step_time
from ..hypernet.commands import add_image_data_options
from ..hypernet.data import load_split
from ..training_loop import checkpoint_file
from .evaluation import evaluate
from .figures import save_inner_step_figure
from .training import FunctaConfig, time_training_steps, train_functa

REQUIRED_MODULES = ("tqdm", "skimage", "matplotlib")  # progress bar, images, figure
DEFAULTS = FunctaConfig()
# (flag, config field, type, functa's value) of the size and schedule options.
SIZE_OPTIONS = (("--hidden", "hidden", int, 512), ("--hidden-layers", "hidden_layers", int, 14),
                ("--latent", "latent", int, 512), ("--w0", "w0", float, 30.0), ("--batch", "batch", int, 128),
                ("--steps", "steps", int, 500000), ("--lr", "lr", float, 3e-6),
                ("--inner-steps", "inner_steps", int, 3), ("--inner-lr", "inner_lr", float, 1e-2))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``functa`` to the ``siren-fused`` command line."""
    parser = subparsers.add_parser("functa", help="meta-learn a shift-modulated SIREN over images (functa)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_image_data_options(parser, DEFAULTS.size, Path("outputs/functa"))
    training = parser.add_argument_group("training")
    for flag, name, kind, paper in SIZE_OPTIONS:
        training.add_argument(flag, type=kind, default=getattr(DEFAULTS, name),
                              help=f"default %(default)s; functa {paper}")
    add_run_options(training, DEFAULTS.checkpoint_every)
    parser.add_argument("--figure-images", type=int, default=3, help="test images in the figure (default %(default)s)")
    parser.set_defaults(func=run_functa, requires=REQUIRED_MODULES)


def run_functa(args: argparse.Namespace) -> int:
    """The ``functa`` command: meta-learn (or resume), score on the test split by inner steps, write figure and JSON."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    split = load_split(args.dataset, args.size, args.images, args.test_fraction, args.test_photos)
    args.out.mkdir(parents=True, exist_ok=True)
    config = FunctaConfig(channels=split.train.channels, size=args.size, seed=args.seed, backend=args.backend,
                          checkpoint_every=args.checkpoint_every,
                          **{name: getattr(args, name) for _, name, _, _ in SIZE_OPTIONS})
    run = train_functa(config, split.train, checkpoint_file(args.out, "functa", args.resume, args.restart),
                       args.resume)
    scores = evaluate(run.net, split.test, config.inner_lr, backend=args.backend)
    shown = sorted({int(i) for i in np.linspace(0, len(split.test) - 1, max(1, args.figure_images)).round()})
    source = str(args.images) if args.images is not None else args.dataset
    figure = save_inner_step_figure(scores, split.test.images, shown, str(args.out / "functa.png"),
                                    f"held-out {source} images, {args.size}px, by inner steps")
    psnr = scores.mean_psnr()
    record = {"dataset": source, "size": args.size, "train_images": len(split.train), "test_images": len(split.test),
              "test_sources": sorted(set(split.test.sources)), "threads": torch.get_num_threads(), "figure": figure,
              "figure_images": shown, "psnr_db_by_inner_steps": psnr, "step": run.step, "losses": run.losses,
              "train_seconds": float(sum(run.step_seconds)), "config": asdict(config),
              "trained_parameters": sum(p.numel() for p in run.net.parameters())}
    if args.time_backends > 0:
        timings = time_training_steps(config, split.train, steps=args.time_backends)
        record["step_time"] = {backend: asdict(timing) for backend, timing in timings.items()}
        for timing in timings.values():
            print(format_step_time(f"functa step time, {timing.backend:9}", timing.median_seconds,
                                   timing.mean_seconds, timing.steps))
    (args.out / "functa.json").write_text(json.dumps(record, indent=2))
    print("\ntest PSNR (dB) by inner steps")
    print("".join(f"{steps:>8}" for steps in psnr) + f"{'steps':>8}{'train s, this run':>19}")
    print("".join(f"{value:>8.2f}" for value in psnr.values()) + f"{run.step:>8}{record['train_seconds']:>19.1f}")
    print(f"wrote {figure} and {args.out / 'functa.json'}")
    return 0
