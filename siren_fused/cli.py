"""The ``siren-fused`` command line: one subcommand per experiment.

Each module in ``siren_fused.experiments`` named in ``COMMAND_MODULES`` exposes
``register(subparsers)``, which adds its subcommands and sets two defaults on each parser: ``func``,
the command, and ``requires``, the modules it imports beyond siren_fused's own dependencies. The
command modules import those only where used, so ``--help`` lists every command without the extras,
and a command whose extras are missing stops before it starts, with the line that installs them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import List, Optional, Sequence

from .experiments.baselines import SettingsError

COMMAND_MODULES = (
    "siren_fused.experiments.images.commands",
    "siren_fused.experiments.sdf.commands",
    "siren_fused.experiments.helmholtz.commands",
    "siren_fused.experiments.wave.commands",
    "siren_fused.experiments.distributed.commands",
    "siren_fused.experiments.audio.commands",
    "siren_fused.experiments.video.commands",
    "siren_fused.experiments.hypernet.commands",
    "siren_fused.experiments.functa.commands",
    "siren_fused.experiments.kdv.commands",
    "siren_fused.experiments.plate.commands",
)

# The optional modules the commands use, each with the extra (pyproject.toml) that installs it.
EXTRA_OF_MODULE = {"scipy": "experiments", "skimage": "experiments", "matplotlib": "experiments",
                   "tqdm": "experiments", "trimesh": "experiments", "pymeshfix": "experiments",
                   "av": "experiments", "skvideo": "experiments"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siren-fused", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def missing_extras_message(command: str, modules: Sequence[str]) -> Optional[str]:
    """The one line to print when some of ``modules`` are not installed, or None when all are."""
    missing: List[str] = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    extras = ",".join(sorted({EXTRA_OF_MODULE[name] for name in missing}))
    return (f"siren-fused {command}: needs {', '.join(missing)}, not installed; "
            f'install them with: pip install "siren_fused[{extras}]"')


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; print the line that installs its missing extras and return 1, or the setting
    out of its range and return 2 (argparse's status for bad arguments)."""
    message = missing_extras_message(args.command, args.requires)
    if message is not None:
        print(message, file=sys.stderr)
        return 1
    try:
        return int(args.func(args) or 0)
    except SettingsError as error:
        print(f"siren-fused {args.command}: error: {error}", file=sys.stderr)
        return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
