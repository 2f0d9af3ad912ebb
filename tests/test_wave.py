"""The wave experiment (``siren-fused wave``): the finite-difference solver on its own (second-order convergence on
a known solution), batches with the growing window, the loss through the weighted Laplacian against the
reference and the full Hessian, training with resume, and the command at a tiny size."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch

from siren_fused import _extension, cli
from siren_fused.experiments.wave import training as wave_training
from siren_fused.experiments.wave.commands import PRESETS
from siren_fused.experiments.wave.finite_differences import grid_axis, solve_wave
from siren_fused.experiments.wave.evaluation import finite_difference_frames
from siren_fused.experiments.wave.problem import (INITIAL_SAMPLES, PULSE_SAMPLES, WaveBatches, initial_pulse,
                                                  pulse_sample_radius, wave_loss_terms)
from siren_fused.experiments.wave.training import (WaveConfig, build_model, loss_terms, make_batches,
                                                   time_training_steps, train_wave)

needs_extension = pytest.mark.skipif(_extension.load() is None, reason="the fused extension is not built")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def standing_wave(t, x, y, speed=1.0):
    """cos(sqrt(2) pi c t) sin(pi (x + 1)) sin(pi (y + 1)): zero on the square's boundary, at rest at t = 0."""
    return math.cos(math.sqrt(2) * math.pi * speed * t) * np.sin(math.pi * (x + 1)) * np.sin(math.pi * (y + 1))


@pytest.mark.parametrize("speed", [1.0, 0.5])
def test_finite_differences_converge_at_second_order(speed):
    times = (0.0, 0.35, 0.7)
    errors = []
    for intervals in (16, 32, 64):
        frames = solve_wave(lambda x, y: standing_wave(0.0, x, y), times, intervals, speed)
        x, y = np.meshgrid(grid_axis(intervals), grid_axis(intervals), indexing="xy")
        assert np.array_equal(frames[0.0], standing_wave(0.0, x, y) * (np.abs(x) < 1) * (np.abs(y) < 1))
        errors.append(max(np.abs(frames[t] - standing_wave(t, x, y, speed)).max() for t in times[1:]))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-3
    assert np.all((orders > 1.9) & (orders < 2.3)), orders


def radial_pulse(t, radius, variance, speed=1.0):
    """The exact solution from the pulse exp(-r^2 / (2 variance)) at rest in the whole plane, by its Hankel
    transform: u(t, r) = variance int exp(-variance k^2 / 2) cos(c k t) J0(k r) k dk."""
    special = pytest.importorskip("scipy.special")
    k = np.linspace(0.0, 12.0 / math.sqrt(variance), 20_001)  # the integrand is below e^-72 beyond
    integrand = np.exp(-0.5 * variance * k ** 2) * np.cos(speed * k * t) * special.j0(np.outer(radius, k)) * k
    return variance * np.trapezoid(integrand, k, axis=1)


