"""The ``siren-fused`` command line: one subcommand per experiment.

Each module in ``siren_fused.experiments`` named in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which
adds its subcommands with :func:`siren_fused.experiments.command_parser.add_command` (its summary, description,
function and ``requires``, the modules it imports beyond siren_fused's own dependencies) and their options from
the shared vocabulary, :func:`siren_fused.experiments.command_options.add_option`, whose bounds are checked at
parsing. The command modules import their extras only where used, so ``--help`` lists every command without the
extras, and a command whose extras are missing stops before it starts, with the line that installs them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import List, Optional, Sequence

import torch

from . import __version__
from .experiments.command_parser import CommandParser, print_error
from .experiments.user_errors import UserError

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


INTERRUPTED = 130  # a shell's status for a process ended by Ctrl-C (128 + SIGINT)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="siren-fused", description="The paper's experiments with the fused SIREN jets, "
                           "one command each; siren-fused COMMAND --help describes a command and its options.")
    parser.add_argument("--version", action="version", version=f"siren-fused {__version__}",
                        help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
    """Run the parsed command and return its exit status. Whatever is the user's to fix is one line on stderr:
    missing extras (the line that installs them; status 1), a setting or input file the command cannot use or an
    output folder holding another run (``siren-fused CMD: error: ...``; status 2). Ctrl-C prints where training
    was saved and how to resume, or that the command was interrupted (status 130)."""
    message = missing_extras_message(args.command, args.requires)
    if message is not None:
        print(message, file=sys.stderr)
        return 1
    if getattr(args, "threads", None) is not None:
        torch.set_num_threads(args.threads)
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print_error(args.command, str(error))
        return 2
    except OSError as error:  # an output folder or file that cannot be made or written: the user's to fix
        if error.filename is None:
            raise
        print_error(args.command, f"{error.filename}: {error.strerror}")
        return 2
    except KeyboardInterrupt as interrupt:
        print(str(interrupt) or f"siren-fused {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
