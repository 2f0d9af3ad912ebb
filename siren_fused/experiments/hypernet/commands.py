"""``siren-fused hypernet``: learn a space of SIRENs (paper Sec. 4.4, Fig. 6). A set encoder turns a few pixels of
an image into a latent code, a hypernetwork turns the code into every parameter of a decoder, and the decoder
renders the whole image. Trained on random 10 to 200 context pixels per image; scored on held-out test images
from 10, 100, 1000 and all of their pixels, SIREN decoder against a ReLU + positional-encoding decoder of the same
size predicted by the same hypernetwork, trained the same way.

The command writes ``<out>/hypernet.png`` (context, reconstructions and truth for a few test images),
``<out>/hypernet.json`` (test PSNR per number of context pixels, settings, times) and a checkpoint per model in
``<out>/<model>/`` that ``--resume`` continues. The SIREN decoders of a batch run through the fused kernels in
one call (``siren_fused.jet``'s ``params``); ``--time-backends N`` times N training steps of the SIREN model with
them against the reference (``functional_call`` under ``vmap``).

The paper's settings (CelebA at 32 x 32, its ``train_img_neural_process.py``): decoder 2 -> 256 x 3 -> 3, latent
and hypernetwork 256 wide, 100 images a batch, Adam at 5e-5, 401 epochs (about 650,000 steps; a GPU job):
``--decoder-hidden 256 --decoder-layers 3 --latent 256 --hyper-hidden 256 --batch 100 --lr 5e-5 --steps
650000``.
The defaults train a 2 -> 64 x 2 -> 3 decoder from a 128-wide latent and hypernetwork, 32 images a batch, for
1,500 steps at 2e-4: minutes per model on a CPU.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

from ..baselines import SettingsError
from ..command_options import add_option, add_run_options, count, format_step_time, real
from ..command_parser import add_command
from ..training_loop import checkpoint_files
from .data import DATASETS, PHOTOS, TEST_PHOTOS, Split, load_split
from .evaluation import CONTEXT_COUNTS, context_mean_psnr, evaluate
from .figures import save_context_figure
from .model import DECODER_TITLES, DECODERS
from .training import HypernetConfig, time_training_steps, train_hypernet

REQUIRED_MODULES = ("tqdm", "skimage", "matplotlib")  # progress bar, images, figure
DEFAULTS = HypernetConfig()
# (flag, config field, bounds, what it sets, the paper's value) of the size and schedule options only hypernet has.
SIZE_OPTIONS = (("--decoder-hidden", "decoder_hidden", count(1), "the decoder's hidden width", 256),
                ("--decoder-layers", "decoder_layers", count(0), "the decoder's hidden layers", 3),
                ("--latent", "latent", count(1), "width of the latent code", 256),
                ("--hyper-hidden", "hyper_hidden", count(1), "the hypernetwork's hidden width", 256),
                ("--context-min", "context_min", count(1), "fewest context pixels of a training image", 10),
                ("--context-max", "context_max", count(1), "most context pixels of a training image", 200))


def add_image_data_options(parser: argparse.ArgumentParser, size: int, out: Path) -> None:
    """The image options (also the ``functa`` command's): --dataset, --images, --test-photos, --test-fraction,
    --size (default ``size``) and --out (default ``out``)."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, default="photos",
                      help=f"photos: tiles of scikit-image's colour photos {', '.join(PHOTOS)}, the test split the "
                           "tiles of --test-photos; faces: the 100 grey LFW faces in scikit-image")
    data.add_argument("--images", type=Path, default=None,
                      help="a folder of your images instead (one image per file, centre-cropped and resized) "
                           "(default: --dataset)")
    data.add_argument("--test-photos", nargs="+", choices=PHOTOS, default=list(TEST_PHOTOS), metavar="PHOTO",
                      help="photos held out for testing")
    data.add_argument("--test-fraction", type=real(above=0, at_most=0.99), default=0.2,
                      help="faces or --images: the fraction of images held out for testing")
    add_option(data, "size", size, paper=32)
    add_option(data, "out", out)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``hypernet`` to the ``siren-fused`` command line."""
    parser = add_command(subparsers, "hypernet", "predict SIRENs from sparse pixels with a hypernetwork (Fig. 6)",
                         __doc__, run_hypernet, REQUIRED_MODULES)
    add_image_data_options(parser, DEFAULTS.size, Path("outputs/hypernet"))

    training = parser.add_argument_group("training")
    add_option(training, "models", list(DECODERS), choices=DECODERS, nargs="+",
               help="decoders to predict, each with its own encoder and hypernetwork")
    for flag, name, kind, what, paper in SIZE_OPTIONS:
        training.add_argument(flag, type=kind, default=getattr(DEFAULTS, name), help=f"{what}; the paper's: {paper}")
    add_option(training, "batch", DEFAULTS.batch, help="training images per step, drawn at random; 0: as many as "
               "there are training images", paper=100)
    add_option(training, "steps", DEFAULTS.steps, paper="about 650,000")
    add_option(training, "lr", DEFAULTS.lr, paper="5e-5")
    add_run_options(training, DEFAULTS.checkpoint_every)
    parser.add_argument("--figure-images", type=count(1), default=2, help="test images in the figure")


def _config(model: str, args: argparse.Namespace, channels: int, train_images: int) -> HypernetConfig:
    """The model's config; ``--batch 0`` becomes the ``train_images`` count."""
    sizes = {name: getattr(args, name) for _, name, _, _, _ in SIZE_OPTIONS}
    return HypernetConfig(decoder=model, channels=channels, size=args.size, seed=args.seed, backend=args.backend,
                          checkpoint_every=args.checkpoint_every, steps=args.steps, lr=args.lr,
                          batch=args.batch or train_images, **sizes, **{
                              name: getattr(DEFAULTS, name) for name in ("latent_weight", "parameter_weight",
                                                                          "max_grad_norm", "encoder_layers")})


