"""The image experiments: targets and their scaling, and each command end to end on 32 x 32 images."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

skimage_io = pytest.importorskip("skimage.io", reason="the image experiments need scikit-image "
                                                      "(pip install siren_fused[experiments])")
pytest.importorskip("scipy", reason="the image targets use scipy.ndimage")
pytest.importorskip("matplotlib", reason="the image commands draw figures with matplotlib")
pytest.importorskip("tqdm", reason="the training loop's progress bar is tqdm")

from siren_fused import cli  # noqa: E402
from siren_fused.experiments.images import data as image_data  # noqa: E402
from siren_fused.experiments.images.commands import run_comparison  # noqa: E402

SIDE = 32
TINY_NET = ["--size", str(SIDE), "--hidden", "32", "--layers", "2", "--threads", "1"]


@pytest.fixture
def smooth_image_file(tmp_path) -> str:
    """A smooth 32 x 32 test image (two low-frequency waves) saved as a PNG, as a user would pass one."""
    x = np.linspace(-1.0, 1.0, SIDE)
    rows, cols = np.meshgrid(x, x, indexing="ij")
    image = 0.6 * np.sin(2.0 * rows) * np.cos(1.5 * cols) + 0.2 * rows
    path = str(tmp_path / "smooth.png")
    skimage_io.imsave(path, np.round((image + 1.0) / 2.0 * 255.0).astype(np.uint8), check_contrast=False)
    return path


def _run(tmp_path, *argv: str) -> dict:
    out = tmp_path / "out"
    assert cli.main([*argv, *TINY_NET, "--out", str(out)]) == 0
    (record_path,) = [p for p in out.iterdir() if p.suffix == ".json"]
    (figure_path,) = [p for p in out.iterdir() if p.suffix == ".png"]
    assert figure_path.stat().st_size > 1000
    return json.loads(record_path.read_text())


def test_quadratic_targets_are_exact_derivatives_in_grid_units():
    # Sobel and the 5-point Laplacian are exact for quadratics away from the border.
    grid = image_data.pixel_grid(SIDE).reshape(SIDE, SIDE, 2).numpy()
    image = (0.5 * (grid[..., 0] ** 2 + 0.25 * grid[..., 1] ** 2) - 0.5).astype(np.float64)
    inner = (slice(1, -1), slice(1, -1))
    grad = image_data.poisson_target(image, "grad", "unit").reshape(SIDE, SIDE, 2).numpy()
    np.testing.assert_allclose(grad[inner][..., 0], grid[inner][..., 0], atol=1e-4)
    np.testing.assert_allclose(grad[inner][..., 1], 0.25 * grid[inner][..., 1], atol=1e-4)
    lap = image_data.poisson_target(image, "laplacian", "unit").reshape(SIDE, SIDE).numpy()
    np.testing.assert_allclose(lap[inner], 1.25, rtol=1e-4)


@pytest.mark.parametrize("task", ["grad", "laplacian"])
def test_paper_scaling_is_unit_scaling_times_reconstruction_scale(task):
    image = image_data.load_image("camera", SIDE)
    paper = image_data.poisson_target(image, task, "paper")
    unit = image_data.poisson_target(image, task, "unit")
    scale = image_data.reconstruction_scale(task, SIDE, "paper")
    torch.testing.assert_close(paper, unit * scale, rtol=1e-4, atol=1e-3)
    assert image_data.reconstruction_scale(task, SIDE, "unit") == pytest.approx(1.0)


def test_alignment_fits_exactly_what_the_supervision_cannot_see():
    image = image_data.load_image("camera", SIDE)
    grid = image_data.pixel_grid(SIDE).reshape(SIDE, SIDE, 2).numpy()
    shifted = image + 0.3
    ramped = image + 0.3 + 0.2 * grid[..., 0] - 0.1 * grid[..., 1]
    np.testing.assert_allclose(image_data.align_unseen_part(shifted, image, "grad"), image, atol=1e-5)
    np.testing.assert_allclose(image_data.align_unseen_part(ramped, image, "laplacian"), image, atol=1e-5)
    # Gradients do see a ramp, so aligning for "grad" must not remove it.
    assert image_data.psnr(image_data.align_unseen_part(ramped, image, "grad"), image) < 40.0


def test_load_image_accepts_a_file_and_a_sample_name(smooth_image_file):
    from_file = image_data.load_image(smooth_image_file, 16)
    from_sample = image_data.load_image("astronaut", 16)  # colour sample: converted to grey
    for image in (from_file, from_sample):
        assert image.shape == (16, 16) and image.min() >= -1.0 and image.max() <= 1.0
    with pytest.raises(ValueError, match="neither a file nor a scikit-image sample"):
        image_data.load_image("no_such_image", 16)


def test_fit_image_command_siren_beats_relu(tmp_path):
    record = _run(tmp_path, "fit-image", "--steps", "200", "--batch", "0", "--models", "siren", "relu")
    psnr = {row["model"]: row["psnr_db"] for row in record["models"]}
    assert psnr["siren"] > 25.0  # measured about 29.6 dB against 13.2 dB for ReLU
    assert psnr["siren"] > psnr["relu"] + 5.0
    assert all(row["train_seconds"] > 0 for row in record["models"])


@pytest.mark.parametrize("target", ["grad", "laplacian"])
def test_poisson_command_runs_every_model_and_times_both_backends(tmp_path, target):
    record = _run(tmp_path, "poisson", "--target", target, "--steps", "5", "--timing-steps", "2")
    assert [row["model"] for row in record["models"]] == ["siren", "relu", "relu_pe", "tanh"]
    assert all(math.isfinite(row["psnr_db"]) for row in record["models"])
    assert set(record["siren_seconds_per_step"]) == {"fused", "reference"}
    assert all(t > 0 for t in record["siren_seconds_per_step"].values())


@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_poisson_from_gradients_recovers_a_smooth_image(tmp_path, smooth_image_file, backend):
    args = cli.build_parser().parse_args(
        ["poisson", "--target", "grad", "--image", smooth_image_file, *TINY_NET, "--steps", "300", "--batch", "0",
         "--lr", "1e-3", "--scaling", "unit", "--models", "siren", "--backend", backend, "--timing-steps", "1",
         "--out", str(tmp_path)])
    record = run_comparison(args, "grad")
    assert record["models"][0]["psnr_db"] > 40.0  # measured about 53 dB with either backend


def test_compose_command_recovers_the_blend(tmp_path):
    record = _run(tmp_path, "compose", "--steps", "300", "--batch", "0", "--lr", "1e-3", "--scaling", "unit")
    assert record["psnr_vs_blend_db"] > 25.0  # measured about 33 dB


def test_demo_command_reports_both_jet_timings(tmp_path):
    record = _run(tmp_path, "demo", "--steps", "20", "--batch", "0", "--timing-repeats", "1")
    assert record["pixels"] == SIDE * SIDE
    assert set(record["jet_seconds"]) == {"fused", "reference"}
    assert math.isfinite(record["psnr_db"])


def test_image_commands_checkpoint_and_resume(tmp_path):
    record = _run(tmp_path, "fit-image", "--steps", "4", "--models", "siren", "relu", "--checkpoint-every", "2")
    first = {row["model"]: row for row in record["models"]}
    assert {name: row["step"] for name, row in first.items()} == {"siren": 4, "relu": 4}
    for name in ("siren", "relu"):
        assert (tmp_path / "out" / f"fit-{name}" / "checkpoint.pt").is_file()
    assert cli.main(["fit-image", "--steps", "6", "--models", "siren", "relu", *TINY_NET,
                     "--out", str(tmp_path / "out")]) == 2  # an earlier run there: neither --resume nor --restart
    resumed = {row["model"]: row for row in _run(tmp_path, "fit-image", "--steps", "6", "--models", "siren", "relu",
                                                 "--resume")["models"]}
    assert {name: row["step"] for name, row in resumed.items()} == {"siren": 6, "relu": 6}
    for name in ("siren", "relu"):  # the training time counts the first run's 4 steps too
        assert resumed[name]["train_seconds"] > first[name]["train_seconds"]
