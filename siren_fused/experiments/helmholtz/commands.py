"""``siren-fused helmholtz``: solve the paper's 2-D Helmholtz problem (Sec. 4.3) with a SIREN and baselines.

Each model asked for (by default the SIREN, a ReLU and a tanh network of the same size, trained the same way)
is trained on the residual loss with checkpoints. In the uniform medium each is scored against the analytic
solution s (i/4) H0^(2)(k r): relative L2 error of the complex field on a grid inside the perfectly matched
layer, more than 0.1 from the source. The numbers go to ``<out>/metrics.json``, the figure (real parts, and
errors) to ``<out>/helmholtz.png``. ``--time-backends N`` also times N SIREN training steps of the fused and
the reference jet backends, interleaved in this process on the same batches.

The defaults finish in minutes on a CPU (about 3 minutes of CPU time for the three models at 1 thread). They
depart from the paper's settings for that: a 64-wide network, 2,048 points a batch, 1,500 steps at a learning
rate of 3e-4 that falls along a cosine to 2% of itself, and half of the points away from the source drawn
inside the layer (``--inner-fraction``; the release samples the square uniformly, which puts three quarters of
them in the layer). The paper's network, batch and schedule are ``--hidden-features 256 --points 52900 --lr 2e-5
--final-lr-ratio 1 --steps 50000 --inner-fraction 0`` (a GPU job).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

from ..command_options import add_option, add_run_options, add_training_size_options, format_step_time, real
from ..command_parser import add_command
from ..field_figures import Panel, RowStyle, save_panel_grid
from ..training_loop import checkpoint_files
from .evaluation import compare_to_analytic, grid_points, predict_field
from .problem import VELOCITIES, source_position
from .training import HelmholtzConfig, time_training_steps, train_helmholtz

MODEL_TITLES = {"siren": "SIREN", "relu": "ReLU", "relu_pe": "ReLU P.E.", "tanh": "tanh"}
PAPER_SETTINGS = {"hidden_features": 256, "hidden_layers": 3, "points": 52_900, "steps": 50_000, "lr": 2e-5,
                  "final_lr_ratio": 1.0}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helmholtz`` to the ``siren-fused`` command line."""
    parser = add_command(subparsers, "helmholtz", "solve the 2-D Helmholtz equation with a point source and a PML; "
                         "SIREN vs ReLU and tanh against the analytic solution", __doc__, run_helmholtz,
                         ("tqdm", "scipy", "matplotlib"))
    defaults = HelmholtzConfig()
    problem = parser.add_argument_group("problem")
    problem.add_argument("--velocity", choices=VELOCITIES, default=defaults.velocity,
                         help="medium: uniform (scored against the analytic solution), or a slower square or "
                              "disc with the source at (-0.35, 0)")
    problem.add_argument("--inner-fraction", type=real(at_least=0, at_most=1), default=defaults.inner_fraction,
                         help="fraction of the points away from the source drawn inside the layer, |x|, |y| < 0.5 "
                              "(0 is the release's uniform sampling)")
    add_option(problem, "out", Path("outputs/helmholtz"))
    training = parser.add_argument_group("training")
    add_option(training, "models", ["siren", "relu", "tanh"], choices=sorted(MODEL_TITLES), nargs="+")
    add_training_size_options(training, defaults, PAPER_SETTINGS)
    add_run_options(training, defaults.checkpoint_every)
    output = parser.add_argument_group("evaluation")
    add_option(output, "resolution", 200, help="evaluation and figure grid points per side")
    add_option(output, "no_figure")


def _config_for(model: str, args: argparse.Namespace) -> HelmholtzConfig:
    return HelmholtzConfig(model=model, hidden_features=args.hidden_features, hidden_layers=args.hidden_layers,
                           points=args.points, steps=args.steps, lr=args.lr, final_lr_ratio=args.final_lr_ratio,
                           inner_fraction=args.inner_fraction, velocity=args.velocity, backend=args.backend,
                           seed=args.seed, checkpoint_every=args.checkpoint_every)


def _figure_rows(fields: Dict[str, np.ndarray], exact: np.ndarray, mask: np.ndarray):
    """Real parts (analytic first where known), and under each network its error |u - u*|."""
    scale_from = exact if exact is not None else next(iter(fields.values()))
    inner = scale_from[mask] if mask is not None else scale_from
    real_max = float(np.percentile(np.abs(inner.real), 99)) or 1.0
    real_row: List[Panel] = [] if exact is None else [Panel("analytic", exact.real)]
    real_row += [Panel(MODEL_TITLES[name], field.real) for name, field in fields.items()]
    rows, styles = [real_row], [RowStyle("real part", "RdBu_r", -real_max, real_max)]
    if exact is not None:
        rows.append([None] + [Panel(f"{MODEL_TITLES[name]} error", np.abs(field - exact))
                              for name, field in fields.items()])
        styles.append(RowStyle("|u - u*|", "magma", 0.0, real_max))
    return rows, styles


def run_helmholtz(args: argparse.Namespace) -> int:
    """The ``helmholtz`` command."""
    configs = {model: _config_for(model, args) for model in args.models}  # every setting checked before training
    checkpoints = checkpoint_files(args.out, args.models, args.resume, args.restart)
    position = source_position(args.velocity)
    results: Dict[str, Dict[str, object]] = {}
    fields: Dict[str, np.ndarray] = {}
    exact = mask = None
    for model, config in configs.items():
        result = train_helmholtz(config, checkpoints[model], resume=args.resume)
        timed = sorted(result.step_seconds)
        record: Dict[str, object] = {"config": dataclasses.asdict(config), "step": result.step,
                                     "losses": result.losses, "train_seconds": result.train_seconds,
                                     "median_step_seconds": timed[len(timed) // 2] if timed else None}
        if args.velocity == "uniform":
            comparison = compare_to_analytic(result.net, args.resolution, position)
            record["relative_l2_error"] = comparison.relative_l2_error
            fields[model], exact, mask = comparison.field, comparison.exact, comparison.mask
        else:
            fields[model] = predict_field(result.net, grid_points(args.resolution)).reshape(
                args.resolution, args.resolution)
        results[model] = record
    summary: Dict[str, object] = {"velocity": args.velocity, "resolution": args.resolution,
                                  "threads": torch.get_num_threads(), "models": results}
    if args.time_backends > 0:
        timings = time_training_steps(_config_for("siren", args), steps=args.time_backends)
        summary["step_time"] = {backend: dataclasses.asdict(timing) for backend, timing in timings.items()}
        for timing in timings.values():
            print(format_step_time(f"SIREN step time, {timing.backend:9}", timing.median_seconds, timing.mean_seconds,
                                   timing.steps))
    if not args.no_figure:
        rows, styles = _figure_rows(fields, exact, mask)
        save_panel_grid(rows, styles, str(args.out / "helmholtz.png"),
                        title=f"Helmholtz, k = 20, {args.velocity} medium")
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=2))
    print(f"{'model':8} {'steps':>6} {'rel. L2 error':>14} {'s/step':>8}")
    for model, record in results.items():
        error = record.get("relative_l2_error")
        seconds = record["median_step_seconds"]
        print(f"{model:8} {record['step']:>6} {'-' if error is None else f'{error:.4f}':>14} "
              f"{'-' if seconds is None else f'{seconds:.3f}':>8}")
    print(f"wrote {args.out / 'metrics.json'}" + ("" if args.no_figure else f" and {args.out / 'helmholtz.png'}"))
    return 0