def _print_table(rows: List[Dict], context_mean: Dict[str, float]) -> None:
    counts = [str(pixels) for pixels in CONTEXT_COUNTS]
    print("\ntest PSNR (dB) by number of context pixels")
    print(f"{'decoder':<14}" + "".join(f"{pixels:>8}" for pixels in counts) + f"{'steps':>8}{'train s':>9}")
    for row in rows:
        print(f"{DECODER_TITLES[row['model']]:<14}" + "".join(f"{row['psnr_db'][pixels]:>8.2f}" for pixels in counts)
              + f"{row['step']:>8}{row['train_seconds']:>9.1f}")
    print(f"{'context mean':<14}" + "".join(f"{context_mean[pixels]:>8.2f}" for pixels in counts)
          + "   (each image flat at its context's mean colour)")


def run_hypernet(args: argparse.Namespace) -> int:
    """The ``hypernet`` command: train (or resume) each model, score it on the test split, write figure and JSON."""
    if not args.context_min <= args.context_max <= args.size ** 2:
        raise SettingsError(f"context pixels must satisfy --context-min <= --context-max <= --size squared "
                            f"({args.size ** 2}), got {args.context_min} and {args.context_max}")
    split: Split = load_split(args.dataset, args.size, args.images, args.test_fraction, args.test_photos)
    configs = {model: _config(model, args, split.train.channels, len(split.train)) for model in args.models}
    checkpoints = checkpoint_files(args.out, args.models, args.resume, args.restart)
    rows, scores = [], {}
    for model, config in configs.items():
        run = train_hypernet(config, split.train, checkpoints[model], args.resume)
        scores[DECODER_TITLES[model]] = result = evaluate(run.net, split.test, seed=args.seed)
        parameters = sum(p.numel() for p in run.net.parameters() if p.requires_grad)
        decoder_parameters = sum(p.numel() for p in run.net.decoder.parameters())
        rows.append({"model": model, "psnr_db": result.mean_psnr(), "step": run.step, "losses": run.losses,
                     "train_seconds": run.train_seconds,
                     "trained_parameters": parameters,
                     "decoder_parameters": decoder_parameters, "config": asdict(config)})
    shown = sorted({int(i) for i in np.linspace(0, len(split.test) - 1, max(1, args.figure_images)).round()})
    source = str(args.images) if args.images is not None else args.dataset
    figure = save_context_figure(scores, split.test.images, shown, str(args.out / "hypernet.png"),
                                 f"held-out {source} images, {args.size}px")
    context_mean = context_mean_psnr(split.test, seed=args.seed)
    record = {"dataset": source, "size": args.size, "train_images": len(split.train), "test_images": len(split.test),
              "test_sources": sorted(set(split.test.sources)), "threads": torch.get_num_threads(),
              "figure": figure, "figure_images": shown, "models": rows,
              "context_mean_psnr_db": context_mean}
    if args.time_backends > 0:
        timings = time_training_steps(_config("siren", args, split.train.channels, len(split.train)), split.train,
                                      steps=args.time_backends)
        record["siren_step_time"] = {backend: asdict(timing) for backend, timing in timings.items()}
        for timing in timings.values():
            print(format_step_time(f"SIREN-decoder step time, {timing.backend:9}", timing.median_seconds,
                                   timing.mean_seconds, timing.steps))
    (args.out / "hypernet.json").write_text(json.dumps(record, indent=2))
    _print_table(rows, context_mean)
    print(f"wrote {figure} and {args.out / 'hypernet.json'}")
    return 0
