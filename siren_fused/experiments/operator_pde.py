"""What the higher-order PDE commands (``kdv``, ``plate``) share: a network trained on the residual of a linear
operator of order 3 or 4 (siren_fused.operator_jet, or Taylor mode in plain PyTorch for the tanh baseline), SIREN against
tanh, scored against an exact solution, with checkpoints, ``--resume`` and the fused-vs-reference step timing.

A problem (:class:`OperatorProblem`) brings the operators its loss needs, its batches, its loss terms from the
operator jet at a batch, and the fields to score on an evaluation grid.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, Mapping, Protocol, Tuple

import numpy as np
import torch
from torch import nn

from ..jet_types import OperatorJet
from ..modules import Siren
from ..operator_jet import operator_jet
from .baselines import MODEL_TITLES, MODELS, check_model_settings
from .command_options import add_option, add_run_options, add_training_size_options, format_step_time
from .command_parser import add_command
from .field_figures import Panel, RowStyle, save_panel_grid
from .tanh_taylor_jet import tanh_operator_jet
from .training_loop import BatchSource, FittedModel, SeededBatches, checkpoint_files, cosine_schedule, fit, \
    optimizer_step, time_backend_steps

COMPARED_MODELS = ("siren", "tanh")
# What a resumed checkpoint must share (a larger --steps extends a finished run).
ARCHITECTURE_FIELDS = ("model", "hidden_features", "hidden_layers", "first_omega_0", "points", "seed")


@dataclass
class OperatorFitConfig:
    """Hyper-parameters of one fit, sized for a CPU run of a few minutes (a problem's command sets defaults)."""

    model: str = "siren"
    hidden_features: int = 64
    hidden_layers: int = 3
    first_omega_0: float = 10.0
    points: int = 512
    steps: int = 1000
    lr: float = 1e-3
    final_lr_ratio: float = 0.02
    backend: str = "auto"
    seed: int = 0
    checkpoint_every: int = 250

    def __post_init__(self) -> None:
        check_model_settings(self, {"hidden_features": 1, "points": 1, "checkpoint_every": 1, "steps": 1,
                                    "hidden_layers": 0}, unit_intervals=("final_lr_ratio",))


class PointBatches(SeededBatches):
    """Base of the problems' batch sources: ``points`` collocation points a batch (subclasses add the
    conditions' points), drawn from the seeded generator."""

    def __init__(self, points: int, seed: int) -> None:
        super().__init__(seed)
        self.points = points


class OperatorProblem(Protocol):
    """A PDE whose loss needs linear operators of the network (``operators``, as operator_jet takes them)."""

    name: str
    title: str
    summary: str  # the command's one line in --help
    paper_settings: Mapping[str, object]  # the larger-scale sizes the options' help names
    # The problem's own defaults of OperatorFitConfig fields: the SIREN's first omega (the solution's frequency
    # content sets it) and any learning rate the problem needs.
    defaults: Mapping[str, object]
    operators: Mapping[str, Mapping[Tuple[int, ...], float]]

    def batches(self, points: int, seed: int) -> BatchSource: ...

    def loss_terms(self, jet: OperatorJet, batch) -> Dict[str, torch.Tensor]: ...

    def scored_fields(self, net: nn.Module) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """{field: (the network's, the exact)} on the problem's evaluation grid, each [rows, columns]."""
        ...


def network_operator_jet(net: nn.Module, x: torch.Tensor, operators, backend: str = "auto") -> OperatorJet:
    """siren_fused.operator_jet on ``backend`` for a Siren; Taylor mode in plain PyTorch for the tanh MLP."""
    if isinstance(net, Siren):
        return operator_jet(net, x, operators, backend=backend)
    return tanh_operator_jet(net, x, operators)


def build_model(config: OperatorFitConfig, in_features: int) -> nn.Module:
    torch.manual_seed(config.seed)
    if config.model == "siren":
        return Siren(in_features, config.hidden_features, config.hidden_layers, 1, first_omega_0=config.first_omega_0)
    return MODELS[config.model](in_features, config.hidden_features, config.hidden_layers, 1)


def training_step(problem: OperatorProblem, net: nn.Module, optimizer: torch.optim.Optimizer, batch,
                  backend: str = "auto") -> Dict[str, float]:
    jet = network_operator_jet(net, batch.points, problem.operators, backend)
    return optimizer_step(optimizer, problem.loss_terms(jet, batch))


def train_model(problem: OperatorProblem, config: OperatorFitConfig, in_features: int, checkpoint_path: Path,
                resume: bool, progress: bool = True) -> FittedModel:
    """Fit ``config.model`` for ``config.steps`` steps with checkpoints (``resume`` continues one)."""
    net = build_model(config, in_features)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    return fit(net, optimizer, lambda batch: training_step(problem, net, optimizer, batch, config.backend),
               problem.batches(config.points, config.seed), config.steps, checkpoint_path, config.checkpoint_every,
               asdict(config), ARCHITECTURE_FIELDS, resume, label=f"{problem.name} {config.model}",
               progress=progress, scheduler=cosine_schedule(optimizer, config.steps, config.final_lr_ratio))


def problem_command(problem: OperatorProblem, in_features: int, description: str
                    ) -> Callable[[argparse._SubParsersAction], None]:
    """The ``register(subparsers)`` of a command module: adds the command ``problem.name`` with its options
    (the sizes' help giving ``problem.paper_settings``) running :func:`run_operator_problem` on ``problem``."""
    return functools.partial(_register_problem, problem, in_features, description)


def _register_problem(problem: OperatorProblem, in_features: int, description: str,
                      subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, problem.name, problem.summary, description,
                         functools.partial(run_operator_problem, problem, in_features), ("tqdm", "matplotlib"))
    defaults = OperatorFitConfig(**problem.defaults)
    add_option(parser, "out", Path(f"outputs/{problem.name}"))
    training = parser.add_argument_group("training")
    add_training_size_options(training, defaults, problem.paper_settings)
    add_option(training, "first_omega_0", defaults.first_omega_0)
    add_run_options(training, defaults.checkpoint_every)
    add_option(parser, "no_figure")


def config_from(args: argparse.Namespace, model: str) -> OperatorFitConfig:
    return OperatorFitConfig(model=model, hidden_features=args.hidden_features, hidden_layers=args.hidden_layers,
                             first_omega_0=args.first_omega_0, points=args.points, steps=args.steps, lr=args.lr,
                             final_lr_ratio=args.final_lr_ratio, backend=args.backend, seed=args.seed,
                             checkpoint_every=args.checkpoint_every)


def relative_l2(network: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(network - exact) / np.linalg.norm(exact))


def _save_figure(problem: OperatorProblem, fields: Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray]]],
                 path: str) -> str:
    """Rows: the exact field, then each model's field and its error, for every scored field."""
    rows, styles = [], []
    for field in next(iter(fields.values())):
        exact = next(iter(fields.values()))[field][1]
        scale = float(np.abs(exact).max()) or 1.0
        rows.append([Panel("exact", exact)] + [Panel(MODEL_TITLES[m], fields[m][field][0]) for m in fields])
        styles.append(RowStyle(field, "RdBu_r", -scale, scale))
        rows.append([None] + [
            Panel(f"rel. L2 {relative_l2(*fields[m][field]):.3g}", np.abs(fields[m][field][0] - exact))
            for m in fields])
        styles.append(RowStyle(f"|error| of {field}", "magma", 0.0, scale))
    return save_panel_grid(rows, styles, path, title=problem.title)


