"""The audio figure: each signal's waveform above its spectrogram, one column per signal."""

from __future__ import annotations

from typing import Dict

import numpy as np

from ..images.figures import pyplot, save_figure

SPECTROGRAM_WINDOW = 512  # samples per FFT: 32 ms at 16 kHz, the usual speech analysis window
SPECTROGRAM_RANGE_DB = 80.0  # shown below the truth's loudest bin; quieter is noise floor


def save_audio_figure(signals: Dict[str, np.ndarray], rate: int, path: str, title: str = "") -> str:
    """Waveforms (top) and spectrograms (bottom) of ``signals`` (the truth first), on the truth's colour scale."""
    names = list(signals)
    figure, axes = pyplot().subplots(2, len(names), figsize=(3.2 * len(names), 5.0), squeeze=False,
                                     sharex=True, sharey="row", layout="constrained")
    time = np.arange(len(signals[names[0]])) / rate
    window = min(SPECTROGRAM_WINDOW, len(time))
    loudest_db = None
    for column, name in enumerate(names):
        waveform, spectrogram = axes[0, column], axes[1, column]
        waveform.plot(time, signals[name], linewidth=0.3, color="black")
        waveform.set_ylim(-1.05, 1.05)
        waveform.set_title(name)
        power, _, _, image = spectrogram.specgram(signals[name], NFFT=window, Fs=rate, noverlap=window * 3 // 4,
                                                  cmap="magma", vmin=None if loudest_db is None else
                                                  loudest_db - SPECTROGRAM_RANGE_DB, vmax=loudest_db)
        if loudest_db is None:
            loudest_db = 10.0 * float(np.log10(power.max() + 1e-30))
            image.set_clim(loudest_db - SPECTROGRAM_RANGE_DB, loudest_db)
        spectrogram.set_xlabel("time (s)")
    axes[0, 0].set_ylabel("amplitude")
    axes[1, 0].set_ylabel("frequency (Hz)")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