def test_finite_differences_converge_to_the_exact_spreading_pulse():
    variance = WaveConfig().pulse_variance
    times = (0.0, 0.2, 0.4)
    errors = []
    for intervals in (100, 200, 400):
        frames = finite_difference_frames(times, intervals, 1, variance)
        radius = np.abs(grid_axis(intervals))
        along_x = {t: frame[intervals // 2] for t, frame in frames.items()}
        errors.append(max(np.abs(along_x[t] - radial_pulse(t, radius, variance)).max() for t in times))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-3
    assert np.all(orders > 1.8), orders


def test_finite_differences_reject_bad_arguments():
    pulse = functools.partial(initial_pulse, variance=0.01)
    with pytest.raises(ValueError, match="cfl must be in"):
        solve_wave(pulse, [0.1], 10, cfl=1.5)
    with pytest.raises(ValueError, match="times non-negative"):
        solve_wave(pulse, [-0.1], 10)
    with pytest.raises(ValueError, match="intervals must be >= 2"):
        grid_axis(1)


def test_batches_grow_the_window_sample_the_pulse_and_resume():
    batches = WaveBatches(2500, final_window=0.4, growth_steps=10, pulse_variance=0.01, seed=2)
    first = batches.next()
    assert (first.points[:, 0] == 0).all()  # the window starts empty
    for _ in range(4):
        batch = batches.next()
    times = batch.points[:, 0]
    assert times.max() <= 0.4 * 4 / 10 and times.max() > 0.1
    assert batch.at_start.sum() >= INITIAL_SAMPLES and batch.at_start[-INITIAL_SAMPLES:].all()
    assert pulse_sample_radius(0.01) == pytest.approx(0.5)  # 5 standard deviations
    assert batch.points[-PULSE_SAMPLES:, 1:].norm(dim=1).max() <= 0.5 + 1e-6
    start = batch.at_start
    expected = initial_pulse(batch.points[start, 1].double(), batch.points[start, 2].double(), 0.01).float()
    torch.testing.assert_close(batch.initial_value[start], expected)
    assert batch.initial_value.max() > 0.5 and (batch.initial_value[~start] == 0).all()
    state = batches.state_dict()
    following = batches.next()
    restored = WaveBatches(2500, final_window=0.4, growth_steps=10, pulse_variance=0.01, seed=99)
    restored.load_state_dict(state)
    assert torch.equal(restored.next().points, following.points)


def test_window_grows_over_its_fraction_of_the_steps_then_holds():
    batches = make_batches(WaveConfig(points=2100, steps=10, window_growth=0.5))
    windows = []
    for _ in range(10):
        windows.append(batches.window())
        batches.next()
    assert windows[:6] == pytest.approx([0.0, 0.08, 0.16, 0.24, 0.32, 0.4])
    assert windows[6:] == [0.4] * 4


@pytest.mark.parametrize("field, value, message", [("window_growth", 0.0, "window_growth must be in"),
                                                   ("window_growth", 1.5, "window_growth must be in"),
                                                   ("pulse_variance", 0.0, "pulse_variance must be > 0"),
                                                   ("final_window", -0.1, "final_window must be > 0"),
                                                   ("final_lr_ratio", 1.5, "final_lr_ratio must be in")])
def test_config_rejects_bad_settings(field, value, message):
    with pytest.raises(ValueError, match=message):
        WaveConfig(**{field: value})


def test_batches_reject_a_bad_pulse():
    with pytest.raises(ValueError, match="pulse_variance must be > 0"):
        WaveBatches(2100, 0.4, 1, pulse_variance=-1.0)
    with pytest.raises(ValueError, match="wide_pulse_variance must be > 0"):
        WaveBatches(2100, 0.4, 1, pulse_variance=0.01, wide_pulse_variance=0.0)


def test_pulse_narrows_geometrically_to_the_paper_pulse_and_resumes():
    batches = make_batches(WaveConfig(points=2100, steps=8, pulse_variance=1e-4, wide_pulse_variance=0.01,
                                      narrowing=0.5))
    variances = []
    for _ in range(6):
        variances.append(batches.current_pulse_variance())
        batch = batches.next()
        pulse_points = batch.points[-PULSE_SAMPLES:, 1:]
        assert pulse_points.norm(dim=1).max() <= 5 * variances[-1] ** 0.5 + 1e-6  # samples follow the pulse
        torch.testing.assert_close(batch.initial_value[-PULSE_SAMPLES:].double(),
                                   initial_pulse(pulse_points[:, 0], pulse_points[:, 1], variances[-1]).double(),
                                   rtol=1e-5, atol=1e-6)
    assert variances == pytest.approx([1e-2, 10 ** -2.5, 1e-3, 10 ** -3.5, 1e-4, 1e-4])
    state = batches.state_dict()
    following = batches.next().initial_value
    batches.load_state_dict(state)
    assert torch.equal(batches.next().initial_value, following)


def test_initial_terms_vanish_for_the_exact_initial_state():
    batch = WaveBatches(2100, 0.4, 1, pulse_variance=0.01, seed=0).next()
    value = batch.initial_value.clone()
    terms = wave_loss_terms(value, torch.zeros_like(value), torch.zeros_like(value), batch)
    assert all(term.item() == 0 for term in terms.values())
    terms = wave_loss_terms(value + 1e-3, torch.zeros_like(value), torch.zeros_like(value), batch)
    assert terms["initial_value"].item() == pytest.approx(1e-3 * len(value) * 0.1 * batch.at_start.sum().item())


@needs_extension
def test_loss_and_gradients_agree_for_weighted_laplacian_hessian_and_reference():
    net = build_model(WaveConfig(hidden_features=24, hidden_layers=2)).double()
    batches = WaveBatches(2200, 0.4, 2, pulse_variance=0.01, seed=1, dtype=torch.float64)
    batches.drawn = 1
    batch = batches.next()
    results = []
    for backend, hessian in (("fused", False), ("fused", True), ("reference", False)):
        terms = loss_terms(net, batch, backend, hessian)
        results.append((terms, torch.autograd.grad(sum(terms.values()), list(net.parameters()))))
    (terms, grads), others = results[0], results[1:]
    for other_terms, other_grads in others:
        for name in terms:
            torch.testing.assert_close(other_terms[name], terms[name], rtol=1e-10, atol=0)
        for a, b in zip(other_grads, grads):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * b.abs().max().item())


def test_resume_after_interruption_continues_the_same_run(tmp_path, monkeypatch):
    config = WaveConfig(hidden_features=8, hidden_layers=1, points=2050, steps=6, checkpoint_every=2)
    uninterrupted = train_wave(config, progress=False).net
    checkpoint = tmp_path / "checkpoint.pt"
    real_step = wave_training.training_step
    calls = {"count": 0}

    def step_interrupted_at_fifth(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 5:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(wave_training, "training_step", step_interrupted_at_fifth)
    with pytest.raises(KeyboardInterrupt):
        train_wave(config, checkpoint, progress=False)
    monkeypatch.setattr(wave_training, "training_step", real_step)
    resumed = train_wave(config, checkpoint, resume=True, progress=False)
    assert resumed.step == 6 and len(resumed.step_seconds) == 2
    for name, parameter in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[name], parameter, msg=name)


def test_final_lr_ratio_one_trains_at_the_constant_rate_and_the_default_decays():
    def trained(final_lr_ratio):
        config = WaveConfig(hidden_features=8, hidden_layers=1, points=2050, steps=3, final_lr_ratio=final_lr_ratio)
        return train_wave(config, progress=False).net.state_dict()

    config = WaveConfig(hidden_features=8, hidden_layers=1, points=2050, steps=3)
    net = build_model(config)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    batches = make_batches(config)
    for _ in range(config.steps):
        wave_training.training_step(net, optimizer, batches.next())
    constant, decayed = trained(1.0), trained(config.final_lr_ratio)
    for name, parameter in net.state_dict().items():
        torch.testing.assert_close(constant[name], parameter, msg=name)
    assert any(not torch.equal(decayed[name], parameter) for name, parameter in net.state_dict().items())


@needs_extension
def test_step_timing_covers_backends_and_the_hessian_variant():
    timings = time_training_steps(WaveConfig(hidden_features=8, hidden_layers=1, points=2050), steps=1, warmup_steps=0)
    assert set(timings) == {"fused", "reference", "fused_hessian"}
    assert all(timing.steps == 1 and timing.median_seconds > 0 for timing in timings.values())


def test_wave_command_trains_and_scores_against_finite_differences(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    out = tmp_path / "out"
    argv = ["wave", "--out", str(out), "--hidden-features", "8", "--hidden-layers", "1", "--points", "2050",
            "--steps", "2", "--fd-intervals", "40", "--stride", "2"]
    assert cli.main(argv) == 0
    summary = json.loads((out / "metrics.json").read_text())
    assert set(summary["relative_l2_error"]) == {"0", "0.1", "0.2", "0.3", "0.4"}
    assert all(math.isfinite(error) and error > 0 for error in summary["relative_l2_error"].values())
    assert 0 < (out / "wave.png").stat().st_size < 300_000
    assert summary["history"] == [] and not (out / "convergence.png").exists()


def test_long_preset_fills_what_the_command_line_leaves_and_scores_along_the_run(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    out = tmp_path / "out"
    argv = ["wave", "--out", str(out), "--steps", "2", "--preset", "long", "--hidden-features", "8",
            "--hidden-layers", "1", "--points", "2050", "--eval-every", "1", "--fd-intervals", "40", "--stride", "2"]
    assert cli.main(argv) == 0
    summary = json.loads((out / "metrics.json").read_text())
    preset = PRESETS["long"]
    assert summary["config"]["pulse_variance"] == preset["pulse_variance"] != WaveConfig().pulse_variance
    assert summary["config"]["steps"] == 2 and summary["config"]["hidden_features"] == 8  # given before and after
    assert [record["step"] for record in summary["history"]] == [1, 2]
    final = {f"error_t{time}": error for time, error in summary["relative_l2_error"].items()}
    assert {name: summary["history"][-1][name] for name in final} == final
    assert 0 < (out / "convergence.png").stat().st_size < 300_000