def run_operator_problem(problem: OperatorProblem, in_features: int, args: argparse.Namespace) -> int:
    """Train the SIREN and the tanh MLP, score both against the exact solution, write metrics.json and the figure,
    and with --time-backends time the SIREN's training step fused vs reference on the same batches."""
    configs = {model: config_from(args, model) for model in COMPARED_MODELS}  # every setting checked first
    checkpoints = checkpoint_files(args.out, list(configs), args.resume, args.restart)
    summary: Dict[str, object] = {"threads": torch.get_num_threads(), "models": {}}
    fields = {}
    for model, config in configs.items():
        result = train_model(problem, config, in_features, checkpoints[model], args.resume)
        fields[model] = problem.scored_fields(result.net)
        timed = sorted(result.step_seconds)
        errors = {field: relative_l2(*pair) for field, pair in fields[model].items()}
        summary["models"][model] = {"config": dataclasses.asdict(config), "step": result.step,
                                    "losses": result.losses, "relative_l2_error": errors,
                                    "median_step_seconds": timed[len(timed) // 2] if timed else None}
        for field, error in errors.items():
            print(f"{MODEL_TITLES[model]:6s} relative L2 error of {field}: {error:.4g}")
    if args.time_backends > 0:
        config = config_from(args, "siren")
        batches = problem.batches(config.points, config.seed)
        step = functools.partial(training_step, problem)
        timings = time_backend_steps(build_model(config, in_features), step, batches,
                                     functools.partial(torch.optim.Adam, lr=config.lr), steps=args.time_backends)
        summary["step_time"] = {backend: dataclasses.asdict(t) for backend, t in timings.items()}
        for timing in timings.values():
            print(format_step_time(f"SIREN step time, {timing.backend:9}", timing.median_seconds,
                                   timing.mean_seconds, timing.steps))
    if not args.no_figure:
        _save_figure(problem, fields, str(args.out / f"{problem.name}.png"))
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out / 'metrics.json'}" + ("" if args.no_figure else f" and {args.out / problem.name}.png"))
    return 0


