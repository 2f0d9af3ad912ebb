"""How every ``siren-fused`` command parses and explains itself: a mistake is one ``siren-fused CMD: error: ...``
line with exit status 2 (no usage block above it), and ``--help`` is plain text that gives every option's default.

A command module registers itself with :func:`add_command`, which applies both to its parser.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, Callable, NoReturn, Optional, Sequence

# Sphinx roles (:func:`x`, :class:`x`, ...) and reStructuredText literals (``x``) become plain x in help.
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(text: str) -> str:
    """``text`` (a docstring) without reStructuredText markup: roles and literals as their bare words, a
    paragraph's closing ``::`` as ``:``."""
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    return re.sub(r"::$", ":", text.strip(), flags=re.MULTILINE)


def _shown_default(default: Any) -> str:
    if isinstance(default, (list, tuple)):
        return " ".join(str(item) for item in default)
    return str(default)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their paragraphs; every option that takes a value ends its help with its default. An option
    whose default is None says in its own words what happens without it (argparse would print "None")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        takes_value = action.nargs != 0
        if takes_value and "%(default)" not in help_text and action.default not in (None, argparse.SUPPRESS):
            help_text += f" (default: {_shown_default(action.default)})".replace("%", "%%")
        return help_text


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``PROG: error: MESSAGE``, exit status 2, and whose help is
    plain text with defaults (:class:`HelpFormatter`). Subparsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        if kwargs.get("description"):
            kwargs["description"] = plain_text(kwargs["description"])
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_args(self, args: Optional[Sequence[str]] = None,
                   namespace: Optional[argparse.Namespace] = None) -> argparse.Namespace:
        """argparse's, but an unknown option is the chosen command's error (argparse reports it as the top
        parser's, which would name no command)."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            self._chosen_command(namespace).error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def _chosen_command(self, namespace: argparse.Namespace) -> argparse.ArgumentParser:
        """The parser of the subcommand ``namespace`` holds, or this parser when it has none."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices.get(getattr(namespace, action.dest, None), self)
        return self


def add_command(subparsers: argparse._SubParsersAction, name: str, summary: str, description: str,
                run: Callable[[argparse.Namespace], int], requires: Sequence[str]) -> CommandParser:
    """Add the command ``name`` to ``siren-fused``: ``summary`` is its line in ``siren-fused --help``,
    ``description`` (a docstring; its markup is dropped) heads its own help, ``run(args)`` returns the exit status,
    and ``requires`` names the optional modules it imports (see :mod:`siren_fused.cli`)."""
    parser = subparsers.add_parser(name, help=summary, description=description)
    parser.set_defaults(func=run, requires=tuple(requires))
    return parser


def print_error(command: str, message: str) -> None:
    """The one line a failed command prints: ``siren-fused COMMAND: error: MESSAGE``."""
    print(f"siren-fused {command}: error: {message}", file=sys.stderr)
