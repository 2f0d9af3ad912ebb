"""Recordings as regression targets: loading a wav file, anything else FFmpeg decodes, or the default spoken
digits; amplitude normalisation; the time grid.

Conventions follow the paper's code (``dataio.py``, ``AudioFile`` and ``ImplicitAudioWrapper``): stereo is
averaged to mono, the amplitude is divided by its largest magnitude, and every sample is a point of one time
grid. That grid spans [-100, 100] there with first-layer omega_0 = 30; here it spans [-1, 1] with omega_0 = 3000
(the paper's figure), which is the same network up to the scale of its first layer's weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ...chunked import Grid
from ..baselines import SettingsError
from ..user_errors import InputFileError, MissingInputFile, reading

DEFAULT_RECORDING = "digits"
AUDIO_FILE = "audio: a wav file or any audio file FFmpeg decodes"
# "Zero" to "nine" spoken by one voice, 16 kHz: the counting the paper fits (its gt_counting.wav), as Debian
# ships it for Asterisk. Decoded with PyAV (the experiments extra), since it is G.722, not a wav.
DIGITS_PACKAGE = "asterisk-core-sounds-en-g722"
DIGITS_FOLDER = Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits")


class RecordingNotInstalled(InputFileError):
    """The default recording's Debian package is missing; the message says how to install it."""


@dataclass
class Recording:
    """A mono recording with its amplitude in [-1, 1] (largest magnitude exactly 1)."""

    amplitude: np.ndarray  # float32 [samples]
    rate: int  # samples per second
    scale: float  # the source's amplitude that maps to 1
    name: str

    @property
    def seconds(self) -> float:
        return len(self.amplitude) / self.rate


def read_wav(path: Path) -> Tuple[np.ndarray, int]:
    """Samples ``[N]`` (channels averaged) and rate of a wav file, in the file's own units."""
    from scipy.io import wavfile

    rate, data = wavfile.read(path)
    data = data.astype(np.float64)
    return (data.mean(axis=1) if data.ndim == 2 else data), int(rate)


def decode_audio(path: Path, container_format: Optional[str] = None) -> Tuple[np.ndarray, int]:
    """Samples ``[N]`` (channels averaged) and rate of the first audio stream of any file FFmpeg decodes (PyAV).

    ``container_format`` names a format FFmpeg cannot guess from the file, such as raw ``g722``.
    """
    import av

    with av.open(str(path), format=container_format) as container:
        if not container.streams.audio:
            raise InputFileError(f"{path}: has no audio stream; expected {AUDIO_FILE}")
        stream = container.streams.audio[0]
        # Planar floats keep the channels apart, to average them as read_wav does (FFmpeg's own downmix to mono
        # weighs them by 1/sqrt(2) instead).
        to_float = av.AudioResampler(format="fltp", rate=stream.rate)
        parts = [planes.to_ndarray().mean(axis=0) for frame in container.decode(stream)
                 for planes in to_float.resample(frame)]
        parts += [planes.to_ndarray().mean(axis=0) for planes in to_float.resample(None)]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0), int(stream.rate)


def spoken_digits() -> Tuple[np.ndarray, int]:
    """"Zero" to "nine", one after the other, from the Debian package ``asterisk-core-sounds-en-g722``."""
    files = [DIGITS_FOLDER / f"{digit}.g722" for digit in range(10)]
    if not all(path.is_file() for path in files):
        raise RecordingNotInstalled(
            f"the default recording (spoken digits) comes from the Debian package {DIGITS_PACKAGE}, which is not "
            f"installed: run `apt-get update && apt-get install {DIGITS_PACKAGE}` as root, or pass --audio FILE.wav")
    decoded = [decode_audio(path, container_format="g722") for path in files]
    return np.concatenate([samples for samples, _ in decoded]), decoded[0][1]


def load_recording(source: str = DEFAULT_RECORDING, seconds: Optional[float] = None) -> Recording:
    """The recording ``source`` (``digits``, a wav file, or any audio FFmpeg decodes), its first ``seconds``
    only when given, normalised to a largest magnitude of 1."""
    if seconds is not None and not seconds > 0:
        raise SettingsError(f"seconds must be > 0, got {seconds!r}")
    if source == DEFAULT_RECORDING:
        samples, rate = spoken_digits()
    else:
        path = Path(source)
        if not path.exists():
            raise MissingInputFile(f"audio {source!r} is neither a file nor {DEFAULT_RECORDING!r}")
        with reading(path, AUDIO_FILE):
            samples, rate = read_wav(path) if path.suffix.lower() == ".wav" else decode_audio(path)
    if seconds is not None:
        samples = samples[:max(1, round(seconds * rate))]
    scale = float(np.abs(samples).max()) if len(samples) else 0.0
    if scale == 0.0:
        raise InputFileError(f"audio {source!r} is silent or empty: nothing to fit")
    return Recording((samples / scale).astype(np.float32), rate, scale, Path(source).name)


def time_grid(recording: Recording) -> Grid:
    """One point per sample, evenly over [-1, 1], first sample at -1."""
    return Grid((len(recording.amplitude),))


def snr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Signal-to-noise ratio in dB: the truth's energy over the error's."""
    error = float(np.sum((prediction.astype(np.float64) - truth) ** 2))
    return float("inf") if error == 0.0 else 10.0 * float(np.log10(float(np.sum(truth.astype(np.float64) ** 2))
                                                                    / error))
