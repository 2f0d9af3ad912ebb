"""SDF fitting (``siren-fused fit-sdf``): data loading, loss, training with resume, meshing, metrics, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

trimesh = pytest.importorskip("trimesh")
pytest.importorskip("skimage")

from siren_fused import _extension  # noqa: E402
from siren_fused.experiments.sdf import commands as sdf, training as sdf_training  # noqa: E402
from siren_fused.experiments.sdf.data import (  # noqa: E402
    OrientedPoints, SdfBatchSampler, load_oriented_points, normalise_to_unit_cube)
from siren_fused.experiments.sdf.loss import sdf_loss_terms  # noqa: E402
from siren_fused.experiments.sdf.mesh import (  # noqa: E402
    evaluate_on_grid, extract_mesh, largest_component, network_field)
from siren_fused.experiments.sdf.metrics import compare_surfaces, sample_mesh_surface  # noqa: E402
from siren_fused.experiments.sdf.training import SdfTrainConfig, time_training_steps, train_sdf  # noqa: E402

SPHERE_RADIUS = 0.6


def sphere_points(count: int, radius: float = SPHERE_RADIUS, seed: int = 0) -> OrientedPoints:
    """Uniform points on a sphere around the origin with their outward normals."""
    directions = np.random.default_rng(seed).normal(size=(count, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return OrientedPoints(radius * directions, directions)


def sphere_sdf(points: torch.Tensor) -> torch.Tensor:
    return points.norm(dim=1) - SPHERE_RADIUS


def write_xyz(path: Path, surface: OrientedPoints) -> Path:
    np.savetxt(path, np.hstack([surface.points, surface.normals]))
    return path


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- loading and normalising -------------------------------------------------------------------------------


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found.*nowhere.xyz"):
        load_oriented_points(tmp_path / "nowhere.xyz")


def test_wrong_extension_lists_the_supported_ones(tmp_path):
    path = tmp_path / "cloud.txt"
    path.write_text("0 0 0 0 0 1\n")
    with pytest.raises(ValueError, match=r"unsupported extension '\.txt'.*\.ply.*\.xyz"):
        load_oriented_points(path)


def test_xyz_without_normals_asks_for_six_columns(tmp_path):
    path = tmp_path / "cloud.xyz"
    np.savetxt(path, np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(ValueError, match="6 columns.*normals are required.*got 3"):
        load_oriented_points(path)


@pytest.mark.parametrize("suffix", [".xyz", ".ply", ".obj", ".off"])
def test_empty_file_is_rejected(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_oriented_points(path)


def test_xyz_of_text_is_rejected(tmp_path):
    path = tmp_path / "cloud.xyz"
    path.write_text("x y z nx ny nz\n")
    with pytest.raises(ValueError, match="not a whitespace-separated table"):
        load_oriented_points(path)


def test_xyz_normals_are_normalised_and_zero_normals_dropped(tmp_path):
    path = tmp_path / "cloud.xyz"
    np.savetxt(path, [[0, 0, 0, 0, 0, 2], [1, 0, 0, 0, 0, 0], [0, 1, 0, 3, 0, 0]])
    surface = load_oriented_points(path)
    np.testing.assert_allclose(surface.normals, [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(surface.points, [[0, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize("suffix", [".ply", ".obj", ".off"])
def test_mesh_surface_is_sampled_with_face_normals(tmp_path, suffix):
    path = tmp_path / f"box{suffix}"
    trimesh.creation.box(extents=(2.0, 2.0, 2.0)).export(str(path))
    surface = load_oriented_points(path, surface_samples=500)
    assert surface.points.shape == (500, 3)
    # On a cube of half-size 1, each point lies on a face whose outward normal is the point's largest axis.
    np.testing.assert_allclose(np.abs(surface.points).max(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("ij,ij->i", surface.points, surface.normals), 1.0, atol=1e-9)


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_ply_point_cloud_needs_vertex_normals(tmp_path, encoding):
    surface = sphere_points(50)
    table = np.hstack([surface.points, surface.normals]).astype("<f4")
    header = ["ply", f"format {encoding} 1.0", "element vertex 50"] + [
        f"property float {name}" for name in ("x", "y", "z", "nx", "ny", "nz")] + ["end_header"]
    header_bytes = ("\n".join(header) + "\n").encode()
    body = ("\n".join(" ".join(f"{v:.7f}" for v in row) for row in table) + "\n").encode() if encoding == "ascii" \
        else table.tobytes()
    with_normals = tmp_path / "with.ply"
    with_normals.write_bytes(header_bytes + body)
    np.testing.assert_allclose(load_oriented_points(with_normals).normals, surface.normals, atol=1e-5)
    trimesh.PointCloud(surface.points).export(str(tmp_path / "without.ply"))
    with pytest.raises(ValueError, match="without faces needs vertex normals"):
        load_oriented_points(tmp_path / "without.ply")


def test_default_surface_is_the_bunny():
    pytest.importorskip("pymeshfix")
    surface = load_oriented_points(None, surface_samples=1000)
    assert surface.points.shape == (1000, 3)


def test_normalisation_fills_the_unit_cube_keeping_the_aspect_ratio():
    stretched = OrientedPoints(sphere_points(500).points * [4.0, 2.0, 1.0] + 7.0, sphere_points(500).normals)
    normalised = normalise_to_unit_cube(stretched)
    assert normalised.points.min() == pytest.approx(-1.0) and normalised.points.max() == pytest.approx(1.0)
    extents = lambda points: points.max(axis=0) - points.min(axis=0)  # noqa: E731
    ratios = extents(normalised.points) / extents(stretched.points)
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)


def test_batches_put_surface_points_first_then_uniform_ones():
    batch = SdfBatchSampler(sphere_points(100), on_surface=64, seed=1).next()
    assert batch.points.shape == (128, 3) and batch.normals.shape == (64, 3)
    np.testing.assert_allclose(batch.points[:64].norm(dim=1).numpy(), SPHERE_RADIUS, rtol=1e-6)
    assert batch.points[64:].abs().max() <= 1.0


# --- loss ------------------------------------------------------------------------------------------------------


def test_exact_sdf_has_no_surface_normal_or_eikonal_loss():
    batch = SdfBatchSampler(sphere_points(200), on_surface=200, seed=2).next()
    points = batch.points.double().requires_grad_(True)
    value = sphere_sdf(points)[:, None]
    grad = torch.autograd.grad(value.sum(), points)[0]
    terms = sdf_loss_terms(value, grad, batch.normals.double(), batch.on_surface)
    for name in ("sdf", "normal", "eikonal"):
        assert terms[name].item() == pytest.approx(0.0, abs=1e-3), name  # float32 points: f ~ 1e-8, times 3e3
    # Uniform points rarely fall within 1/100 of the sphere, so exp(-100 |f|) stays small.
    assert terms["off_surface"].item() < 5.0


def test_loss_weights_follow_the_paper():
    value = torch.tensor([[0.1], [0.0]])  # one on-surface point with f = 0.1, one off-surface point with f = 0
    grad = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, -1.0]])
    terms = sdf_loss_terms(value, grad, torch.tensor([[0.0, 0.0, -1.0]]), on_surface=1)
    assert terms["sdf"].item() == pytest.approx(3e3 * 0.1 / 2)
    assert terms["off_surface"].item() == pytest.approx(1e2 * 1.0 / 2)
    assert terms["normal"].item() == pytest.approx(1e2 * 2.0 / 2)
    assert terms["eikonal"].item() == pytest.approx(5e1 * (1.0 + 0.0) / 2)


# --- meshing and metrics ------------------------------------------------------------------------------------


def test_marching_cubes_recovers_the_sphere_radius():
    mesh = extract_mesh(sphere_sdf, resolution=64, chunk_size=5000)
    radii = np.linalg.norm(mesh.vertices, axis=1)
    assert abs(radii.mean() - SPHERE_RADIUS) < 2e-3 and np.abs(radii - SPHERE_RADIUS).max() < 1e-2
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(4 / 3 * math.pi * SPHERE_RADIUS ** 3, rel=0.01)
    outward = np.einsum("ij,ij->i", mesh.face_normals, mesh.triangles_center) > 0
    assert outward.all()


def test_grid_values_do_not_depend_on_the_chunk_size():
    field = lambda points: points[:, 0] + 2 * points[:, 1] - 3 * points[:, 2]  # noqa: E731
    whole = evaluate_on_grid(field, resolution=9, chunk_size=10 ** 6)
    np.testing.assert_array_equal(evaluate_on_grid(field, resolution=9, chunk_size=7), whole)
    axis = np.linspace(-1, 1, 9)
    assert whole[1, 2, 3] == pytest.approx(axis[1] + 2 * axis[2] - 3 * axis[3])


def test_field_without_a_zero_crossing_gives_a_clear_error():
    with pytest.raises(ValueError, match="no 0.0 level set"):
        extract_mesh(lambda points: points.norm(dim=1) + 1.0, resolution=8)


def test_largest_component_drops_floaters():
    two_spheres = lambda p: torch.minimum(p.norm(dim=1) - 0.5, (p - 0.8).norm(dim=1) - 0.1)  # noqa: E731
    mesh = extract_mesh(two_spheres, resolution=48)
    kept = largest_component(mesh)
    assert len(kept.faces) < len(mesh.faces)
    np.testing.assert_allclose(np.linalg.norm(kept.vertices, axis=1), 0.5, atol=1e-2)


def test_metrics_of_identical_and_shifted_surfaces():
    surface = sphere_points(4000)
    same = compare_surfaces(surface, surface)
    assert same.chamfer == 0.0 and same.normal_consistency == pytest.approx(1.0)
    larger = compare_surfaces(sphere_points(4000, radius=SPHERE_RADIUS + 0.05, seed=1), surface)
    assert larger.chamfer == pytest.approx(0.05, abs=0.02)
    assert larger.normal_consistency > 0.98


def test_mesh_samples_score_against_the_analytic_sphere():
    mesh = extract_mesh(sphere_sdf, resolution=32)
    metrics = compare_surfaces(sample_mesh_surface(mesh, 5000), sphere_points(5000))
    assert metrics.chamfer < 0.02 and metrics.normal_consistency > 0.99


# --- training -------------------------------------------------------------------------------------------------


def test_sphere_point_cloud_fits_to_a_small_chamfer_distance():
    surface = sphere_points(3000)
    # A low first-layer frequency suits the smooth sphere: 400 small steps fit it in seconds. With
    # 256 points a batch the fit left spurious blobs whose presence flipped with float rounding
    # (AVX2/FMA vs SSE builds of the same kernels); 1024 points a batch fit cleanly.
    config = SdfTrainConfig(hidden_features=32, hidden_layers=2, first_omega_0=5.0, on_surface=1024, steps=400,
                            lr=1e-3)
    net = train_sdf(config, surface, progress=False).net
    mesh = extract_mesh(network_field(net), resolution=48)
    metrics = compare_surfaces(sample_mesh_surface(mesh, 5000), surface)
    # Two independent samplings of the exact sphere already score 0.017 (the points' spacing); this
    # fit scores 0.022-0.026 depending on rounding, a spurious blob would add 0.01 or more.
    assert metrics.chamfer < 0.03, metrics
    assert metrics.normal_consistency > 0.99, metrics
    assert np.linalg.norm(mesh.vertices, axis=1).mean() == pytest.approx(SPHERE_RADIUS, abs=0.01)


def test_relu_baseline_trains_through_the_reference_jet():
    config = SdfTrainConfig(model="relu", hidden_features=16, hidden_layers=1, on_surface=64, steps=3)
    result = train_sdf(config, sphere_points(200), progress=False)
    assert result.step == 3 and math.isfinite(result.losses["loss"])


def test_resume_after_interruption_continues_from_the_saved_step(tmp_path, monkeypatch):
    surface = sphere_points(500)
    config = SdfTrainConfig(hidden_features=16, hidden_layers=1, on_surface=64, steps=10, checkpoint_every=3)
    uninterrupted = train_sdf(config, surface, progress=False).net

    checkpoint = tmp_path / "checkpoint.pt"
    real_step = sdf_training.training_step
    calls = {"count": 0}

    def step_interrupted_at_seventh(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 7:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(sdf_training, "training_step", step_interrupted_at_seventh)
    with pytest.raises(KeyboardInterrupt):
        train_sdf(config, surface, checkpoint, progress=False)
    monkeypatch.setattr(sdf_training, "training_step", real_step)
    assert torch.load(checkpoint, weights_only=False)["step"] == 6  # saved on the interrupt, not only at step 3

    resumed = train_sdf(config, surface, checkpoint, resume=True, progress=False)
    assert resumed.step == 10 and len(resumed.step_seconds) == 4
    for name, parameter in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[name], parameter, msg=name)


def test_resume_refuses_a_checkpoint_of_another_network(tmp_path):
    surface = sphere_points(200)
    checkpoint = tmp_path / "checkpoint.pt"
    train_sdf(SdfTrainConfig(hidden_features=16, hidden_layers=1, on_surface=32, steps=1), surface, checkpoint,
              progress=False)
    with pytest.raises(ValueError, match="hidden_features: checkpoint 16 vs now 8"):
        train_sdf(SdfTrainConfig(hidden_features=8, hidden_layers=1, on_surface=32, steps=2), surface, checkpoint,
                  resume=True, progress=False)


@pytest.mark.skipif(_extension.load() is None, reason="the fused extension is not built")
def test_step_timing_covers_both_backends():
    config = SdfTrainConfig(hidden_features=16, hidden_layers=1, on_surface=64)
    timings = time_training_steps(config, sphere_points(200), steps=2, warmup_steps=1)
    assert set(timings) == {"fused", "reference"}
    assert all(timing.steps == 2 and timing.median_seconds > 0 for timing in timings.values())


# --- command line ---------------------------------------------------------------------------------------------


def test_fit_sdf_command_writes_meshes_metrics_and_render(tmp_path):
    xyz = write_xyz(tmp_path / "sphere.xyz", sphere_points(1000))
    out = tmp_path / "out"
    common = ["fit-sdf", "--input", str(xyz), "--out", str(out), "--hidden-features", "16", "--hidden-layers", "1",
              "--batch", "128", "--resolution", "24", "--metric-points", "500", "--checkpoint-every", "2"]
    assert sdf.main(common + ["--steps", "4", "--compare", "--time-backends", "0"]) == 0
    summary = json.loads((out / "metrics.json").read_text())
    assert set(summary["models"]) == {"siren", "relu"}
    assert {"chamfer", "normal_consistency"} <= set(summary["models"]["siren"]["metrics"])
    assert (out / "siren" / "mesh.ply").is_file() and (out / "relu" / "mesh.ply").is_file()
    assert (out / "render.png").stat().st_size > 0

    assert sdf.main(common + ["--steps", "6", "--no-render"]) == 2  # neither --resume nor --restart
    sdf.main(common + ["--steps", "6", "--no-render", "--resume"])
    assert json.loads((out / "metrics.json").read_text())["models"]["siren"]["step"] == 6


@pytest.mark.parametrize("rows", [1, 2])
def test_render_titles_fit_in_the_figure(rows):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from siren_fused.experiments.sdf.render import mesh_figure

    sphere = trimesh.creation.icosphere(subdivisions=1, radius=0.8)
    names = [f"SIREN: Chamfer-L1 0.{row}123" for row in range(rows)]
    figure = mesh_figure({name: sphere for name in names})
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    bounds = figure.bbox
    titles = [axes._left_title for axes in figure.axes if axes._left_title.get_text()]
    assert [title.get_text() for title in titles] == names
    for title in titles:
        box = title.get_window_extent(renderer)
        assert bounds.x0 <= box.x0 and box.x1 <= bounds.x1 and bounds.y0 <= box.y0 and box.y1 <= bounds.y1, box
    plt.close(figure)
