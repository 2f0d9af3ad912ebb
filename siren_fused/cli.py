"""The ``siren-fused`` command line: one subcommand per experiment.

Each module in ``siren_fused.experiments`` named in ``COMMAND_MODULES`` exposes
``register(subparsers)``, which adds its subcommands and sets ``func`` on each parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

COMMAND_MODULES = (
    "siren_fused.experiments.images.commands",
    "siren_fused.experiments.sdf.commands",
    "siren_fused.experiments.distributed.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siren-fused", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
