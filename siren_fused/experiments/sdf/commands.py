"""``siren-fused fit-sdf``: fit a signed distance function to a scanned shape (paper Sec. 4.2), mesh it, score it.

For each model asked for (the SIREN, and with ``--compare`` a ReLU network of the same size trained
the same way) the command trains on the paper's SDF loss with checkpoints, extracts the zero level
set with marching cubes, writes ``<out>/<model>/mesh.ply``, scores it against the input surface
(Chamfer-L1, normal consistency; for the whole mesh and for its largest connected piece, which
leaves out spurious surfaces in empty space) and renders all meshes into ``<out>/render.png``; the
numbers go to ``<out>/metrics.json``. ``--time-backends N`` also times N training steps of the fused and the
reference jet backends, interleaved in this process on the same batches.

The defaults finish in minutes on a CPU; the paper's network and batch are
``--hidden-features 256 --hidden-layers 3 --points 250000`` (a GPU job).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from ...cli import run_command
from ..baselines import MODEL_TITLES, MODELS
from ..command_options import VOCABULARY, add_option, add_run_options, count
from ..command_parser import CommandParser, add_command
from ..training_loop import checkpoint_files
from .data import OrientedPoints, load_oriented_points, normalise_to_unit_cube
from .mesh import extract_mesh, largest_component, network_field, write_mesh
from .metrics import compare_surfaces, sample_mesh_surface
from .render import render_meshes
from .training import SdfTrainConfig, time_training_steps, train_sdf


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fit-sdf`` to the ``siren-fused`` command line."""
    parser = add_command(subparsers, "fit-sdf", "fit an SDF to a mesh or oriented point cloud; mesh and score it",
                         __doc__, run_fit_sdf, ("tqdm", "trimesh", "skimage", "scipy", "matplotlib"))
    defaults = SdfTrainConfig()
    data = parser.add_argument_group("data")
    data.add_argument("--input", type=Path, default=None,
                      help="mesh (.ply/.obj/.off) or oriented point cloud (.xyz 'x y z nx ny nz', .ply with "
                           "vertex normals) (default: the Stanford bunny scan from the pymeshfix wheel)")
    data.add_argument("--surface-samples", type=count(1), default=200_000,
                      help="points sampled from a mesh's surface (with face normals)")
    add_option(data, "out", Path("outputs/sdf"))

    training = parser.add_argument_group("training")
    add_option(training, "models", [defaults.model], choices=sorted(MODELS), nargs="+")
    training.add_argument("--compare", action="store_true",
                          help="also train a ReLU baseline of the same size the same way, and compare")
    add_option(training, "hidden_features", defaults.hidden_features, paper=256)
    add_option(training, "hidden_layers", defaults.hidden_layers, paper=3)
    add_option(training, "first_omega_0", defaults.first_omega_0,
               help="the SIREN's first-layer frequency omega_0 (the paper's 30 needs its longer training)")
    add_option(training, "points", defaults.on_surface, dest="on_surface",
               help="on-surface points per training step, plus as many uniform ones", paper=250_000)
    training.add_argument("--batch", dest="on_surface", type=VOCABULARY["points"].kind, default=argparse.SUPPRESS,
                          help=argparse.SUPPRESS)  # fit-sdf's old spelling of --points
    add_option(training, "steps", defaults.steps)
    add_option(training, "lr", defaults.lr, paper="1e-4")
    add_run_options(training, defaults.checkpoint_every)

    output = parser.add_argument_group("mesh and metrics")
    add_option(output, "resolution", 128, help="marching cubes grid points per side")
    add_option(output, "chunk_size", 65_536, help="grid points per network evaluation, which bounds memory")
    output.add_argument("--metric-points", type=count(1), default=50_000,
                        help="points per surface for Chamfer and normal consistency")
    add_option(output, "no_figure", help="skip the PNG rendering of the meshes")


def _config_for(model: str, args: argparse.Namespace) -> SdfTrainConfig:
    return SdfTrainConfig(model=model, hidden_features=args.hidden_features, hidden_layers=args.hidden_layers,
                          first_omega_0=args.first_omega_0, on_surface=args.on_surface, steps=args.steps, lr=args.lr,
                          backend=args.backend, seed=args.seed, checkpoint_every=args.checkpoint_every)


