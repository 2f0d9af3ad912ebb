"""The paper's image experiments as commands: ``demo``, ``fit-image``, ``poisson`` and ``compose``.

Defaults finish in about a minute on a laptop CPU; ``--size 256 --hidden-features 256 --hidden-layers 3 --steps
10000 --lr 1e-4 --batch 0`` are the paper's settings (``--batch 0`` trains on every pixel each step). Each command
keeps a checkpoint per network in its output folder, which ``--resume`` continues.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch

from ...modules import Siren
from ...timing import median_time
from ..baselines import MODELS
from ..command_options import add_option, add_run_options, count, real
from ..command_parser import add_command
from ..training_loop import checkpoint_files
from .data import (SAMPLE_IMAGES, TARGET_SCALINGS, align_unseen_part, load_image, pixel_grid, poisson_target, psnr,
                   reconstruction_scale, true_derivatives)
from .figures import Derivatives, save_derivative_grid, save_image_row
from .training import TrainingRun, evaluate_jet, time_backends_per_step, train_image_network

IN_FEATURES, OUT_FEATURES = 2, 1  # (row, column) -> grey level
REQUIRED_MODULES = ("tqdm", "skimage", "scipy", "matplotlib")  # images, targets, figures, progress bar
PAPER = {"size": 256, "hidden_features": 256, "hidden_layers": 3, "steps": 10_000, "lr": 1e-4, "batch": "0 (all)"}

DEMO_DESCRIPTION = """Fit the cameraman image (or --image) with a SIREN, then evaluate its value, gradient and
Laplacian at every pixel from the fused jet and time it against autograd (Fig. 1). Writes <out>/demo.png and
<out>/demo.json, and a checkpoint that --resume continues. About a minute on a 2-core CPU."""
FIT_DESCRIPTION = """Fit an image with a SIREN and the paper's baselines (ReLU, ReLU with positional encoding,
tanh) of the same size, trained the same way, and compare their value, gradient and Laplacian with the image's
(Fig. 1). Writes <out>/fit.png and <out>/fit.json, and a checkpoint per network that --resume continues."""
POISSON_DESCRIPTION = """Reconstruct an image from its gradients (Sobel) or its Laplacian only (Fig. 3), SIREN
against the baselines, each supervised through its own derivatives (the SIREN's from the fused jet). Writes
<out>/<target>.png and <out>/<target>.json, and a checkpoint per network that --resume continues."""
COMPOSE_DESCRIPTION = """Blend two images in the gradient domain (Fig. 3): a SIREN fitted to a weighted sum of
their gradients, scored against the same blend of the images. Writes <out>/compose.png and <out>/compose.json,
and a checkpoint that --resume continues."""


def _image_arguments(parser: argparse.ArgumentParser, command: str, size: int, hidden: int, steps: int,
                     batch: int) -> None:
    parser.add_argument("--image", default="camera",
                        help=f"an image file, or a scikit-image sample: {', '.join(SAMPLE_IMAGES)}")
    add_option(parser, "size", size, paper=PAPER["size"])
    add_option(parser, "hidden_features", hidden, paper=PAPER["hidden_features"])
    add_option(parser, "hidden_layers", 3, paper=PAPER["hidden_layers"])
    add_option(parser, "steps", steps, paper=PAPER["steps"])
    add_option(parser, "lr", 1e-4, paper=PAPER["lr"])
    add_option(parser, "batch", batch, help="pixels per training step, drawn at random; 0: every pixel",
               paper=PAPER["batch"])
    add_run_options(parser, checkpoint_every=100, time_backends=False)
    add_option(parser, "out", Path("outputs") / command)


def _comparison_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "models", list(MODELS), choices=list(MODELS), nargs="+")


def _scaling_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scaling", choices=TARGET_SCALINGS, default="paper",
                        help="paper: the paper's constants (image x10 before Sobel, x1e4 before Laplace); "
                             "unit: true derivatives in grid units")


def _network(name: str, args: argparse.Namespace) -> torch.nn.Module:
    torch.manual_seed(args.seed)  # every model starts from the same seed, as in a paired comparison
    return MODELS[name](IN_FEATURES, args.hidden_features, args.hidden_layers, OUT_FEATURES)


def _supervision(image: np.ndarray, task: str, args: argparse.Namespace) -> torch.Tensor:
    if task == "fit":
        return torch.from_numpy(image.reshape(-1, 1))
    return poisson_target(image, task, args.scaling)


def _reconstruct(net: torch.nn.Module, coords: torch.Tensor, truth: np.ndarray, task: str, scale: float,
                 backend: str) -> Derivatives:
    """The net's image and derivatives in image units, with the part the supervision cannot see fitted."""
    size = truth.shape[0]
    result = evaluate_jet(net, coords, backend)
    image = (result.value[:, 0] / scale).reshape(size, size).numpy()
    grad_norm = (result.grad[:, 0, :].norm(dim=-1) / scale).reshape(size, size).numpy()
    laplacian = (result.laplacian[:, 0] / scale).reshape(size, size).numpy()
    return Derivatives(align_unseen_part(image, truth, task), grad_norm, laplacian)


def _ground_truth(image: np.ndarray) -> Derivatives:
    grad_norm, laplacian = true_derivatives(image)
    return Derivatives(image, grad_norm, laplacian)


def _write_json(record: Dict, path: Path) -> None:
    with open(path, "w") as handle:
        json.dump(record, handle, indent=2)


def _print_table(task: str, rows: List[Dict]) -> None:
    print(f"\n{task}: PSNR against the ground truth image")
    print(f"{'model':<10}{'PSNR dB':>9}{'train s':>10}{'final loss':>13}")
    for row in rows:
        print(f"{row['model']:<10}{row['psnr_db']:>9.2f}{row['train_seconds']:>10.1f}{row['final_loss']:>13.4g}")


def _checkpoints(args: argparse.Namespace, task: str, models: List[str]) -> Dict[str, Path]:
    """Each model's checkpoint, <out>/<task>-<model>/checkpoint.pt (poisson's two targets share a folder), all
    checked before anything trains."""
    paths = checkpoint_files(args.out, [f"{task}-{name}" for name in models], args.resume, args.restart)
    return {name: paths[f"{task}-{name}"] for name in models}


def _train(args: argparse.Namespace, name: str, coords: torch.Tensor, target: torch.Tensor, task: str,
           checkpoint: Path, label: str, inputs: Dict) -> TrainingRun:
    """Train (or resume) model ``name`` on ``task``; a resumed checkpoint must share the settings that shape the
    network, the target (``inputs``: the images and how they were combined) and the batches."""
    settings = {"task": task, "model": name, "size": args.size, "hidden_features": args.hidden_features,
                "hidden_layers": args.hidden_layers, "lr": args.lr, "batch": args.batch, "seed": args.seed, **inputs}
    return train_image_network(_network(name, args), coords, target, task, args.steps, args.lr, args.batch,
                               args.backend, args.seed, label, checkpoint, args.checkpoint_every, settings,
                               args.resume)


def run_comparison(args: argparse.Namespace, task: str) -> Dict:
    """Train every requested model on ``task`` (fit, grad or laplacian); write the figure and the JSON."""
    truth = load_image(args.image, args.size)
    checkpoints = _checkpoints(args, task, args.models)
    coords = pixel_grid(args.size)
    target = _supervision(truth, task, args)
    scale = 1.0 if task == "fit" else reconstruction_scale(task, args.size, args.scaling)
    inputs = {"image": args.image} if task == "fit" else {"image": args.image, "scaling": args.scaling}
    columns = {"ground truth": _ground_truth(truth)}
    rows = []
    record: Dict = {"task": task, "image": args.image, "size": args.size, "hidden_features": args.hidden_features,
                    "hidden_layers": args.hidden_layers, "steps": args.steps, "lr": args.lr, "batch": args.batch,
                    "backend": args.backend, "threads": torch.get_num_threads(), "models": rows}
    for name in args.models:
        run = _train(args, name, coords, target, task, checkpoints[name], f"{task} {name}", inputs)
        columns[name] = _reconstruct(run.net, coords, truth, task, scale, args.backend)
        rows.append({"model": name, "psnr_db": psnr(columns[name].image, truth), "train_seconds": run.seconds,
                     "step": run.step, "final_loss": run.final_loss})
        if task != "fit" and isinstance(run.net, Siren) and args.time_backends > 0:
            record["siren_seconds_per_step"] = time_backends_per_step(
                run.net, coords, target, task, args.time_backends, args.lr, args.batch, args.seed)
    _print_table(task, rows)
    if "siren_seconds_per_step" in record:
        times = record["siren_seconds_per_step"]
        print(f"SIREN per training step (median): fused {times['fused'] * 1e3:.1f} ms, reference "
              f"{times['reference'] * 1e3:.1f} ms ({times['reference'] / times['fused']:.2f}x)")
    record["figure"] = save_derivative_grid(columns, str(args.out / f"{task}.png"),
                                            f"{task} on {args.image} {args.size}px, {args.steps} steps")
    _write_json(record, args.out / f"{task}.json")
    print(f"wrote {record['figure']} and {args.out / (task + '.json')}")
    return record


def run_demo(args: argparse.Namespace) -> Dict:
    """Fit an image with a SIREN, then time its fused jet against autograd on every pixel (Fig. 1)."""
    truth = load_image(args.image, args.size)
    checkpoint = _checkpoints(args, "fit", ["siren"])["siren"]
    coords = pixel_grid(args.size)
    run = _train(args, "siren", coords, torch.from_numpy(truth.reshape(-1, 1)), "fit", checkpoint, "fitting SIREN",
                 {"image": args.image})
    fitted = _reconstruct(run.net, coords, truth, "fit", 1.0, args.backend)
    seconds = {backend: median_time(lambda: evaluate_jet(run.net, coords, backend), args.timing_repeats)
               for backend in ("fused", "reference")}
    record = {"image": args.image, "size": args.size, "steps": args.steps, "train_seconds": run.seconds,
              "psnr_db": psnr(fitted.image, truth), "jet_seconds": seconds, "pixels": coords.shape[0]}
    record["figure"] = save_derivative_grid({"ground truth": _ground_truth(truth), "SIREN (fused jet)": fitted},
                                            str(args.out / "demo.png"))
    _write_json(record, args.out / "demo.json")
    print(f"PSNR {record['psnr_db']:.2f} dB after {run.step} steps ({run.seconds:.1f} s)")
    print(f"value + gradient + Laplacian at {coords.shape[0]} pixels: fused {seconds['fused'] * 1e3:.1f} ms, "
          f"autograd reference {seconds['reference'] * 1e3:.1f} ms "
          f"({seconds['reference'] / seconds['fused']:.2f}x)")
    print(f"wrote {record['figure']}")
    return record


def run_compose(args: argparse.Namespace) -> Dict:
    """Fit a SIREN to the blend of two images' gradients (Fig. 3) and show the image it recovers."""
    first, second = load_image(args.image, args.size), load_image(args.second_image, args.size)
    checkpoint = _checkpoints(args, "grad", ["siren"])["siren"]
    blended_gradient = (args.alpha * poisson_target(first, "grad", args.scaling)
                        + (1.0 - args.alpha) * poisson_target(second, "grad", args.scaling))
    # The gradient is linear, so the image these gradients belong to is the same blend of the two images.
    blend = args.alpha * first + (1.0 - args.alpha) * second
    coords = pixel_grid(args.size)
    run = _train(args, "siren", coords, blended_gradient, "grad", checkpoint, "composing SIREN",
                 {"images": [args.image, args.second_image], "alpha": args.alpha, "scaling": args.scaling})
    scale = reconstruction_scale("grad", args.size, args.scaling)
    composed = _reconstruct(run.net, coords, blend, "grad", scale, args.backend)
    record = {"images": [args.image, args.second_image], "alpha": args.alpha, "size": args.size,
              "steps": args.steps, "train_seconds": run.seconds, "psnr_vs_blend_db": psnr(composed.image, blend)}
    record["figure"] = save_image_row([first, second, blend, composed.image],
                                      [args.image, args.second_image, "blend of images", "SIREN from gradients"],
                                      str(args.out / "compose.png"))
    _write_json(record, args.out / "compose.json")
    print(f"composition: PSNR {record['psnr_vs_blend_db']:.2f} dB against the blend; wrote {record['figure']}")
    return record


def _command(run: Callable[[argparse.Namespace], Dict]) -> Callable[[argparse.Namespace], int]:
    """A CLI entry point around ``run``: the record is on disk and printed, so the exit code is 0."""
    def command(args: argparse.Namespace) -> int:
        run(args)
        return 0
    return command


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo``, ``fit-image``, ``poisson`` and ``compose`` to the ``siren-fused`` command."""
    demo = add_command(subparsers, "demo", "fit cameraman, plot its gradient and Laplacian from the fused jet",
                       DEMO_DESCRIPTION, _command(run_demo), REQUIRED_MODULES)
    _image_arguments(demo, "demo", size=256, hidden=256, steps=300, batch=8192)
    demo.add_argument("--timing-repeats", type=count(1), default=3,
                      help="timed evaluations of the jet at every pixel per backend")

    fit = add_command(subparsers, "fit-image", "fit an image with SIREN and the baselines (Fig. 1)", FIT_DESCRIPTION,
                      _command(lambda args: run_comparison(args, "fit")), REQUIRED_MODULES)
    _image_arguments(fit, "fit-image", size=128, hidden=128, steps=300, batch=4096)
    _comparison_arguments(fit)

    poisson = add_command(subparsers, "poisson", "reconstruct an image from its gradients or Laplacian (Fig. 3)",
                          POISSON_DESCRIPTION, _command(lambda args: run_comparison(args, args.target)),
                          REQUIRED_MODULES)
    _image_arguments(poisson, "poisson", size=128, hidden=128, steps=300, batch=2048)
    _comparison_arguments(poisson)
    _scaling_argument(poisson)
    poisson.add_argument("--target", choices=("grad", "laplacian"), default="grad",
                         help="supervise with the image's gradients (grad) or its Laplacian")
    add_option(poisson, "time_backends", 10)

    compose = add_command(subparsers, "compose", "blend two images in the gradient domain (Fig. 3)",
                          COMPOSE_DESCRIPTION, _command(run_compose), REQUIRED_MODULES)
    _image_arguments(compose, "compose", size=128, hidden=128, steps=300, batch=2048)
    _scaling_argument(compose)
    compose.add_argument("--second-image", default="coffee",
                         help="the image blended with --image (a file or a sample name)")
    compose.add_argument("--alpha", type=real(at_least=0, at_most=1), default=0.5,
                         help="weight of --image's gradients; --second-image's get 1 - alpha")
