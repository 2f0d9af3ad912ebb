"""The command line without the experiments extra: ``--help`` lists every command, and a command that needs
the extra stops at once with the one line that installs it.

The checks run in a fresh interpreter where the extra's modules cannot be imported (``sys.modules[name] = None``
makes both ``import`` and ``importlib.util.find_spec`` see them as absent), as in an install without the extra.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from siren_fused import cli

COMMANDS = ("demo", "fit-image", "poisson", "compose", "fit-sdf", "fit-ddp", "fit-audio", "fit-video", "hypernet",
            "functa", "helmholtz", "wave", "kdv", "plate")
# Prints, as JSON, what each command line returned and wrote; one interpreter for all (each start imports torch).
WITHOUT_EXTRAS = f"""
import contextlib, io, json, sys
for name in {tuple(cli.EXTRA_OF_MODULE)!r}:
    sys.modules[name] = None
from siren_fused import cli
results = {{}}
for argv in [["--help"]] + [[command] for command in {COMMANDS!r}]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit:
            code = exit.code
    results[argv[0]] = [code, out.getvalue(), err.getvalue()]
print(json.dumps(results))
"""


def test_help_and_commands_without_the_extras():
    finished = subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    results = json.loads(finished.stdout)
    code, out, err = results.pop("--help")
    assert code == 0, err
    for command in COMMANDS:
        assert command in out
    for command, (code, out, err) in results.items():
        assert code == 1 and out == "", command
        (line,) = err.splitlines()
        assert line.startswith(f"siren-fused {command}: needs "), line
        assert line.endswith('pip install "siren_fused[experiments]"'), line


def test_the_commands_are_the_documented_ones():
    assert set(cli.build_parser()._subparsers._group_actions[0].choices) == set(COMMANDS)


def test_every_optional_module_a_command_needs_has_its_extra():
    parser = cli.build_parser()
    for command, subparser in parser._subparsers._group_actions[0].choices.items():
        requires = subparser.get_default("requires")
        assert requires, command
        assert set(requires) <= set(cli.EXTRA_OF_MODULE), command


@pytest.mark.parametrize("argv, line", [
    (["wave", "--pulse-variance", "0"], "siren-fused wave: error: pulse_variance must be > 0, got 0.0"),
    (["wave", "--window-growth", "1.5"], "siren-fused wave: error: window_growth must be in (0, 1], got 1.5"),
    (["helmholtz", "--steps", "-1"], "siren-fused helmholtz: error: steps must be >= 0, got -1"),
    (["helmholtz", "--final-lr-ratio", "2"],
     "siren-fused helmholtz: error: final_lr_ratio must be in [0, 1], got 2.0"),
    (["fit-ddp", "--side", "1"],
     "siren-fused fit-ddp: error: side must be in [2, 512] (the cameraman's 512 pixels at most), got 1"),
])
def test_a_setting_out_of_range_is_one_line_and_status_2(argv, line, tmp_path, capsys):
    for module in ("matplotlib", "tqdm", "scipy"):
        pytest.importorskip(module)
    output_flag = "--output" if argv[0] == "fit-ddp" else "--out"
    assert cli.main(argv + [output_flag, str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [line] and captured.out == ""
    assert not (tmp_path / "out").exists()