def fit_and_score(config: SdfTrainConfig, surface: OrientedPoints, reference: OrientedPoints, checkpoint: Path,
                  args: argparse.Namespace) -> Tuple[Dict[str, object], "trimesh.Trimesh"]:
    """Train (or resume) one model from ``checkpoint`` and write its mesh; returns its record for metrics.json,
    and the mesh."""
    result = train_sdf(config, surface, checkpoint, resume=args.resume)
    mesh = extract_mesh(network_field(result.net), args.resolution, chunk_size=args.chunk_size)
    mesh_path = write_mesh(mesh, args.out / config.model / "mesh.ply")
    scores = {name: compare_surfaces(sample_mesh_surface(scored, args.metric_points, seed=args.seed), reference)
              for name, scored in (("metrics", mesh), ("metrics_largest_component", largest_component(mesh)))}
    timed = sorted(result.step_seconds)
    return {"config": dataclasses.asdict(config), "step": result.step, "losses": result.losses,
            **{name: score.as_dict() for name, score in scores.items()},
            "mesh": str(mesh_path), "faces": int(len(mesh.faces)), "train_seconds": result.train_seconds,
            "median_step_seconds": timed[len(timed) // 2] if timed else None}, mesh


def _print_summary(results: Dict[str, Dict[str, object]]) -> None:
    print(f"{'model':8} {'steps':>6} {'chamfer-L1':>11} {'normal cons.':>12} {'largest piece: chamfer':>23} "
          f"{'normal cons.':>12} {'s/step':>8}")
    for model, result in results.items():
        whole, piece = result["metrics"], result["metrics_largest_component"]
        seconds = result["median_step_seconds"]
        print(f"{model:8} {result['step']:>6} {whole['chamfer']:>11.5f} {whole['normal_consistency']:>12.4f} "
              f"{piece['chamfer']:>23.5f} {piece['normal_consistency']:>12.4f} "
              f"{'-' if seconds is None else f'{seconds:.3f}':>8}")


def run_fit_sdf(args: argparse.Namespace) -> int:
    """The ``fit-sdf`` command."""
    models: List[str] = list(dict.fromkeys(args.models + (["relu"] if args.compare else [])))
    configs = {model: _config_for(model, args) for model in models}  # every setting checked before loading
    surface = normalise_to_unit_cube(load_oriented_points(args.input, args.surface_samples, seed=args.seed))
    reference = surface.subsample(args.metric_points, seed=args.seed)
    checkpoints = checkpoint_files(args.out, models, args.resume, args.restart)
    results: Dict[str, Dict[str, object]] = {}
    meshes: Dict[str, "trimesh.Trimesh"] = {}
    for model in models:
        results[model], mesh = fit_and_score(configs[model], surface, reference, checkpoints[model], args)
        meshes[f"{MODEL_TITLES.get(model, model)}: Chamfer-L1 {results[model]['metrics']['chamfer']:.4f}"] = mesh
    summary: Dict[str, object] = {"input": str(args.input or "Stanford bunny (pymeshfix wheel)"),
                                  "surface_points": len(surface.points), "resolution": args.resolution,
                                  "threads": torch.get_num_threads(), "models": results}
    if args.time_backends > 0:
        timings = time_training_steps(_config_for("siren", args), surface, steps=args.time_backends)
        summary["step_time"] = {backend: dataclasses.asdict(timing) for backend, timing in timings.items()}
        for timing in timings.values():
            print(f"SIREN step time, {timing.backend:9}: median {timing.median_seconds * 1e3:.1f} ms "
                  f"(mean {timing.mean_seconds * 1e3:.1f} ms, {timing.steps} steps)")
    if not args.no_figure:
        render_meshes(meshes, args.out / "render.png")
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=2))
    _print_summary(results)
    print(f"wrote {args.out / 'metrics.json'}" + ("" if args.no_figure else f" and {args.out / 'render.png'}"))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m siren_fused.experiments.sdf fit-sdf ...``: the same command without the other experiments."""
    parser = CommandParser(prog="python -m siren_fused.experiments.sdf")
    register(parser.add_subparsers(dest="command", required=True))
    return run_command(parser.parse_args(argv))

