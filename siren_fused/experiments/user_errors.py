"""The errors that are the user's to fix: a setting out of its range, an input file that is missing, unreadable
or not what the command expected, an output folder that holds another run. The command line reports them as one
``siren-fused CMD: error: ...`` line and exit status 2, never a traceback; the library raises them as the
``ValueError`` they are."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Union


class UserError(ValueError):
    """Something the user gave that the command cannot use; its message says what and, where it helps, how to
    fix it."""


class InputFileError(UserError):
    """An input file that is missing, unreadable or cannot be decoded as the kind of file expected."""


class MissingInputFile(InputFileError, FileNotFoundError):
    """An input file that does not exist (a FileNotFoundError too, for callers that catch those)."""


def check_readable(path: Union[str, Path], expected: str) -> Path:
    """``path`` as a Path, after checking that it is a readable, non-empty file; otherwise an
    :class:`InputFileError` names the file, what is wrong and what was ``expected`` (e.g. "an image file")."""
    path = Path(path)
    if not path.exists():
        raise MissingInputFile(f"{path}: no such file; expected {expected}")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder; expected {expected}")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path}: not readable (permission denied); expected {expected}")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the file is empty; expected {expected}")
    return path


@contextlib.contextmanager
def reading(path: Union[str, Path], expected: str) -> Iterator[Path]:
    """Check ``path`` with :func:`check_readable`, then turn any failure to decode it inside the block into an
    :class:`InputFileError` naming the file and what it should have been (``expected``); the decoder's own first
    line follows in brackets. A :class:`UserError` raised inside passes unchanged."""
    checked = check_readable(path, expected)
    try:
        yield checked
    except UserError:
        raise
    except Exception as error:  # decoders raise anything from ValueError to their own types on a bad file
        lines = str(error).strip().splitlines()
        detail = lines[0] if lines else type(error).__name__
        raise InputFileError(f"{path}: could not be read as {expected} ({detail})") from error

class RunExists(UserError, FileExistsError):
    """The output folder holds a checkpoint of an earlier run, and the user said neither --resume nor --restart."""
