"""The command line's one vocabulary: every option that more than one command takes, with its flag, its bounds,
its help and its old spellings (hidden aliases that still parse), defined once in :data:`VOCABULARY`.

A command adds one with :func:`add_option` (its own default, and the paper's value where it has one); a value out
of bounds stops the command at parsing, before anything is loaded, trained or written, as one line. Options only
one command takes use :func:`count` and :func:`real` for their bounds, so every number is checked the same way.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import torch

from .training_loop import add_resume_arguments

# The jet backends a user picks between; the library's "cuda_emulated" is a test facility, not offered here.
USER_BACKENDS = ("auto", "fused", "reference")


def count(at_least: int, at_most: Optional[int] = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in [at_least, at_most] (no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < at_least or (at_most is not None and value > at_most):
            bound = f">= {at_least}" if at_most is None else f"in [{at_least}, {at_most}]"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def real(above: Optional[float] = None, at_least: Optional[float] = None,
         at_most: Optional[float] = None) -> Callable[[str], float]:
    """An argparse ``type``: a finite number > ``above`` (or >= ``at_least``) and <= ``at_most``, where given."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        low_ok = (above is None or value > above) and (at_least is None or value >= at_least)
        if not math.isfinite(value) or not low_ok or (at_most is not None and value > at_most):
            low = f"> {above:g}" if above is not None else f">= {at_least:g}" if at_least is not None else ""
            bound = " and ".join(part for part in (low, "" if at_most is None else f"<= {at_most:g}") if part)
            raise argparse.ArgumentTypeError(f"must be a finite number{' ' + bound if bound else ''}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


@dataclass(frozen=True)
class Option:
    """One option of the vocabulary: its flag, argparse ``type`` (with the bounds), help, and old spellings."""

    flag: str
    kind: Callable[[str], Any]
    help: str
    aliases: Tuple[str, ...] = ()
    metavar: Optional[str] = None


VOCABULARY: Dict[str, Option] = {
    # Networks and training.
    "hidden_features": Option("--hidden-features", count(1), "width of each hidden layer", ("--hidden",)),
    "hidden_layers": Option("--hidden-layers", count(0), "hidden layers", ("--layers",)),
    "models": Option("--models", str, "networks to train, all with the same size, steps and batches", ("--model",)),
    "first_omega_0": Option("--first-omega-0", real(above=0), "the SIREN's first-layer frequency omega_0"),
    "steps": Option("--steps", count(1), "training steps per model (with --resume, a larger count continues a "
                    "finished run)"),
    "lr": Option("--lr", real(above=0), "Adam learning rate"),
    "final_lr_ratio": Option("--final-lr-ratio", real(at_least=0, at_most=1),
                             "learning rate at the last step over --lr, reached along a cosine (1: constant)"),
    "batch": Option("--batch", count(0), "training samples per step, drawn at random; 0: all of them every step"),
    "points": Option("--points", count(1), "points sampled per training step"),
    "seed": Option("--seed", count(0), "random seed of the initial weights, the batches and the scoring samples"),
    "backend": Option("--backend", str, "how the SIREN's derivatives are computed: auto (the fused kernels where "
                      "built, else autograd), fused, or reference (nested autograd)"),
    "threads": Option("--threads", count(1), f"torch CPU threads (default: torch's own choice, "
                      f"{torch.get_num_threads()} on this machine)"),
    "checkpoint_every": Option("--checkpoint-every", count(1), "steps between checkpoints"),
    "eval_every": Option("--eval-every", count(0), "score the model against the reference solution every STEPS "
                         "steps while it trains, print the error and keep it in metrics.json (0: only at the end)",
                         metavar="STEPS"),
    "time_backends": Option("--time-backends", count(0), "also time STEPS SIREN training steps of each backend, "
                            "fused against reference, on the same batches (0: off)", ("--timing-steps",), "STEPS"),
    # Data and output.
    "size": Option("--size", count(2), "image side in pixels", ("--side",)),
    "resolution": Option("--resolution", count(2), "evaluation grid points per side"),
    "chunk_size": Option("--chunk-size", count(1), "points per network evaluation, which bounds memory"),
    "out": Option("--out", Path, "output folder: figures, JSON results and a checkpoint per model",
                  ("--output",)),
    "no_figure": Option("--no-figure", bool, "skip the PNG figure", ("--no-render",)),
}


def add_option(group: argparse._ActionsContainer, name: str, default: Any = None, help: Optional[str] = None,
               paper: Any = None, dest: Optional[str] = None, **kwargs: Any) -> argparse.Action:
    """Add the vocabulary's option ``name`` to ``group``, with this command's ``default``; ``help`` replaces the
    vocabulary's text where the command needs its own words, ``paper`` (the paper's value) is appended to it, and
    ``dest`` names the attribute when it differs from ``name`` (a config field). ``kwargs`` go to argparse
    (``choices``, ``nargs``). The old spellings parse into the same attribute and are left out of the help."""
    option = VOCABULARY[name]
    dest = dest or name
    text = (help or option.help) + ("" if paper is None else f"; the paper's: {paper}")
    if option.kind is bool:  # a flag
        action = group.add_argument(option.flag, dest=dest, action="store_true", help=text)
        for alias in option.aliases:
            group.add_argument(alias, dest=dest, action="store_true", help=argparse.SUPPRESS)
        return action
    metavar = option.metavar or (None if "choices" in kwargs else option.flag[2:].upper().replace("-", "_"))
    action = group.add_argument(option.flag, dest=dest, type=option.kind, default=default, help=text,
                                metavar=metavar, **kwargs)
    for alias in option.aliases:
        group.add_argument(alias, dest=dest, type=option.kind, default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                           **kwargs)
    return action


def add_training_size_options(group: argparse._ActionsContainer, defaults: Any, paper: Dict[str, Any]) -> None:
    """--hidden-features, --hidden-layers, --points, --steps, --lr and --final-lr-ratio, defaulting to the fields
    of the config ``defaults``; each help gives the paper's value from ``paper`` (keyed by field)."""
    for name in ("hidden_features", "hidden_layers", "points", "steps", "lr", "final_lr_ratio"):
        add_option(group, name, getattr(defaults, name), paper=paper[name])


def add_run_options(group: argparse._ActionsContainer, checkpoint_every: int, time_backends: bool = True) -> None:
    """--backend, --seed, --checkpoint-every, --resume/--restart, --threads and (unless ``time_backends`` is
    False) --time-backends."""
    add_option(group, "backend", "auto", choices=USER_BACKENDS)
    add_option(group, "seed", 0)
    add_option(group, "checkpoint_every", checkpoint_every)
    add_resume_arguments(group)
    add_option(group, "threads")
    if time_backends:
        add_option(group, "time_backends", 0)


def format_step_time(label: str, median_seconds: float, mean_seconds: float, steps: int) -> str:
    return f"{label}: median {median_seconds * 1e3:.1f} ms (mean {mean_seconds * 1e3:.1f} ms, {steps} steps)"


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
