"""Every command's answer to a user's mistake: one line, ``siren-fused CMD: error: ...``, exit status 2, nothing on
stdout and no output folder left behind. The table walks every command with numbers out of range (the same bounds
for the same option everywhere), old spellings of options, missing, empty and undecodable files, and an output
folder that holds an earlier run without --resume or --restart; the commands run in this process, as
``siren-fused`` runs them."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest

for _module in ("matplotlib", "tqdm", "scipy", "skimage", "trimesh", "av"):
    pytest.importorskip(_module, reason="the commands need the experiments extra")

from siren_fused import cli  # noqa: E402

COMMANDS = ("demo", "fit-image", "poisson", "compose", "fit-sdf", "fit-ddp", "fit-audio", "fit-video", "hypernet",
            "functa", "helmholtz", "wave", "kdv", "plate")
THREADED = tuple(command for command in COMMANDS if command != "fit-ddp")  # fit-ddp shares the cores by process

# Mistakes every command (or every one with the option) must answer alike: (arguments, end of the error line).
COMMON_MISTAKES: List[Tuple[Tuple[str, ...], str]] = [
    (("--steps", "-5"), "argument --steps: must be >= 1, got -5"),
    (("--steps", "0"), "argument --steps: must be >= 1, got 0"),
    (("--steps", "many"), "argument --steps: expected an integer, got 'many'"),
    (("--lr", "nan"), "argument --lr: must be a finite number > 0, got nan"),
    (("--lr", "0"), "argument --lr: must be a finite number > 0, got 0"),
    (("--no-such-option",), "unrecognized arguments: --no-such-option"),
]
THREAD_MISTAKES = [(("--threads", "0"), "argument --threads: must be >= 1, got 0")]
BACKEND_MISTAKE = (("--backend", "cuda_emulated"), "argument --backend: invalid choice: 'cuda_emulated'")


def _files(folder: Path) -> dict:
    """Files a user might pass by mistake: missing, empty, random bytes with an image's, audio's, video's and
    mesh's extension, and an .xyz without normals."""
    folder.mkdir()
    random_bytes = bytes(range(256)) * 8
    for name in ("noise.png", "noise.wav", "noise.mp4", "noise.ply"):
        (folder / name).write_bytes(random_bytes)
    (folder / "empty.png").write_bytes(b"")
    (folder / "no_normals.xyz").write_text("0 0 0\n1 0 0\n0 1 0\n")
    (folder / "one_image").mkdir()
    write_tone(folder / "tone.wav")
    return {name: str(folder / name) for name in ("noise.png", "noise.wav", "noise.mp4", "noise.ply", "empty.png",
                                                  "no_normals.xyz", "one_image", "missing.png", "missing.xyz",
                                                  "missing.wav", "missing.mp4", "missing_folder", "tone.wav")}


def write_tone(path: Path) -> None:
    """A tenth of a second of a tone, as a 16-bit wav file."""
    import numpy as np
    from scipy.io import wavfile

    wavfile.write(path, 8000, (np.sin(np.arange(800) * 0.3) * 10000).astype(np.int16))


