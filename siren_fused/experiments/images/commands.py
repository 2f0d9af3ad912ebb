"""The paper's image experiments as commands: ``demo``, ``fit-image``, ``poisson`` and ``compose``.

Defaults finish in about a minute on a laptop CPU; ``--size 256 --hidden 256 --layers 3 --steps 10000
--lr 1e-4 --batch 0`` are the paper's settings (``--batch 0`` trains on every pixel each step).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Callable, Dict, List

import numpy as np
import torch

from ...modules import Siren
from ...timing import median_time
from ..baselines import MODELS
from .data import (TARGET_SCALINGS, align_unseen_part, load_image, pixel_grid, poisson_target, psnr,
                   reconstruction_scale, true_derivatives)
from .figures import Derivatives, save_derivative_grid, save_image_row
from .training import evaluate_jet, time_backends_per_step, train_image_network

IN_FEATURES, OUT_FEATURES = 2, 1  # (row, column) -> grey level
REQUIRED_MODULES = ("tqdm", "skimage", "scipy", "matplotlib")  # images, targets, figures, progress bar


def _image_arguments(parser: argparse.ArgumentParser, size: int, hidden: int, steps: int, batch: int) -> None:
    parser.add_argument("--image", default="camera", help="an image file, or a scikit-image sample name")
    parser.add_argument("--size", type=int, default=size, help="side of the square image in pixels")
    parser.add_argument("--hidden", type=int, default=hidden, help="hidden width (paper: 256)")
    parser.add_argument("--layers", type=int, default=3, help="hidden layers (paper: 3)")
    parser.add_argument("--steps", type=int, default=steps, help="Adam steps per model (paper: 10000)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (paper: 1e-4)")
    parser.add_argument("--batch", type=int, default=batch, help="pixels per step; 0 for all (paper)")
    parser.add_argument("--backend", choices=("fused", "reference"), default="fused",
                        help="how SIREN's derivatives are computed, in training and evaluation")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs", help="folder for the PNG figures and JSON results")


def _comparison_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="networks to train, all with the same size and steps")


def _poisson_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scaling", choices=TARGET_SCALINGS, default="paper",
                        help="paper: the paper's constants (image x10 before Sobel, x1e4 before Laplace); "
                             "unit: true derivatives in grid units")
    parser.add_argument("--timing-steps", type=int, default=10,
                        help="steps per backend when timing SIREN fused vs reference on the same batches")


def _prepare(args: argparse.Namespace) -> None:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)


def _network(name: str, args: argparse.Namespace) -> torch.nn.Module:
    torch.manual_seed(args.seed)  # every model starts from the same seed, as in a paired comparison
    return MODELS[name](IN_FEATURES, args.hidden, args.layers, OUT_FEATURES)


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


def _write_json(record: Dict, path: str) -> None:
    with open(path, "w") as handle:
        json.dump(record, handle, indent=2)


def _print_table(task: str, rows: List[Dict]) -> None:
    print(f"\n{task}: PSNR against the ground truth image")
    print(f"{'model':<10}{'PSNR dB':>9}{'train s':>10}{'final loss':>13}")
    for row in rows:
        print(f"{row['model']:<10}{row['psnr_db']:>9.2f}{row['train_seconds']:>10.1f}{row['final_loss']:>13.4g}")


def run_comparison(args: argparse.Namespace, task: str) -> Dict:
    """Train every requested model on ``task`` (fit, grad or laplacian); write the figure and the JSON."""
    _prepare(args)
    truth = load_image(args.image, args.size)
    coords = pixel_grid(args.size)
    target = _supervision(truth, task, args)
    scale = 1.0 if task == "fit" else reconstruction_scale(task, args.size, args.scaling)
    columns = {"ground truth": _ground_truth(truth)}
    rows = []
    record: Dict = {"task": task, "image": args.image, "size": args.size, "hidden": args.hidden,
                    "layers": args.layers, "steps": args.steps, "lr": args.lr, "batch": args.batch,
                    "backend": args.backend, "threads": torch.get_num_threads(), "models": rows}
    for name in args.models:
        run = train_image_network(_network(name, args), coords, target, task, args.steps, args.lr, args.batch,
                                  args.backend, args.seed, label=f"{task} {name}")
        columns[name] = _reconstruct(run.net, coords, truth, task, scale, args.backend)
        rows.append({"model": name, "psnr_db": psnr(columns[name].image, truth), "train_seconds": run.seconds,
                     "final_loss": run.final_loss})
        if task != "fit" and isinstance(run.net, Siren):
            record["siren_seconds_per_step"] = time_backends_per_step(
                run.net, coords, target, task, args.timing_steps, args.lr, args.batch, args.seed)
    _print_table(task, rows)
    if "siren_seconds_per_step" in record:
        times = record["siren_seconds_per_step"]
        print(f"SIREN per training step (median): fused {times['fused'] * 1e3:.1f} ms, reference "
              f"{times['reference'] * 1e3:.1f} ms ({times['reference'] / times['fused']:.2f}x)")
    record["figure"] = save_derivative_grid(columns, os.path.join(args.out, f"{task}.png"),
                                            f"{task} on {args.image} {args.size}px, {args.steps} steps")
    _write_json(record, os.path.join(args.out, f"{task}.json"))
    print(f"wrote {record['figure']} and {os.path.join(args.out, task + '.json')}")
    return record


def run_demo(args: argparse.Namespace) -> Dict:
    """Fit an image with a SIREN, then time its fused jet against autograd on every pixel (Fig. 1)."""
    _prepare(args)
    truth = load_image(args.image, args.size)
    coords = pixel_grid(args.size)
    run = train_image_network(_network("siren", args), coords, torch.from_numpy(truth.reshape(-1, 1)), "fit",
                              args.steps, args.lr, args.batch, seed=args.seed, label="fitting SIREN")
    fitted = _reconstruct(run.net, coords, truth, "fit", 1.0, "fused")
    seconds = {backend: median_time(lambda: evaluate_jet(run.net, coords, backend), args.timing_repeats)
               for backend in ("fused", "reference")}
    record = {"image": args.image, "size": args.size, "steps": args.steps, "train_seconds": run.seconds,
              "psnr_db": psnr(fitted.image, truth), "jet_seconds": seconds, "pixels": coords.shape[0]}
    record["figure"] = save_derivative_grid({"ground truth": _ground_truth(truth), "SIREN (fused jet)": fitted},
                                            os.path.join(args.out, "demo.png"))
    _write_json(record, os.path.join(args.out, "demo.json"))
    print(f"PSNR {record['psnr_db']:.2f} dB after {args.steps} steps ({run.seconds:.1f} s)")
    print(f"value + gradient + Laplacian at {coords.shape[0]} pixels: fused {seconds['fused'] * 1e3:.1f} ms, "
          f"autograd reference {seconds['reference'] * 1e3:.1f} ms "
          f"({seconds['reference'] / seconds['fused']:.2f}x)")
    print(f"wrote {record['figure']}")
    return record


def run_compose(args: argparse.Namespace) -> Dict:
    """Fit a SIREN to the blend of two images' gradients (Fig. 3) and show the image it recovers."""
    _prepare(args)
    first, second = load_image(args.image, args.size), load_image(args.second_image, args.size)
    blended_gradient = (args.alpha * poisson_target(first, "grad", args.scaling)
                        + (1.0 - args.alpha) * poisson_target(second, "grad", args.scaling))
    # The gradient is linear, so the image these gradients belong to is the same blend of the two images.
    blend = args.alpha * first + (1.0 - args.alpha) * second
    coords = pixel_grid(args.size)
    run = train_image_network(_network("siren", args), coords, blended_gradient, "grad", args.steps, args.lr,
                              args.batch, args.backend, args.seed, label="composing SIREN")
    scale = reconstruction_scale("grad", args.size, args.scaling)
    composed = _reconstruct(run.net, coords, blend, "grad", scale, args.backend)
    record = {"images": [args.image, args.second_image], "alpha": args.alpha, "size": args.size,
              "steps": args.steps, "train_seconds": run.seconds, "psnr_vs_blend_db": psnr(composed.image, blend)}
    record["figure"] = save_image_row([first, second, blend, composed.image],
                                      [args.image, args.second_image, "blend of images", "SIREN from gradients"],
                                      os.path.join(args.out, "compose.png"))
    _write_json(record, os.path.join(args.out, "compose.json"))
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
    demo = subparsers.add_parser("demo", help="fit cameraman, plot its gradient and Laplacian from the fused jet")
    _image_arguments(demo, size=256, hidden=256, steps=300, batch=8192)
    demo.add_argument("--timing-repeats", type=int, default=3, help="timed jet evaluations per backend")
    demo.set_defaults(requires=REQUIRED_MODULES, func=_command(run_demo))

    fit = subparsers.add_parser("fit-image", help="fit an image with SIREN and the baselines (Fig. 1)")
    _image_arguments(fit, size=128, hidden=128, steps=300, batch=4096)
    _comparison_arguments(fit)
    fit.set_defaults(requires=REQUIRED_MODULES, func=_command(lambda args: run_comparison(args, "fit")))

    poisson = subparsers.add_parser("poisson", help="reconstruct an image from its gradients or Laplacian")
    _image_arguments(poisson, size=128, hidden=128, steps=300, batch=2048)
    _comparison_arguments(poisson)
    _poisson_arguments(poisson)
    poisson.add_argument("--target", choices=("grad", "laplacian"), default="grad")
    poisson.set_defaults(requires=REQUIRED_MODULES,
                         func=_command(lambda args: run_comparison(args, args.target)))

    compose = subparsers.add_parser("compose", help="blend two images in the gradient domain (Fig. 3)")
    _image_arguments(compose, size=128, hidden=128, steps=300, batch=2048)
    _poisson_arguments(compose)
    compose.add_argument("--second-image", default="coffee", help="the image blended with --image")
    compose.add_argument("--alpha", type=float, default=0.5, help="weight of --image's gradients")
    compose.set_defaults(requires=REQUIRED_MODULES, func=_command(run_compose))
