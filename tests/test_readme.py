"""The README's Python blocks run as a reader pastes them: one after the other into one interpreter, in a fresh
folder, with nothing defined beforehand."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text: str):
    """(line, code) of every ```python block, in order."""
    return [(text[:match.start()].count("\n") + 2, match.group(1))
            for match in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)]


def test_the_readme_has_python_blocks():
    assert len(python_blocks(README.read_text())) >= 5


def test_the_readme_python_blocks_run_as_pasted(tmp_path):
    pytest.importorskip("siren_pytorch", reason="a README block uses siren-pytorch (the test extra)")
    # Each block compiled under its README line numbers, so a failure names where it is.
    script = "\n".join(f"exec(compile({code!r}, 'README.md line {line}', 'exec'))"
                       for line, code in python_blocks(README.read_text()))
    finished = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                              timeout=900)
    assert finished.returncode == 0, finished.stderr[-3000:]
