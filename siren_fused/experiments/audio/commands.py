"""``siren-fused fit-audio``: fit a recording's waveform with a SIREN and the baselines (paper Sec. 4.1, Fig. 2).

Each network maps time on [-1, 1] to the amplitude (normalised to a largest magnitude of 1), trained on the
mean squared error with Adam. The command writes ``<out>/<model>.wav`` for every network and ``truth.wav``,
``<out>/audio.png`` (waveforms and spectrograms) and ``<out>/audio.json`` (PSNR and SNR in dB, times), with
a checkpoint per network in ``<out>/<model>/`` that ``--resume`` continues.

The paper's settings (its train_audio.py): a SIREN 1 -> 256 x 3 -> 1 with first-layer omega_0 = 3000, Adam at
1e-4, every sample in each of 9,000 steps, for the whole recording: ``--seconds 0 --hidden-features 256 --batch
0 --steps 9000``. The defaults fit the first 2.5 s (zero, one, two) on random batches of 8,192 samples, 500 steps
per network, in minutes on a CPU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import torch

from ...modules import Siren
from ..baselines import MODEL_TITLES, MODELS, ReluPE, nyquist_frequencies
from ..command_options import add_option, real
from ..command_parser import add_command
from ..images.data import psnr
from ..signal_fit import add_signal_fit_arguments, fit_models, render
from .data import DEFAULT_RECORDING, Recording, load_recording, snr, time_grid
from .figures import save_audio_figure

AUDIO_MODELS = ("siren", "relu_pe", "tanh")
REQUIRED_MODULES = ("tqdm", "scipy", "matplotlib", "av")  # progress bar, wav files, figure, G.722 and other codecs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fit-audio`` to the ``siren-fused`` command line."""
    parser = add_command(subparsers, "fit-audio", "fit a recording's waveform with SIREN and the baselines (Fig. 2)",
                         __doc__, run_fit_audio, REQUIRED_MODULES)
    parser.add_argument("--audio", default=DEFAULT_RECORDING,
                        help="a wav file, any audio file FFmpeg decodes, or 'digits': zero to nine spoken, from the "
                             "Debian package asterisk-core-sounds-en-g722")
    parser.add_argument("--seconds", type=real(at_least=0), default=2.5,
                        help="fit the first SECONDS of the recording, 0 for all of it")
    add_option(parser, "first_omega_0", 3000.0, help="the SIREN's first-layer omega_0 for time on [-1, 1]",
               paper=3000)
    add_signal_fit_arguments(parser, AUDIO_MODELS, hidden=128, steps=500, batch=8192)
    add_option(parser, "out", Path("outputs/audio"))


def _builders(args: argparse.Namespace, samples: int) -> Dict[str, Callable[[], torch.nn.Module]]:
    """The networks asked for, 1 -> 1; the positional encoding gets the paper's Nyquist-rate frequencies (worked
    out here, so that a recording too short for them stops the command before any training)."""
    width, depth = args.hidden_features, args.hidden_layers
    frequencies = nyquist_frequencies(samples) if "relu_pe" in args.models else 0
    every = {"siren": lambda: Siren(1, width, depth, 1, first_omega_0=args.first_omega_0),
             "relu_pe": lambda: ReluPE(1, width, depth, 1, frequencies=frequencies),
             "tanh": lambda: MODELS["tanh"](1, width, depth, 1)}
    return {name: every[name] for name in args.models}


def _write_wav(path: Path, amplitude: np.ndarray, rate: int) -> None:
    """16-bit PCM at full scale for a magnitude of 1, what any player opens."""
    from scipy.io import wavfile

    wavfile.write(path, rate, np.round(np.clip(amplitude, -1.0, 1.0) * 32767.0).astype(np.int16))


def fit_audio(args: argparse.Namespace, recording: Recording) -> Dict:
    """Fit every model to ``recording``; write the wavs, the figure and the JSON; return the record."""
    grid = time_grid(recording)
    coords, truth = grid.points(), torch.from_numpy(recording.amplitude).reshape(-1, 1)
    signal = {"audio": args.audio, "seconds": args.seconds, "samples": len(truth), "first_omega_0": args.first_omega_0}
    fits = fit_models(_builders(args, len(truth)), coords, truth, args, args.out, signal)
    rows, waveforms = [], {"truth": recording.amplitude}
    _write_wav(args.out / "truth.wav", recording.amplitude, recording.rate)
    for name, fit in fits.items():
        waveform = render(fit.net, grid)[:, 0].numpy()
        _write_wav(args.out / f"{name}.wav", waveform, recording.rate)
        scores = {"psnr_db": psnr(waveform, recording.amplitude), "snr_db": snr(waveform, recording.amplitude)}
        # + 0.0 turns a rounded -0.0 into 0.0
        column = f"{MODEL_TITLES[name]}\nPSNR {scores['psnr_db']:.1f}, SNR {round(scores['snr_db'], 1) + 0.0} dB"
        waveforms[column] = waveform
        rows.append({"model": name, **scores, "train_seconds": fit.seconds, "step": fit.step,
                     "final_loss": fit.final_loss})
    record = {**signal, "name": recording.name, "rate": recording.rate, "duration_seconds": recording.seconds,
              "hidden_features": args.hidden_features, "hidden_layers": args.hidden_layers, "steps": args.steps,
              "lr": args.lr, "batch": args.batch,
              "threads": torch.get_num_threads(), "models": rows}
    title = f"{recording.name}, {recording.seconds:.2f} s at {recording.rate} Hz, {args.steps} steps"
    record["figure"] = save_audio_figure(waveforms, recording.rate, str(args.out / "audio.png"), title)
    (args.out / "audio.json").write_text(json.dumps(record, indent=2))
    print(f"\n{'model':<9}{'PSNR dB':>9}{'SNR dB':>8}{'train s':>9}")
    for row in rows:
        print(f"{row['model']:<9}{row['psnr_db']:>9.2f}{row['snr_db']:>8.2f}{row['train_seconds']:>9.1f}")
    print(f"wrote {args.out}/audio.png, audio.json and a wav per model")
    return record


def run_fit_audio(args: argparse.Namespace) -> int:
    """The ``fit-audio`` command."""
    fit_audio(args, load_recording(args.audio, args.seconds or None))
    return 0