# Each command's own mistakes; "{name}" stands for one of _files' paths.
COMMAND_MISTAKES: List[Tuple[str, Tuple[str, ...], str]] = [
    ("demo", ("--size", "0"), "argument --size: must be >= 2, got 0"),
    ("demo", ("--batch", "-1"), "argument --batch: must be >= 0, got -1"),
    ("demo", ("--hidden", "0"), "argument --hidden: must be >= 1, got 0"),
    ("demo", ("--timing-repeats", "0"), "argument --timing-repeats: must be >= 1, got 0"),
    ("demo", ("--image", "{missing.png}"), "missing.png: no such file; expected an image file (PNG, JPEG, TIFF, "
     "BMP, ...)"),
    ("demo", ("--image", "nosuchsample"), "image 'nosuchsample' is neither a file nor a scikit-image sample"),
    ("demo", ("--image", "{empty.png}"), "empty.png: the file is empty; expected an image file"),
    ("fit-image", ("--image", "{noise.png}"), "noise.png: could not be read as an image file"),
    ("fit-image", ("--models", "mlp"), "argument --models: invalid choice: 'mlp'"),
    ("fit-image", ("--size", "-3"), "argument --size: must be >= 2, got -3"),
    ("poisson", ("--target", "hessian"), "argument --target: invalid choice: 'hessian'"),
    ("poisson", ("--time-backends", "-1"), "argument --time-backends: must be >= 0, got -1"),
    ("compose", ("--alpha", "2"), "argument --alpha: must be a finite number >= 0 and <= 1, got 2"),
    ("compose", ("--second-image", "{missing.png}"), "missing.png: no such file"),
    ("fit-sdf", ("--resolution", "1"), "argument --resolution: must be >= 2, got 1"),
    ("fit-sdf", ("--points", "0"), "argument --points: must be >= 1, got 0"),
    ("fit-sdf", ("--batch", "0"), "argument --batch: must be >= 1, got 0"),
    ("fit-sdf", ("--input", "{missing.xyz}"), "surface file not found"),
    ("fit-sdf", ("--input", "{no_normals.xyz}"), "no_normals.xyz: an .xyz point cloud needs 6 columns"),
    ("fit-sdf", ("--input", "{noise.ply}"), "noise.ply: "),
    ("fit-ddp", ("--size", "1"), "argument --size: must be >= 2, got 1"),
    ("fit-ddp", ("--side", "600"), "side must be in [2, 512] (the cameraman's 512 pixels at most), got 600"),
    ("fit-ddp", ("--nproc", "0"), "argument --nproc: must be >= 1, got 0"),
    ("fit-audio", ("--audio", "{missing.wav}"), "audio '{missing.wav}' is neither a file nor 'digits'"),
    ("fit-audio", ("--audio", "{noise.wav}"), "noise.wav: could not be read as audio"),
    ("fit-audio", ("--seconds", "-1"), "argument --seconds: must be a finite number >= 0, got -1"),
    ("fit-audio", ("--batch", "-2"), "argument --batch: must be >= 0, got -2"),
    ("fit-audio", ("--audio", "{tone.wav}", "--seconds", "0.0003"), "samples must be >= 4"),
    ("wave", ("--out", "{noise.png}"), "noise.png is a file: --out names the folder"),
    ("helmholtz", ("--out", "{noise.png}/results"), "noise.png/results: Not a directory"),
    ("fit-video", ("--video", "{missing.mp4}"), "video '{missing.mp4}' is neither a file nor 'bikes'"),
    ("fit-video", ("--video", "{noise.mp4}"), "noise.mp4: could not be read as a video file"),
    ("fit-video", ("--frames", "-1"), "argument --frames: must be >= 0, got -1"),
    ("fit-video", ("--scale", "0"), "argument --scale: must be >= 1, got 0"),
    ("hypernet", ("--size", "0"), "argument --size: must be >= 2, got 0"),
    ("hypernet", ("--images", "{missing_folder}"), "does not exist (or is not a folder)"),
    ("hypernet", ("--images", "{one_image}"), "has no image files"),
    ("hypernet", ("--context-min", "300"), "context pixels must satisfy --context-min <= --context-max"),
    ("hypernet", ("--test-fraction", "1"), "argument --test-fraction: must be a finite number > 0 and <= 0.99"),
    ("hypernet", ("--batch", "-1"), "argument --batch: must be >= 0, got -1"),
    ("helmholtz", ("--final-lr-ratio", "2"), "argument --final-lr-ratio: must be a finite number >= 0 and <= 1"),
    ("helmholtz", ("--inner-fraction", "-0.5"), "argument --inner-fraction: must be a finite number >= 0"),
    ("helmholtz", ("--hidden-features", "0"), "argument --hidden-features: must be >= 1, got 0"),
    ("wave", ("--pulse-variance", "0"), "argument --pulse-variance: must be a finite number > 0, got 0"),
    ("wave", ("--window-growth", "1.5"), "argument --window-growth: must be a finite number > 0 and <= 1"),
    ("wave", ("--fd-intervals", "1"), "argument --fd-intervals: must be >= 2, got 1"),
    ("wave", ("--narrowing", "0"), "argument --narrowing: must be a finite number > 0 and <= 1, got 0"),
    ("wave", ("--wide-pulse-variance", "-1"), "argument --wide-pulse-variance: must be a finite number >= 0"),
    ("wave", ("--preset", "short"), "argument --preset: invalid choice: 'short'"),
    ("helmholtz", ("--absorption", "-1"), "argument --absorption: must be a finite number >= 0, got -1"),
    ("helmholtz", ("--eval-every", "-1"), "argument --eval-every: must be >= 0, got -1"),
    ("helmholtz", ("--velocity", "square", "--eval-every", "5"), "--eval-every needs --velocity uniform"),
    ("functa", ("--inner-steps", "0"), "argument --inner-steps: must be >= 1, got 0"),
    ("functa", ("--images", "{missing_folder}"), "does not exist (or is not a folder)"),
    ("kdv", ("--first-omega-0", "0"), "argument --first-omega-0: must be a finite number > 0, got 0"),
    ("plate", ("--points", "0"), "argument --points: must be >= 1, got 0"),
]


