"""Command-line options every PDE command shares: backend, seed, checkpoints, threads, step timing."""

from __future__ import annotations

import argparse
from typing import Any, Mapping, Optional, Sequence

from ..jet import BACKENDS
from .training_loop import add_resume_arguments

# (flag, config field, type, what it sets) of the network and schedule options.
TRAINING_SIZE_OPTIONS = (("--hidden-features", "hidden_features", int, "width"),
                         ("--hidden-layers", "hidden_layers", int, "hidden layers"),
                         ("--points", "points", int, "points per batch"),
                         ("--steps", "steps", int, "training steps"),
                         ("--lr", "lr", float, "Adam learning rate"),
                         ("--final-lr-ratio", "final_lr_ratio", float,
                          "learning rate at the last step over --lr, reached along a cosine (1: constant)"))


def add_training_size_options(group: argparse._ArgumentGroup, defaults: Any, paper: Mapping[str, Any]) -> None:
    """--hidden-features, --hidden-layers, --points, --steps, --lr and --final-lr-ratio, defaulting to the fields
    of the config ``defaults``; each help gives the paper's value from ``paper`` (keyed by field)."""
    for flag, name, kind, what in TRAINING_SIZE_OPTIONS:
        group.add_argument(flag, type=kind, default=getattr(defaults, name),
                           help=f"{what} (default %(default)s; paper {paper[name]})")


def add_run_options(group: argparse._ArgumentGroup, checkpoint_every: int) -> None:
    """--backend, --seed, --checkpoint-every, --resume/--restart, --threads and --time-backends."""
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="jet backend for the SIREN's derivatives (default %(default)s: fused when built)")
    group.add_argument("--seed", type=int, default=0, help="default %(default)s")
    group.add_argument("--checkpoint-every", type=int, default=checkpoint_every,
                       help="steps between checkpoints (default %(default)s)")
    add_resume_arguments(group)
    group.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    group.add_argument("--time-backends", type=int, default=0, metavar="STEPS",
                       help="also time STEPS SIREN training steps per backend, fused vs reference (default off)")


def format_step_time(label: str, median_seconds: float, mean_seconds: float, steps: int) -> str:
    return f"{label}: median {median_seconds * 1e3:.1f} ms (mean {mean_seconds * 1e3:.1f} ms, {steps} steps)"


def add_evaluation_interval_option(group: argparse._ArgumentGroup) -> None:
    """--eval-every: score the model against the exact solution every so many steps while it trains."""
    group.add_argument("--eval-every", type=int, default=0, metavar="STEPS",
                       help="score the model against the reference solution every STEPS steps while it trains, print "
                            "the error and keep it in metrics.json (default %(default)s: only at the end)")


class PresetAction(argparse.Action):
    """``--preset NAME``: fills in a named set of option values.

    The values go to every option of the preset that the command line has not set to something else by the time
    the parser reaches ``--preset``; options given after it are applied after it. Either way, what the user
    types wins over the preset (but for an option typed before ``--preset`` with exactly its default value)."""

    def __init__(self, option_strings: Sequence[str], dest: str, presets: Mapping[str, Mapping[str, Any]],
                 **kwargs: Any) -> None:
        self.presets = presets
        super().__init__(option_strings, dest, choices=sorted(presets), **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        for name, value in self.presets[values].items():
            if getattr(namespace, name) == parser.get_default(name):
                setattr(namespace, name, value)
        setattr(namespace, self.dest, values)


def add_preset_option(parser: argparse.ArgumentParser, presets: Mapping[str, Mapping[str, Any]],
                      description: str) -> None:
    """``--preset`` choosing among ``presets`` (name -> option values by destination); ``description`` says
    what each is for."""
    parser.add_argument("--preset", action=PresetAction, presets=presets, default=None, help=description)
