"""The Helmholtz experiment (``siren-fused helmholtz``): the analytic solution and its source scaling, the PML
operator, batches, the loss through both jet backends, and the command at a tiny size."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

pytest.importorskip("scipy")

from siren_fused import _extension, cli  # noqa: E402
from siren_fused.experiments.helmholtz.evaluation import compare_to_analytic, evaluation_mask, grid_points  # noqa: E402
from siren_fused.experiments.helmholtz.problem import (  # noqa: E402
    PML_STRENGTH, PML_THICKNESS, SOURCE_AMPLITUDE, SOURCE_SAMPLE_RADIUS, SOURCE_SAMPLES, SOURCE_VARIANCE,
    WAVENUMBER, HelmholtzBatches, analytic_solution, helmholtz_operator, pml_coefficients, source_term,
    squared_slowness)
from siren_fused.experiments.helmholtz.training import HelmholtzConfig, build_model, loss_terms  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_analytic_solution_solves_the_homogeneous_equation_away_from_the_source():
    points = np.array([[0.3, 0.1], [-0.2, 0.45], [0.05, -0.4]])
    h = 1e-3
    shifts = [np.array(s) * h for s in ([1, 0], [-1, 0], [0, 1], [0, -1])]
    u = analytic_solution(points)
    laplacian = (sum(analytic_solution(points + s) for s in shifts) - 4 * u) / h ** 2
    residual = laplacian + WAVENUMBER ** 2 * u
    assert np.abs(residual).max() < 1e-3 * WAVENUMBER ** 2 * np.abs(u).max()


def test_analytic_solution_is_the_greens_function_convolved_with_the_gaussian_source():
    # u = G * f with G = (i / 4) H0^(2)(k |x|), whose (Delta + k^2) is delta: a midpoint quadrature of the
    # convolution over the source's +-8 standard deviations, at points away from it.
    from scipy.special import hankel2

    points = np.array([[0.3, 0.1], [-0.2, 0.45], [0.0, -0.12]])
    nodes = (np.arange(400) + 0.5) / 400 * 16 - 8
    offsets = np.stack(np.meshgrid(nodes, nodes), axis=-1).reshape(-1, 2) * math.sqrt(SOURCE_VARIANCE)
    source = source_term(torch.from_numpy(offsets), (0.0, 0.0)).numpy() * (16 / 400) ** 2 * SOURCE_VARIANCE
    distances = np.linalg.norm(points[:, None, :] - offsets[None], axis=2)
    convolution = (0.25j * hankel2(0, WAVENUMBER * distances) * source).sum(axis=1)
    u = analytic_solution(points)
    assert np.abs(u - convolution).max() < 1e-4 * np.abs(u).max()


def _jet_of_outgoing_wave(points: torch.Tensor, wavenumber: complex = WAVENUMBER):
    """Value, gradient and Hessian (real and imaginary part as outputs) of u = exp(-i k x~(x)), the plane wave
    leaving through x = 1 in the stretched coordinate x~ = x - i a_0 d^3 / (3 L^2), d the depth into the layer."""
    WAVENUMBER = wavenumber  # noqa: N806 (the formulas below read as the physics does)
    x = points[:, 0].to(torch.complex128)
    depth = (points[:, 0] - (1 - PML_THICKNESS)).clamp(min=0).to(torch.complex128)
    stretched = x - 1j * PML_STRENGTH * depth ** 3 / (3 * PML_THICKNESS ** 2)
    e = 1 - 1j * PML_STRENGTH * (depth / PML_THICKNESS) ** 2
    de = -2j * PML_STRENGTH * depth / PML_THICKNESS ** 2
    u = torch.exp(-1j * WAVENUMBER * stretched)
    u_x = -1j * WAVENUMBER * e * u
    u_xx = -1j * WAVENUMBER * de * u + (-1j * WAVENUMBER * e) ** 2 * u
    zero = torch.zeros_like(u)

    def as_outputs(z):
        return torch.stack([z.real, z.imag], dim=1)

    grad = torch.stack([as_outputs(u_x), as_outputs(zero)], dim=-1)
    hessian = torch.stack([torch.stack([as_outputs(u_xx), as_outputs(zero)], -1),
                           torch.stack([as_outputs(zero), as_outputs(zero)], -1)], -1)
    return as_outputs(u), grad, hessian, u


def test_pml_operator_annihilates_the_stretched_outgoing_wave():
    points = torch.tensor([[0.2, 0.1], [0.6, -0.3], [0.8, 0.2], [0.95, 0.0]], dtype=torch.float64)
    value, grad, hessian, u = _jet_of_outgoing_wave(points)
    residual = helmholtz_operator(value, grad, hessian, pml_coefficients(points), torch.ones(4, dtype=torch.float64))
    assert residual.abs().max() < 1e-9 * WAVENUMBER ** 2
    # Through the layer the wave decays: at x = 0.95 it keeps exp(-k a_0 0.45^3 / (3 L^2)) of its amplitude.
    assert u[3].abs().item() == pytest.approx(math.exp(-WAVENUMBER * PML_STRENGTH * 0.45 ** 3 / 0.75), rel=1e-9)


def test_absorbing_operator_annihilates_the_decaying_outgoing_wave():
    absorption = 0.5
    wavenumber = WAVENUMBER * complex(1, -absorption) ** 0.5  # the root whose wave decays as it leaves
    points = torch.tensor([[0.0, 0.1], [0.2, 0.1], [0.4, -0.3], [0.8, 0.2]], dtype=torch.float64)
    value, grad, hessian, u = _jet_of_outgoing_wave(points, wavenumber)
    ones = torch.ones(4, dtype=torch.float64)
    residual = helmholtz_operator(value, grad, hessian, pml_coefficients(points), ones, absorption)
    assert residual.abs().max() < 1e-9 * WAVENUMBER ** 2
    assert helmholtz_operator(value, grad, hessian, pml_coefficients(points), ones)[:3].abs().min() > 1
    # Unlike the lossless wave, it decays inside the layer's inner edge too: e^{-Im(-k~) x}.
    assert u[2].abs().item() == pytest.approx(math.exp(0.4 * wavenumber.imag), rel=1e-9)
    assert u[2].abs().item() < 0.2


def test_velocity_variants_slow_the_medium_inside_their_shape():
    points = torch.tensor([[0.0, 0.0], [0.2, 0.2], [0.5, 0.0]])
    assert squared_slowness(points, "uniform").tolist() == [1.0, 1.0, 1.0]
    assert squared_slowness(points, "square").tolist() == [0.25, 0.25, 1.0]
    assert squared_slowness(points, "circle").tolist() == [0.25, 1.0, 1.0]
    with pytest.raises(ValueError, match="velocity must be one of"):
        squared_slowness(points, "marble")


def test_batches_always_sample_the_source_and_resume_identically():
    batches = HelmholtzBatches(500, "square", seed=3)
    first = batches.next()
    near = first.points[-SOURCE_SAMPLES:] - torch.tensor([-0.35, 0.0])
    assert near.norm(dim=1).max() <= SOURCE_SAMPLE_RADIUS + 1e-6
    assert (first.source[-SOURCE_SAMPLES:] != 0).float().mean() > 0.5
    assert first.points.abs().max() <= 1.0 and first.points.dtype == torch.float32
    state = batches.state_dict()
    second = batches.next()
    batches.load_state_dict(state)
    assert torch.equal(batches.next().points, second.points)
    with pytest.raises(ValueError, match="more than the 100 source samples"):
        HelmholtzBatches(100, "uniform")


def test_batches_draw_the_inner_fraction_inside_the_layer():
    def inside_share(fraction):
        points = HelmholtzBatches(4100, "uniform", seed=0, inner_fraction=fraction).next().points[:-SOURCE_SAMPLES]
        return (points.abs() < 1 - PML_THICKNESS).all(dim=1).float().mean().item(), points

    uniform_share, _ = inside_share(0.0)  # the release's sampling: the inner square is a quarter of the area
    assert uniform_share == pytest.approx(0.25, abs=0.03)
    share, points = inside_share(0.5)
    assert share == pytest.approx(0.5 + 0.5 * 0.25, abs=0.03)
    assert points[:2000].abs().max() < 1 - PML_THICKNESS  # the first half of them are the inner ones
    assert points[2000:].abs().max() > 0.9  # the rest still reach into the layer
    assert HelmholtzConfig().inner_fraction == 0.5
    with pytest.raises(ValueError, match="inner_fraction must be in"):
        HelmholtzBatches(500, "uniform", inner_fraction=1.5)


def test_batches_absorption_falls_linearly_to_zero_and_resumes():
    batches = HelmholtzBatches(300, "uniform", seed=1, absorption=0.8, absorption_batches=4)
    assert [batches.next().absorption for _ in range(3)] == pytest.approx([0.8, 0.6, 0.4])
    state = batches.state_dict()
    rest = [batches.next().absorption for _ in range(3)]
    assert rest == pytest.approx([0.2, 0.0, 0.0])
    batches.load_state_dict(state)
    assert [batches.next().absorption for _ in range(3)] == rest
    assert HelmholtzBatches(300, "uniform").next().absorption == 0.0  # the release's medium
    with pytest.raises(ValueError, match="absorption and absorption_batches must be >= 0"):
        HelmholtzBatches(300, "uniform", absorption=-1.0)


def test_config_rejects_a_final_lr_ratio_outside_the_unit_interval():
    with pytest.raises(ValueError, match="final_lr_ratio must be in"):
        HelmholtzConfig(final_lr_ratio=-0.1)


@pytest.mark.skipif(_extension.load() is None, reason="the fused extension is not built")
def test_loss_and_gradients_agree_between_jet_backends():
    net = build_model(HelmholtzConfig(hidden_features=24, hidden_layers=2)).double()
    batch = HelmholtzBatches(300, "uniform", seed=1, dtype=torch.float64).next()
    results = []
    for backend in ("fused", "reference"):
        terms = loss_terms(net, batch, backend)
        results.append((terms, torch.autograd.grad(sum(terms.values()), list(net.parameters()))))
    (fused_terms, fused_grads), (ref_terms, ref_grads) = results
    for name in fused_terms:
        torch.testing.assert_close(fused_terms[name], ref_terms[name], rtol=1e-10, atol=0)
    for a, b in zip(fused_grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * b.abs().max().item())


def test_evaluation_excludes_the_layer_and_the_source_and_scores_the_exact_field_zero():
    points = grid_points(40)
    mask = evaluation_mask(points, (0.0, 0.0))
    assert not mask[np.abs(points).max(axis=1) >= 0.5].any()
    assert not mask[np.linalg.norm(points, axis=1) < 0.1].any()
    assert mask.sum() > 0.15 * len(points)

    class Exact(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

        def forward(self, x):
            u = analytic_solution(x.numpy())
            return torch.from_numpy(np.stack([u.real, u.imag], axis=1))

    assert compare_to_analytic(Exact(), 40).relative_l2_error < 1e-12
    assert compare_to_analytic(build_model(HelmholtzConfig(hidden_features=8, hidden_layers=1)), 40) \
        .relative_l2_error > 0.5


def test_helmholtz_command_trains_scores_and_resumes(tmp_path):
    out = tmp_path / "out"
    common = ["helmholtz", "--out", str(out), "--hidden-features", "8", "--hidden-layers", "1", "--points", "160",
              "--resolution", "24", "--checkpoint-every", "2", "--models", "siren", "tanh"]
    assert cli.main(common + ["--steps", "2", "--time-backends", "1"]) == 0
    summary = json.loads((out / "metrics.json").read_text())
    assert set(summary["models"]) == {"siren", "tanh"}
    assert all(math.isfinite(record["relative_l2_error"]) for record in summary["models"].values())
    assert set(summary["step_time"]) == {"fused", "reference"}
    assert 0 < (out / "helmholtz.png").stat().st_size < 300_000
    assert cli.main(common + ["--steps", "3", "--no-figure"]) == 2  # neither --resume nor --restart
    assert cli.main(common + ["--steps", "3", "--no-figure", "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["models"]["siren"]["step"] == 3


def test_helmholtz_command_scores_the_run_as_it_trains(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["helmholtz", "--out", str(out), "--hidden-features", "8", "--hidden-layers", "1",
                     "--points", "160", "--resolution", "24", "--models", "siren", "--steps", "4",
                     "--eval-every", "2"]) == 0
    record = json.loads((out / "metrics.json").read_text())["models"]["siren"]
    assert [entry["step"] for entry in record["history"]] == [2, 4]
    assert record["history"][-1]["relative_l2_error"] == record["relative_l2_error"]  # the same net, scored twice
    assert 0 < (out / "convergence_siren.png").stat().st_size < 300_000
    assert cli.main(["helmholtz", "--out", str(tmp_path / "square"), "--velocity", "square", "--eval-every", "2",
                     "--models", "siren", "--steps", "1", "--hidden-features", "8", "--points", "160"]) == 2