def _cases():
    for command in COMMANDS:
        for argv, end in COMMON_MISTAKES:
            yield command, argv, end
        if command in THREADED:
            for argv, end in THREAD_MISTAKES + [BACKEND_MISTAKE]:
                yield command, argv, end
    yield from COMMAND_MISTAKES


def _fill(text: str, files: dict) -> str:
    """``text`` with each "{name}" replaced by the path ``files[name]``."""
    for name, path in files.items():
        text = text.replace("{" + name + "}", path)
    return text


def run_cli(argv: List[str], capsys) -> Tuple[int, str, str]:
    """``siren-fused ARGV``'s exit status, stdout and stderr, as the console script gives them."""
    try:
        status = cli.main(argv)
    except SystemExit as exit:  # argparse's errors
        status = exit.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _output_flag(command: str) -> List[str]:
    return ["--out", "{out}"] if command != "fit-ddp" else ["--out", "{out}/siren.pt"]


@pytest.mark.parametrize("command, argv, end", list(_cases()),
                         ids=lambda value: " ".join(value) if isinstance(value, tuple) else None)
def test_a_mistake_is_one_line_and_status_2(command, argv, end, tmp_path, capsys):
    files = {**_files(tmp_path / "files"), "out": str(tmp_path / "out")}
    # The output folder first: a mistake in --out itself comes later and wins.
    filled = [_fill(part, files) for part in [command, *_output_flag(command), *argv]]
    status, out, err = run_cli(filled, capsys)
    assert status == 2 and out == "", (status, out, err)
    (line,) = err.splitlines()
    assert line.startswith(f"siren-fused {command}: error: "), line
    assert _fill(end, files) in line, line
    assert not (tmp_path / "out").exists()


def test_every_command_is_in_the_table():
    assert set(cli.build_parser()._subparsers._group_actions[0].choices) == set(COMMANDS)
    assert {command for command, _, _ in COMMAND_MISTAKES} == set(COMMANDS)


# The smallest run of each command that keeps checkpoints, and its first model's checkpoint folder.
EXISTING_RUNS = [
    ("demo", ["--size", "8", "--hidden-features", "8", "--steps", "1"], "fit-siren"),
    ("fit-image", ["--size", "8", "--hidden-features", "8", "--steps", "1"], "fit-siren"),
    ("poisson", ["--size", "8", "--hidden-features", "8", "--steps", "1"], "grad-siren"),
    ("compose", ["--size", "8", "--hidden-features", "8", "--steps", "1"], "grad-siren"),
    ("fit-sdf", ["--surface-samples", "100", "--steps", "1"], "siren"),
    ("fit-audio", ["--audio", "{tone.wav}", "--steps", "1"], "siren"),
    ("fit-video", ["--steps", "1", "--frames", "2"], "siren"),
    ("hypernet", ["--steps", "1"], "siren"),
    ("functa", ["--steps", "1"], "functa"),
    ("helmholtz", ["--steps", "1"], "siren"),
    ("wave", ["--steps", "1"], "siren"),
    ("kdv", ["--steps", "1"], "siren"),
    ("plate", ["--steps", "1"], "siren"),
]


@pytest.mark.parametrize("command, argv, model", EXISTING_RUNS, ids=[run[0] for run in EXISTING_RUNS])
def test_an_existing_run_without_resume_or_restart_is_one_line(command, argv, model, tmp_path, capsys):
    tone = tmp_path / "tone.wav"
    write_tone(tone)
    checkpoint = tmp_path / "out" / model / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"an earlier run's")
    filled = [_fill(part, {"tone.wav": str(tone)}) for part in [command, *argv, "--out", str(tmp_path / "out")]]
    status, out, err = run_cli(filled, capsys)
    assert status == 2 and out == "", (status, out, err)
    (line,) = err.splitlines()
    assert line == (f"siren-fused {command}: error: {checkpoint} exists: pass --resume to continue that run or "
                    "--restart to discard it")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [model]  # nothing else written
