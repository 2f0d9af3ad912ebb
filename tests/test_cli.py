"""The command line without the experiments extra: ``--help`` lists every command, and a command that needs
the extra stops at once with the one line that installs it.

The checks run in a fresh interpreter where the extra's modules cannot be imported (``sys.modules[name] = None``
makes both ``import`` and ``importlib.util.find_spec`` see them as absent), as in an install without the extra.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

import siren_fused
from siren_fused import cli
from siren_fused.experiments import command_options

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


def _commands():
    return cli.build_parser()._subparsers._group_actions[0].choices.items()


def _options(parser):
    """The options a command's help shows (its old spellings are hidden), -h/--help left out."""
    return [action for action in parser._actions
            if action.option_strings and action.help != argparse.SUPPRESS and action.dest != "help"]


def test_every_help_has_a_description_and_every_option_its_help_and_default():
    for command, parser in _commands():
        assert parser.description and len(parser.description) > 80, command
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text and ":mod:" not in text, command  # plain text
        formatter = parser._get_formatter()
        for action in _options(parser):
            shown = formatter._expand_help(action)
            assert len(shown) > 10, (command, action.option_strings)
            if action.nargs != 0:  # an option that takes a value says what happens without it
                assert "default" in shown, (command, action.option_strings, shown)


# The old spellings that the vocabulary replaced: hidden, and still parsed into the new names.
OLD_SPELLINGS = {"--hidden": "hidden_features", "--layers": "hidden_layers", "--output": "output",
                 "--side": "side", "--model": "models", "--timing-steps": "time_backends", "--no-render": "no_figure"}


def test_one_vocabulary_across_the_commands():
    shown = {command: {flag for action in _options(parser) for flag in action.option_strings}
             for command, parser in _commands()}
    for command, flags in shown.items():
        assert not flags & set(OLD_SPELLINGS), (command, flags & set(OLD_SPELLINGS))
        for name, option in command_options.VOCABULARY.items():
            assert not flags & set(option.aliases), command
    # Every option of the vocabulary is taken by some command, and the shared ones mean one thing each.
    everywhere = set().union(*shown.values())
    assert {option.flag for option in command_options.VOCABULARY.values()} <= everywhere


@pytest.mark.parametrize("argv, dest, value", [
    (["demo", "--hidden", "8"], "hidden_features", 8), (["fit-image", "--layers", "1"], "hidden_layers", 1),
    (["fit-ddp", "--side", "16"], "side", 16), (["fit-ddp", "--output", "x.pt"], "output", Path("x.pt")),
    (["fit-sdf", "--model", "relu"], "models", ["relu"]), (["fit-sdf", "--batch", "64"], "on_surface", 64),
    (["poisson", "--timing-steps", "3"], "time_backends", 3), (["fit-sdf", "--no-render"], "no_figure", True),
])
def test_old_spellings_still_work(argv, dest, value):
    assert getattr(cli.build_parser().parse_args(argv), dest) == value


def test_backend_choices_and_thread_default():
    for command, parser in _commands():
        actions = {action.dest: action for action in parser._actions}
        if "backend" in actions:
            assert tuple(actions["backend"].choices) == ("auto", "fused", "reference"), command
            assert actions["backend"].default == "auto", command
        if "threads" in actions:
            assert actions["threads"].default is None, command  # torch's own choice


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out == f"siren-fused {siren_fused.__version__}\n"


def test_ctrl_c_prints_the_saved_line_alone_and_exits_130(tmp_path, monkeypatch, capsys):
    for module in ("matplotlib", "tqdm", "scipy", "skimage"):
        pytest.importorskip(module)
    from siren_fused.experiments.images import training

    calls = []

    def loss_interrupted_at_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = training.task_loss
    monkeypatch.setattr(training, "task_loss", loss_interrupted_at_third)
    out = tmp_path / "out"
    assert cli.main(["demo", "--size", "8", "--hidden-features", "8", "--steps", "5", "--out", str(out)]) == 130
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    assert captured.err.splitlines()[-1] == (f"fitting SIREN: interrupted at step 2; saved {out}/fit-siren/"
                                             "checkpoint.pt; rerun with --resume to continue")
