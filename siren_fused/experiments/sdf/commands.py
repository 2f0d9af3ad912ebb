"""``siren-fused fit-sdf``: fit a signed distance function to a scanned shape (paper Sec. 4.2), mesh it, score it.

For each model asked for (the SIREN, and with ``--compare`` a ReLU network of the same size trained
the same way) the command trains on the paper's SDF loss with checkpoints, extracts the zero level
set with marching cubes, writes ``<out>/<model>/mesh.ply``, scores it against the input surface
(Chamfer-L1, normal consistency; for the whole mesh and for its largest connected piece, which
leaves out spurious surfaces in empty space) and renders all meshes into ``<out>/render.png``; the
numbers go to ``<out>/metrics.json``. ``--time-backends N`` also times N training steps of the fused and the
reference jet backends, interleaved in this process on the same batches.

The defaults finish in minutes on a CPU; the paper's network and batch are
``--hidden-features 256 --hidden-layers 3 --batch 250000`` (a GPU job).
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
from ..command_options import add_run_options
from ..training_loop import checkpoint_file
from .data import OrientedPoints, load_oriented_points, normalise_to_unit_cube
from .mesh import extract_mesh, largest_component, network_field, write_mesh
from .metrics import compare_surfaces, sample_mesh_surface
from .render import render_meshes
from .training import SdfTrainConfig, time_training_steps, train_sdf


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fit-sdf`` to the ``siren-fused`` command line."""
    parser = subparsers.add_parser("fit-sdf", help="fit an SDF to a mesh or oriented point cloud; mesh and score it",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = SdfTrainConfig()
    data = parser.add_argument_group("data")
    data.add_argument("--input", type=Path, default=None,
                      help="mesh (.ply/.obj/.off) or oriented point cloud (.xyz 'x y z nx ny nz', .ply with "
                           "vertex normals); default: the Stanford bunny scan from the pymeshfix wheel")
    data.add_argument("--surface-samples", type=int, default=200_000,
                      help="points sampled from a mesh's surface (with face normals) (default %(default)s)")
    data.add_argument("--out", type=Path, default=Path("outputs/sdf"), help="output folder (default %(default)s)")

    training = parser.add_argument_group("training")
    training.add_argument("--model", choices=sorted(MODELS), default=defaults.model, help="default %(default)s")
    training.add_argument("--compare", action="store_true",
                          help="also train a ReLU baseline of the same size the same way, and compare")
    training.add_argument("--hidden-features", type=int, default=defaults.hidden_features,
                          help="width (default %(default)s; paper 256)")
    training.add_argument("--hidden-layers", type=int, default=defaults.hidden_layers,
                          help="hidden layers (default %(default)s; paper 3)")
    training.add_argument("--first-omega-0", type=float, default=defaults.first_omega_0,
                          help="SIREN's first-layer frequency omega_0 (default %(default)s; the paper's 30 "
                               "needs its longer training)")
    training.add_argument("--batch", type=int, default=defaults.on_surface,
                          help="on-surface points per batch, plus as many uniform ones (default %(default)s; "
                               "paper 250000)")
    training.add_argument("--steps", type=int, default=defaults.steps, help="training steps (default %(default)s)")
    training.add_argument("--lr", type=float, default=defaults.lr,
                          help="Adam learning rate (default %(default)s; paper 1e-4)")
    add_run_options(training, defaults.checkpoint_every)

    output = parser.add_argument_group("mesh and metrics")
    output.add_argument("--resolution", type=int, default=128, help="marching cubes grid size (default %(default)s)")
    output.add_argument("--chunk-size", type=int, default=65_536,
                        help="grid points per network evaluation, bounds memory (default %(default)s)")
    output.add_argument("--metric-points", type=int, default=50_000,
                        help="points per surface for Chamfer and normal consistency (default %(default)s)")
    output.add_argument("--no-render", action="store_true", help="skip the PNG rendering")
    parser.set_defaults(func=run_fit_sdf, requires=("tqdm", "trimesh", "skimage", "scipy", "matplotlib"))


def _config_for(model: str, args: argparse.Namespace) -> SdfTrainConfig:
    return SdfTrainConfig(model=model, hidden_features=args.hidden_features, hidden_layers=args.hidden_layers,
                          first_omega_0=args.first_omega_0, on_surface=args.batch, steps=args.steps, lr=args.lr,
                          backend=args.backend, seed=args.seed, checkpoint_every=args.checkpoint_every)


def fit_and_score(config: SdfTrainConfig, surface: OrientedPoints, reference: OrientedPoints,
                  args: argparse.Namespace) -> Tuple[Dict[str, object], "trimesh.Trimesh"]:
    """Train (or resume) one model and write its mesh; returns its record for metrics.json, and the mesh."""
    checkpoint = checkpoint_file(args.out, config.model, args.resume, args.restart)
    result = train_sdf(config, surface, checkpoint, resume=args.resume)
    mesh = extract_mesh(network_field(result.net), args.resolution, chunk_size=args.chunk_size)
    mesh_path = write_mesh(mesh, args.out / config.model / "mesh.ply")
    scores = {name: compare_surfaces(sample_mesh_surface(scored, args.metric_points, seed=args.seed), reference)
              for name, scored in (("metrics", mesh), ("metrics_largest_component", largest_component(mesh)))}
    timed = sorted(result.step_seconds)
    return {"config": dataclasses.asdict(config), "step": result.step, "losses": result.losses,
            **{name: score.as_dict() for name, score in scores.items()},
            "mesh": str(mesh_path), "faces": int(len(mesh.faces)),
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
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    surface = normalise_to_unit_cube(load_oriented_points(args.input, args.surface_samples, seed=args.seed))
    reference = surface.subsample(args.metric_points, seed=args.seed)
    models: List[str] = [args.model] + (["relu"] if args.compare and args.model != "relu" else [])
    results: Dict[str, Dict[str, object]] = {}
    meshes: Dict[str, "trimesh.Trimesh"] = {}
    for model in models:
        results[model], mesh = fit_and_score(_config_for(model, args), surface, reference, args)
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
    if not args.no_render:
        render_meshes(meshes, args.out / "render.png")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(summary, indent=2))
    _print_summary(results)
    print(f"wrote {args.out / 'metrics.json'}" + ("" if args.no_render else f" and {args.out / 'render.png'}"))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m siren_fused.experiments.sdf fit-sdf ...``: the same command without the other experiments."""
    parser = argparse.ArgumentParser(prog="python -m siren_fused.experiments.sdf")
    register(parser.add_subparsers(dest="command", required=True))
    return run_command(parser.parse_args(argv))

