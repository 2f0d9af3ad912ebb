"""The audio experiment: loading recordings (a synthetic wav always, the spoken digits where their Debian package is
installed), SNR, and ``fit-audio`` end to end on a tenth of a second, with checkpoints that resume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.io import wavfile

from siren_fused import cli
from siren_fused.experiments.audio import data as audio_data
from siren_fused.experiments.audio.data import (DIGITS_FOLDER, RecordingNotInstalled, decode_audio, load_recording,
                                                read_wav, snr, time_grid)
from siren_fused.experiments.baselines import nyquist_frequencies

RATE = 8000


@pytest.fixture
def chirp_wav(tmp_path):
    """0.1 s of a tone sweeping from 300 Hz to 1800 Hz, stereo int16 at 8 kHz (the right channel half the left),
    as a user would pass one."""
    t = np.arange(RATE // 10) / RATE
    left = 0.6 * np.sin(2 * np.pi * (300 * t + 0.5 * 15000 * t ** 2))
    stereo = np.stack([left, left / 2], axis=1)
    path = tmp_path / "chirp.wav"
    wavfile.write(path, RATE, np.round(stereo * 20000).astype(np.int16))
    return path


def test_wav_is_averaged_to_mono_and_normalised(chirp_wav):
    recording = load_recording(str(chirp_wav))
    samples, rate = read_wav(chirp_wav)
    assert rate == recording.rate == RATE and len(recording.amplitude) == RATE // 10
    assert recording.amplitude.dtype == np.float32 and np.abs(recording.amplitude).max() == 1.0
    np.testing.assert_allclose(recording.amplitude * recording.scale, samples, rtol=1e-6)
    raw = wavfile.read(chirp_wav)[1].astype(np.float64)
    np.testing.assert_allclose(samples, raw.mean(axis=1))


def test_ffmpeg_decodes_what_scipy_reads(chirp_wav):
    decoded, rate = decode_audio(chirp_wav)
    samples, _ = read_wav(chirp_wav)
    assert rate == RATE
    np.testing.assert_allclose(decoded, samples / 32768.0, atol=1e-6)  # PyAV gives floats of full scale 1


def test_seconds_keeps_the_start(chirp_wav):
    recording = load_recording(str(chirp_wav), seconds=0.025)
    assert len(recording.amplitude) == 200 and np.abs(recording.amplitude).max() == 1.0
    assert recording.seconds == pytest.approx(0.025)


def test_time_grid_spans_minus_one_to_one(chirp_wav):
    points = time_grid(load_recording(str(chirp_wav))).points()
    assert points.shape == (RATE // 10, 1)
    assert points[0, 0] == -1.0 and points[-1, 0] == 1.0


@pytest.mark.skipif(not DIGITS_FOLDER.is_dir(), reason="Debian package asterisk-core-sounds-en-g722 not installed")
def test_spoken_digits_are_eight_seconds_at_16_khz():
    recording = load_recording("digits")
    assert recording.rate == 16000 and 7.0 < recording.seconds < 10.0
    assert np.abs(recording.amplitude).max() == 1.0
    loudness = np.sqrt(np.mean(recording.amplitude ** 2))
    assert 0.05 < loudness < 0.5  # speech, not silence or clipping


def test_missing_digits_package_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(audio_data, "DIGITS_FOLDER", tmp_path / "nowhere")
    with pytest.raises(RecordingNotInstalled, match="apt-get install asterisk-core-sounds-en-g722"):
        load_recording("digits")
    assert cli.main(["fit-audio", "--out", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("siren-fused fit-audio: error: the default recording") and "--audio FILE.wav" in line
    assert not (tmp_path / "out").exists()


def test_bad_recordings_are_named(tmp_path, chirp_wav):
    with pytest.raises(FileNotFoundError, match="audio 'missing.wav' is neither a file nor 'digits'"):
        load_recording("missing.wav")
    with pytest.raises(ValueError, match="seconds must be > 0"):
        load_recording(str(chirp_wav), seconds=0)
    silent = tmp_path / "silent.wav"
    wavfile.write(silent, RATE, np.zeros(100, dtype=np.int16))
    with pytest.raises(ValueError, match="silent or empty"):
        load_recording(str(silent))


def test_snr_of_a_known_error():
    truth = np.array([1.0, -1.0, 1.0, -1.0])
    assert snr(truth * 1.1, truth) == pytest.approx(20.0)  # error 0.1 of the amplitude: 20 dB
    assert snr(truth, truth) == math.inf


def test_nyquist_frequencies_follow_the_paper():
    assert nyquist_frequencies(40000) == 13 and nyquist_frequencies(4) == 0
    with pytest.raises(ValueError, match="samples must be >= 4"):
        nyquist_frequencies(3)


def test_fit_audio_command_writes_wavs_figure_json_and_resumes(tmp_path, chirp_wav):
    out = tmp_path / "out"
    common = ["fit-audio", "--audio", str(chirp_wav), "--seconds", "0", "--hidden", "32", "--layers", "2",
              "--batch", "0", "--threads", "1", "--checkpoint-every", "5", "--out", str(out)]
    assert cli.main(common + ["--steps", "100", "--lr", "1e-3"]) == 0
    record = json.loads((out / "audio.json").read_text())
    scores = {row["model"]: row for row in record["models"]}
    assert set(scores) == {"siren", "relu_pe", "tanh"} and record["samples"] == RATE // 10
    # A chirp in 100 steps: the SIREN is far ahead (16 dB SNR against 2 and 0 here), as in the paper's Fig. 2.
    assert scores["siren"]["snr_db"] > scores["relu_pe"]["snr_db"] + 6
    assert scores["siren"]["snr_db"] > scores["tanh"]["snr_db"] + 6
    for name in ("truth", "siren", "relu_pe", "tanh"):
        rate, written = wavfile.read(out / f"{name}.wav")
        assert rate == RATE and written.dtype == np.int16 and len(written) == RATE // 10
    assert (out / "audio.png").stat().st_size > 10_000

    assert cli.main(common + ["--steps", "110", "--models", "siren"]) == 2  # neither --resume nor --restart
    assert cli.main(common + ["--steps", "110", "--lr", "1e-3", "--models", "siren", "--resume"]) == 0
    resumed = json.loads((out / "audio.json").read_text())["models"][0]
    assert resumed["step"] == 110
    # The time of the first 100 steps is kept: the resumed model reports its training time over both runs.
    assert resumed["train_seconds"] > scores["siren"]["train_seconds"] > 0
