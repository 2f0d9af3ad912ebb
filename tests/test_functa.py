"""The functa experiment: the latent-modulated SIREN renders through the fused modulated kernels as its plain
forward does; the inner loop fits latents; meta-learning makes a few inner steps fit held-out images better;
checkpoints resume; ``functa`` end to end on a folder of tiny images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("skimage", reason="the functa command needs the experiments extra")

from siren_fused import cli
from siren_fused.experiments.functa.evaluation import evaluate
from siren_fused.experiments.functa.fitting import fit_latents, image_errors
from siren_fused.experiments.functa.training import FunctaConfig, build_model, train_functa
from siren_fused.experiments.images.data import pixel_grid
from test_hypernet import SIZE, image_folder, random_images


def tiny_config(**overrides) -> FunctaConfig:
    settings = dict(channels=3, size=SIZE, hidden=16, hidden_layers=1, latent=8, batch=4, steps=4, lr=1e-3,
                    inner_steps=2, inner_lr=1e-1, checkpoint_every=2)
    return FunctaConfig(**{**settings, **overrides})


def test_render_is_the_modulated_forward_of_each_images_shifts():
    model = build_model(tiny_config())
    grid = pixel_grid(SIZE)
    latents = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    rendered = model.render(grid, latents)
    for b in range(3):
        shifts = model.to_shifts(latents[b]).split(16)
        h = grid
        for index, layer in enumerate(model.siren.layers):
            z = layer.linear(h) + (shifts[index] if index < len(shifts) else 0)
            h = z if layer.is_linear else torch.sin(layer.omega_0 * z)
        torch.testing.assert_close(rendered[b], h, rtol=1e-5, atol=1e-5)


def test_inner_steps_lower_each_images_error():
    torch.manual_seed(1)
    model = build_model(tiny_config())
    grid = pixel_grid(SIZE)
    pixels = random_images(4).pixels()
    before = image_errors(model, grid, fit_latents(model, grid, pixels, 0, 0.1), pixels)
    after = image_errors(model, grid, fit_latents(model, grid, pixels, 5, 0.1), pixels)
    assert (after < before).all()


def test_meta_learning_improves_held_out_psnr_after_the_inner_steps():
    images = random_images(12, seed=2)
    train, test = images.subset(range(8)), images.subset(range(8, 12))
    config = tiny_config(hidden=32, latent=16, batch=8, steps=200, lr=3e-3, inner_steps=3, inner_lr=0.3)
    untrained = evaluate(build_model(config), test, config.inner_lr, step_counts=(3,)).mean_psnr()["3"]
    trained = evaluate(train_functa(config, train, progress=False).net, test, config.inner_lr,
                       step_counts=(0, 3)).mean_psnr()
    assert trained["3"] > untrained + 2.0  # 12.7 to 15.7 dB here
    assert trained["3"] > trained["0"] + 2.0  # from 10.6 dB: the shared network alone is no image


def test_checkpoint_resume_continues_the_uninterrupted_run(tmp_path):
    images = random_images(6)
    whole = train_functa(tiny_config(steps=6), images, progress=False)
    path = tmp_path / "functa" / "checkpoint.pt"
    assert train_functa(tiny_config(steps=4), images, path, progress=False).step == 4
    resumed = train_functa(tiny_config(steps=6), images, path, resume=True, progress=False)
    assert resumed.step == 6 and len(resumed.step_seconds) == 2
    for (name, a), b in zip(whole.net.state_dict().items(), resumed.net.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_functa_command_on_a_folder_of_images_writes_figure_json_and_resumes(tmp_path):
    folder = image_folder(tmp_path)
    out = tmp_path / "out"
    common = ["functa", "--images", str(folder), "--size", str(SIZE), "--test-fraction", "0.34", "--hidden-features", "8",
              "--hidden-layers", "1", "--latent", "4", "--batch", "4", "--threads", "1", "--checkpoint-every", "2",
              "--out", str(out)]
    assert cli.main(common + ["--steps", "3"]) == 0
    record = json.loads((out / "functa.json").read_text())
    assert record["train_images"] == 4 and record["test_images"] == 2 and record["step"] == 3
    assert set(record["psnr_db_by_inner_steps"]) == {"0", "1", "3", "10"}
    assert all(np.isfinite(value) for value in record["psnr_db_by_inner_steps"].values())
    assert (out / "functa.png").stat().st_size > 5_000
    assert cli.main(common + ["--steps", "4"]) == 2  # neither --resume nor --restart
    assert cli.main(common + ["--steps", "4", "--resume", "--time-backends", "2"]) == 0
    record = json.loads((out / "functa.json").read_text())
    assert record["step"] == 4 and set(record["step_time"]) == {"fused", "reference"}
