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
them in the layer), and a medium that absorbs over the first half of the steps, its absorption falling to 0
(``--absorption``: a curriculum that leads the network to the outgoing wave; the problem it then trains on is
the release's). ``--preset long`` is the run that solves the problem: the SIREN alone, 20,000 steps, the
absorption gone at 10,000, the error printed every 2,000 (a relative L2 error of 0.004 in under half an
hour of a 2-core CPU; benchmarks/RESULTS.md). The paper's network, batch and schedule are ``--hidden-features
256 --points 52900 --lr 2e-5 --final-lr-ratio 1 --steps 50000 --inner-fraction 0 --absorption 0`` (a GPU job).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from ..baselines import SettingsError
from ..command_options import (add_option, add_preset_option, add_run_options,
                              add_training_size_options, count, format_step_time, real)
from ..command_parser import add_command
from ..convergence_figure import save_convergence_figure
from ..field_figures import Panel, RowStyle, save_panel_grid
from ..training_loop import Evaluation, checkpoint_files
from .evaluation import compare_to_analytic, grid_points, predict_field
from .problem import VELOCITIES, source_position
from .training import HelmholtzConfig, time_training_steps, train_helmholtz

MODEL_TITLES = {"siren": "SIREN", "relu": "ReLU", "relu_pe": "ReLU P.E.", "tanh": "tanh"}
# Found by the search in benchmarks/RESULTS.md: what reaches the paper's result in half an hour of this CPU.
PRESETS = {"long": {"models": ["siren"], "steps": 20_000, "absorption_steps": 10_000, "eval_every": 2_000,
                    "checkpoint_every": 500}}
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
    problem.add_argument("--absorption", type=real(at_least=0), default=defaults.absorption,
                         help="curriculum: the medium absorbs at first, k^2 (1 - i eps), eps falling linearly from "
                              "this to 0 over --absorption-steps; it leads the network to the outgoing wave "
                              "(0: the release's lossless medium throughout)")
    problem.add_argument("--absorption-steps", type=count(0), default=defaults.absorption_steps,
                         help="steps over which the absorption falls to 0")
    add_option(problem, "out", Path("outputs/helmholtz"))
    training = parser.add_argument_group("training")
    add_option(training, "models", ["siren", "relu", "tanh"], choices=sorted(MODEL_TITLES), nargs="+")
    add_training_size_options(training, defaults, PAPER_SETTINGS)
    add_run_options(training, defaults.checkpoint_every)
    output = parser.add_argument_group("evaluation")
    add_option(output, "resolution", 200, help="evaluation and figure grid points per side")
    add_option(output, "eval_every", 0)
    add_option(output, "no_figure", help="skip the PNG figures")
    add_preset_option(parser, PRESETS, "long: the SIREN alone, trained for the half hour of a 2-core CPU that "
                      "solves the problem (benchmarks/RESULTS.md; options given too override it; default: none, each "
                      "option's own default)")


def _config_for(model: str, args: argparse.Namespace) -> HelmholtzConfig:
    return HelmholtzConfig(model=model, hidden_features=args.hidden_features, hidden_layers=args.hidden_layers,
                           points=args.points, steps=args.steps, lr=args.lr, final_lr_ratio=args.final_lr_ratio,
                           inner_fraction=args.inner_fraction, velocity=args.velocity, absorption=args.absorption,
                           absorption_steps=args.absorption_steps, backend=args.backend,
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


def _evaluation(args: argparse.Namespace, position) -> Optional[Evaluation]:
    """With ``--eval-every``, the error against the analytic solution as the model trains."""
    if args.eval_every <= 0:
        return None
    if args.velocity != "uniform":
        raise SettingsError("--eval-every needs --velocity uniform: only the uniform medium has an exact solution")

    def score(net: torch.nn.Module) -> Dict[str, float]:
        return {"relative_l2_error": compare_to_analytic(net, args.resolution, position).relative_l2_error}

    return Evaluation(args.eval_every, score)


def run_helmholtz(args: argparse.Namespace) -> int:
    """The ``helmholtz`` command."""
    configs = {model: _config_for(model, args) for model in args.models}  # every setting checked before training
    position = source_position(args.velocity)
    evaluation = _evaluation(args, position)
    checkpoints = checkpoint_files(args.out, args.models, args.resume, args.restart)
    results: Dict[str, Dict[str, object]] = {}
    fields: Dict[str, np.ndarray] = {}
    exact = mask = None
    for model, config in configs.items():
        result = train_helmholtz(config, checkpoints[model], resume=args.resume, evaluation=evaluation)
        timed = sorted(result.step_seconds)
        record: Dict[str, object] = {"config": dataclasses.asdict(config), "step": result.step,
                                     "losses": result.losses, "train_seconds": result.train_seconds,
                                     "median_step_seconds": timed[len(timed) // 2] if timed else None,
                                     "history": result.history}
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
        histories = {model: record["history"] for model, record in results.items() if record["history"]}
        for model, history in histories.items():
            save_convergence_figure(history, {"relative_l2_error": "inside the layer, away from the source"},
                                    str(args.out / f"convergence_{model}.png"),
                                    title=f"Helmholtz, {MODEL_TITLES[model]}")
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=2))
    print(f"{'model':8} {'steps':>6} {'rel. L2 error':>14} {'s/step':>8}")
    for model, record in results.items():
        error = record.get("relative_l2_error")
        seconds = record["median_step_seconds"]
        print(f"{model:8} {record['step']:>6} {'-' if error is None else f'{error:.4f}':>14} "
              f"{'-' if seconds is None else f'{seconds:.3f}':>8}")
    print(f"wrote {args.out / 'metrics.json'}" + ("" if args.no_figure else f" and {args.out / 'helmholtz.png'}"))
    return 0
