"""The hypernetwork experiment: shapes of the set encoder, hypernetwork and batched decoders; masked pooling; the
train/test split; context sampling; a few training steps; checkpoints that resume; ``hypernet`` end to end on a
folder of tiny images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("skimage", reason="the hypernet command needs the experiments extra")

from siren_fused import Siren, cli
from siren_fused.experiments.baselines import ReluPE
from siren_fused.experiments.hypernet.data import (ContextBatches, ImageSet, evaluation_context, load_faces,
                                                   load_photos, random_pixels, split_by_source)
from siren_fused.experiments.hypernet.evaluation import ALL_PIXELS, context_mean_psnr, evaluate
from siren_fused.experiments.hypernet.figures import context_image
from siren_fused.experiments.hypernet.model import (HyperNetwork, ImageHypernetwork, SetEncoder, build_decoder,
                                                    decode)
from siren_fused.experiments.hypernet.training import HypernetConfig, build_model, train_hypernet, training_step
from siren_fused.experiments.images.data import pixel_grid

SIZE = 8


def tiny_config(**overrides) -> HypernetConfig:
    settings = dict(channels=3, size=SIZE, decoder_hidden=8, decoder_layers=1, latent=16, hyper_hidden=16, batch=4,
                    context_min=2, context_max=20, steps=4, lr=1e-3, checkpoint_every=2)
    return HypernetConfig(**{**settings, **overrides})


def random_images(count: int, channels: int = 3, seed: int = 0) -> ImageSet:
    """Smooth random images (a few low-frequency waves each) in [-1, 1], one source each."""
    g = torch.Generator().manual_seed(seed)
    axis = torch.linspace(-1, 1, SIZE)
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    phases = torch.rand(count, channels, 2, generator=g) * 6.28
    images = torch.sin(2 * rows[None, None] + phases[..., 0, None, None]) * torch.cos(
        3 * cols[None, None] + phases[..., 1, None, None])
    return ImageSet(images.permute(0, 2, 3, 1).contiguous() * 0.9, [f"image {i}" for i in range(count)])


@pytest.mark.parametrize("kind", ["siren", "relu_pe"])
def test_hypernetwork_predicts_every_decoder_parameter_and_decode_evaluates_each(kind):
    decoder = build_decoder(kind, 8, 1, 3, SIZE)
    assert isinstance(decoder, Siren if kind == "siren" else ReluPE)
    model = ImageHypernetwork(decoder, channels=3, latent=16, hyper_hidden=16)
    coords, values = torch.rand(5, 7, 2) * 2 - 1, torch.rand(5, 7, 3)
    z, params = model(coords, values)
    assert z.shape == (5, 16)
    assert {name: tuple(p.shape) for name, p in params.items()} == {
        name: (5, *p.shape) for name, p in decoder.named_parameters()}
    grid = pixel_grid(SIZE)
    out = decode(decoder, grid, params)
    assert out.shape == (5, SIZE * SIZE, 3)
    # Each row is the decoder run with that image's parameters, and grid [N, 2] is shared like grid [B, N, 2].
    for b in (0, 4):
        single = build_decoder(kind, 8, 1, 3, SIZE)
        single.load_state_dict({name: p[b] for name, p in params.items()}, strict=False)
        torch.testing.assert_close(out[b], single(grid), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(decode(decoder, grid.expand(5, -1, -1), params), out)
    # Gradients reach the predicted parameters, hence the hypernetwork, not the frozen template.
    out.sum().backward()
    assert all(p.grad is not None for p in model.hypernet.parameters())
    assert all(p.grad is None and not p.requires_grad for p in decoder.parameters())


def test_hypernetwork_last_layers_start_small_with_the_decoders_own_initialisation_as_bias():
    decoder = build_decoder("siren", 16, 2, 3, SIZE)
    hypernet = HyperNetwork(decoder, latent=32, hidden=64)
    for name, template in decoder.named_parameters():
        last = [m for m in hypernet.nets[HyperNetwork._key(name)].modules() if isinstance(m, torch.nn.Linear)][-1]
        assert torch.equal(last.bias, template.detach().reshape(-1))
        kaiming_std = np.sqrt(2 / 64)
        assert 0.7 * kaiming_std / 100 < float(last.weight.detach().std()) < 1.3 * kaiming_std / 100, name


def test_masked_pooling_ignores_masked_pixels_whatever_their_values():
    encoder = SetEncoder(channels=3, latent=16)
    coords, values = torch.rand(2, 6, 2) * 2 - 1, torch.rand(2, 6, 3) * 2 - 1
    mask = torch.tensor([[1, 1, 0, 1, 0, 0], [0, 1, 1, 1, 1, 1]], dtype=torch.bool)
    pooled = encoder(coords, values, mask)
    garbage_coords, garbage_values = coords.clone(), values.clone()
    garbage_coords[~mask], garbage_values[~mask] = 1e6, float("nan")
    torch.testing.assert_close(encoder(garbage_coords, garbage_values, mask), pooled)
    for b in range(2):  # the mean over the kept pixels alone
        kept = mask[b]
        torch.testing.assert_close(pooled[b], encoder(coords[b:b + 1, kept], values[b:b + 1, kept])[0])
    with pytest.raises(ValueError, match="at least one context pixel"):
        encoder(coords, values, torch.zeros(2, 6, dtype=torch.bool))


def test_set_encoder_takes_the_hidden_layer_initialisation_everywhere():
    encoder = SetEncoder(channels=1, latent=64)
    first = encoder.net.layers[0].linear.weight
    assert first.abs().max() <= np.sqrt(6 / 3) / 30  # not the SIREN first-layer bound 1/3
    assert all(not layer.is_linear for layer in encoder.net.layers)


def test_training_batches_show_between_min_and_max_context_pixels_of_the_image():
    images = random_images(3)
    batch = ContextBatches(images, batch=50, context_min=2, context_max=20, seed=1).next()
    counts = batch.mask.sum(dim=1)
    assert batch.coords.shape == (50, 20, 2) and batch.values.shape == (50, 20, 3)
    assert batch.pixels.shape == (50, SIZE * SIZE, 3)
    assert counts.min() >= 2 and counts.max() <= 20 and len(set(counts.tolist())) > 5
    assert bool(batch.mask[:, 0].all())  # the kept pixels are the first ones
    for b in range(5):  # the values shown are the image's at the coordinates shown
        rows_cols = torch.round((batch.coords[b] + 1) / 2 * (SIZE - 1)).long()
        torch.testing.assert_close(batch.values[b], batch.pixels[b][rows_cols[:, 0] * SIZE + rows_cols[:, 1]])
    with pytest.raises(ValueError, match="context pixels"):
        ContextBatches(images, batch=2, context_min=10, context_max=SIZE * SIZE + 1, seed=0)


def test_test_context_draws_distinct_pixels_and_all_means_every_pixel():
    images = random_images(4)
    ten = evaluation_context(images, 10, seed=3)
    assert ten.coords.shape == (4, 10, 2) and bool(ten.mask.all())
    assert all(len(set(map(tuple, ten.coords[b].tolist()))) == 10 for b in range(4))
    assert torch.equal(evaluation_context(images, 10, seed=3).coords, ten.coords)
    full = evaluation_context(images, 10 ** 6, seed=3)
    assert full.coords.shape == (4, SIZE * SIZE, 2)
    canvas = context_image(full, 2, SIZE)
    np.testing.assert_allclose(canvas, (images.images[2].numpy() + 1) / 2, atol=1e-6)
    sparse = context_image(ten, 2, SIZE)
    assert (sparse == 1.0).all(axis=-1).sum() >= SIZE * SIZE - 10  # white except the context pixels
    assert random_pixels(2, 9, 9, torch.Generator().manual_seed(0)).sort(dim=1).values.tolist() == [
        list(range(9))] * 2


def test_split_by_source_is_disjoint_and_photo_tiles_of_held_out_photos_are_never_trained_on():
    faces = random_images(10)
    split = split_by_source(faces, 0.3)
    assert len(split.test) == 3 and len(split.train) == 7
    assert not set(split.train.sources) & set(split.test.sources)
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_source(faces, 1.0)

    photos = load_photos(16, test_photos=("chelsea",), photos=("chelsea", "coffee"))
    assert set(photos.test.sources) == {"chelsea"} and set(photos.train.sources) == {"coffee"}
    assert photos.train.images.shape[1:] == (16, 16, 3) and len(photos.test) > 10
    assert -1.0 <= float(photos.train.images.min()) and float(photos.train.images.max()) <= 1.0
    flat_train = photos.train.images.reshape(len(photos.train), -1)
    for tile in photos.test.images.reshape(len(photos.test), -1)[::7]:
        assert (flat_train - tile).abs().amax(dim=1).min() > 0.01
    faces = load_faces(16)
    assert faces.images.shape == (100, 16, 16, 1) and len(set(faces.sources)) == 100
    with pytest.raises(ValueError, match="not among the photos"):
        load_photos(16, test_photos=("camera",), photos=("coffee",))


def test_a_few_training_steps_reduce_the_loss_on_a_tiny_set():
    torch.manual_seed(0)
    config = tiny_config(decoder_hidden=32, latent=32, hyper_hidden=32)
    model = build_model(config)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    batch = ContextBatches(random_images(4), batch=4, context_min=20, context_max=20, seed=0).next()
    grid = pixel_grid(SIZE)
    losses = [training_step(model, optimizer, batch, grid, config) for _ in range(40)]
    assert set(losses[0]) == {"loss", "image", "latent", "parameters"}
    assert losses[-1]["image"] < 0.5 * losses[0]["image"]  # 0.22 to 0.034 here
    assert losses[-1]["loss"] < 0.5 * losses[0]["loss"]


def test_checkpoint_resume_continues_the_uninterrupted_run(tmp_path):
    images = random_images(6)
    whole = train_hypernet(tiny_config(steps=6), images, progress=False)
    path = tmp_path / "siren" / "checkpoint.pt"
    first = train_hypernet(tiny_config(steps=4), images, path, progress=False)
    assert first.step == 4 and path.is_file()
    resumed = train_hypernet(tiny_config(steps=6), images, path, resume=True, progress=False)
    assert resumed.step == 6 and len(resumed.step_seconds) == 2
    for (name, a), b in zip(whole.net.state_dict().items(), resumed.net.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    with pytest.raises(ValueError, match="different run"):
        train_hypernet(tiny_config(steps=8, latent=8), images, path, resume=True, progress=False)


def test_evaluation_scores_every_test_image_for_every_context_count():
    images = random_images(5)
    model = build_model(tiny_config())
    scores = evaluate(model, images, counts=(3, ALL_PIXELS), seed=0)
    assert set(scores.psnr_db) == {3, ALL_PIXELS}
    assert scores.reconstructions[ALL_PIXELS].shape == (5, SIZE, SIZE, 3)
    assert all(len(values) == 5 and np.isfinite(values).all() for values in scores.psnr_db.values())
    assert scores.context[ALL_PIXELS].coords.shape == (5, SIZE * SIZE, 2)


def image_folder(tmp_path) -> Path:
    """A folder of six random images as PNG files (what --images takes)."""
    from skimage.io import imsave

    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(random_images(6).images):
        imsave(folder / f"{i}.png", np.round((image.numpy() + 1) * 127.5).astype(np.uint8), check_contrast=False)
    return folder


def test_hypernet_command_on_a_folder_of_images_writes_figure_json_and_resumes(tmp_path):
    folder = image_folder(tmp_path)
    out = tmp_path / "out"
    common = ["hypernet", "--images", str(folder), "--size", str(SIZE), "--test-fraction", "0.34",
              "--decoder-hidden", "8", "--decoder-layers", "1", "--latent", "16", "--hyper-hidden", "16",
              "--batch", "4", "--context-max", "20", "--threads", "1", "--checkpoint-every", "2", "--out", str(out)]
    assert cli.main(common + ["--steps", "3"]) == 0
    record = json.loads((out / "hypernet.json").read_text())
    assert record["train_images"] == 4 and record["test_images"] == 2
    assert [row["model"] for row in record["models"]] == ["siren", "relu_pe"]
    for row in record["models"]:
        assert set(row["psnr_db"]) == {"10", "100", "1000", "all"} and row["step"] == 3
        assert all(np.isfinite(value) for value in row["psnr_db"].values())
    assert (out / "hypernet.png").stat().st_size > 5_000
    assert cli.main(common + ["--steps", "4"]) == 2  # neither --resume nor --restart
    assert cli.main(common + ["--steps", "4", "--models", "siren", "--resume", "--time-backends", "2"]) == 0
    record = json.loads((out / "hypernet.json").read_text())
    assert record["models"][0]["step"] == 4
    assert set(record["siren_step_time"]) == {"fused", "reference"}
    assert all(timing["steps"] == 2 and timing["median_seconds"] > 0 for timing in record["siren_step_time"].values())


def test_context_mean_reference_is_exact_on_flat_images_and_not_on_structured_ones():
    flat = ImageSet(torch.rand(3, 1, 1, 3).expand(3, SIZE, SIZE, 3).contiguous() * 2 - 1, ["a", "b", "c"])
    assert all(score > 100 for score in context_mean_psnr(flat, counts=(1, ALL_PIXELS)).values())
    structured = context_mean_psnr(random_images(3), counts=(5, ALL_PIXELS))
    assert structured["all"] < 20 and np.isfinite(structured["5"])

