"""The fused jet against the autograd reference: values, derivatives and gradients.

float64 must agree to 1e-10 (relative to each field's magnitude); float32 must stay within
twice the float32 reference's own error against float64, plus 1e-6.
"""

from __future__ import annotations

import copy

import pytest
import torch

import siren_fused
from siren_fused import _extension
from conftest import (assert_float32_bound, config_id, gradient_axis, jet_fields, parameter_grads, random_linear_loss,
                      random_points, random_siren, relative_error, sample_configs)

CONFIGS = sample_configs(24, seed=7)
# What the random configurations do not reach: audio's large first-layer omegas, widths above 64 (with the
# Hessian, in every test below that takes it), and nets deeper than 7 layers.
EDGE_CONFIGS = [
    dict(in_features=1, hidden=32, hidden_layers=2, out_features=1, first_omega_0=300.0, hidden_omega_0=30.0,
         outermost_linear=True, seed=2001),
    dict(in_features=1, hidden=24, hidden_layers=1, out_features=2, first_omega_0=3000.0, hidden_omega_0=30.0,
         outermost_linear=True, seed=2002),
    dict(in_features=2, hidden=96, hidden_layers=1, out_features=3, first_omega_0=30.0, hidden_omega_0=30.0,
         outermost_linear=False, seed=2003),
    dict(in_features=3, hidden=130, hidden_layers=1, out_features=1, first_omega_0=10.0, hidden_omega_0=30.0,
         outermost_linear=True, seed=2004),
    dict(in_features=2, hidden=16, hidden_layers=8, out_features=2, first_omega_0=30.0, hidden_omega_0=30.0,
         outermost_linear=True, seed=2005),
]
FLOAT64_TOLERANCE = 1e-10


def _jets(config: dict, dtype: torch.dtype, order: int, hessian: bool, n: int = 37):
    net_args = {k: v for k, v in config.items()}
    net = random_siren(**net_args, dtype=dtype)
    x = random_points(n, config["in_features"], seed=config["seed"], dtype=dtype)
    fused = siren_fused.jet(net, x, order, hessian, backend="fused")
    ref = siren_fused.jet(net, x, order, hessian, backend="reference")
    return net, x, fused, ref


@pytest.mark.parametrize("config", CONFIGS + EDGE_CONFIGS, ids=config_id)
@pytest.mark.parametrize("order,hessian", [(0, False), (1, False), (2, False), (2, True)])
def test_float64_outputs_match_reference(config, order, hessian):
    with torch.no_grad():
        _, _, fused, ref = _jets(config, torch.float64, order, hessian)
    for name, value in jet_fields(ref):
        got = getattr(fused, name)
        assert got.shape == value.shape and got.dtype == value.dtype, name
        assert relative_error(got, value) <= FLOAT64_TOLERANCE, name
    assert [n for n, _ in jet_fields(fused)] == [n for n, _ in jet_fields(ref)]


@pytest.mark.parametrize("config", CONFIGS[::2] + EDGE_CONFIGS, ids=config_id)
@pytest.mark.parametrize("order,hessian", [(1, False), (2, False), (2, True)])
def test_float64_gradients_match_reference(config, order, hessian):
    net = random_siren(**config, dtype=torch.float64)
    x = random_points(29, config["in_features"], seed=config["seed"]).requires_grad_(True)
    fused = parameter_grads(net, x, siren_fused.jet(net, x, order, hessian, backend="fused"), config["seed"])
    ref = parameter_grads(net, x, siren_fused.jet(net, x, order, hessian, backend="reference"), config["seed"])
    for i, (a, b) in enumerate(zip(fused, ref)):
        assert relative_error(a, b, gradient_axis(i)) <= FLOAT64_TOLERANCE, f"gradient {i}"


@pytest.mark.parametrize("config", CONFIGS[1::3] + EDGE_CONFIGS, ids=config_id)
@pytest.mark.parametrize("order,hessian", [(1, False), (2, False), (2, True)])
def test_float32_error_bounded_by_reference_float32(config, order, hessian):
    net64 = random_siren(**config, dtype=torch.float64)
    net32 = random_siren(**config, dtype=torch.float32)
    x64 = random_points(41, config["in_features"], seed=config["seed"]).requires_grad_(True)
    x32 = x64.detach().float().requires_grad_(True)
    exact = siren_fused.jet(net64, x64, order, hessian, backend="reference")
    fused = siren_fused.jet(net32, x32, order, hessian, backend="fused")
    ref = siren_fused.jet(net32, x32, order, hessian, backend="reference")
    for name, value in jet_fields(exact):
        assert_float32_bound(getattr(fused, name), getattr(ref, name), value, name)
    exact_g = parameter_grads(net64, x64, exact, config["seed"])
    fused_g = parameter_grads(net32, x32, fused, config["seed"])
    ref_g = parameter_grads(net32, x32, ref, config["seed"])
    for i, (a, b, c) in enumerate(zip(fused_g, ref_g, exact_g)):
        assert_float32_bound(a, b, c, f"gradient {i}", gradient_axis(i))


@pytest.mark.parametrize("n_from_tile_rows", [lambda r: 1, lambda r: 7, lambda r: r - 1, lambda r: r,
                                              lambda r: r + 1, lambda r: 2 * r, lambda r: 1000],
                         ids=["1", "7", "rows-1", "rows", "rows+1", "2rows", "1000"])
def test_batch_sizes_across_tile_boundaries(n_from_tile_rows):
    """Tiles pad the last rows; no batch size may leak padding into results or gradients."""
    n = n_from_tile_rows(_extension.require().jet_tile_rows(4, 256))  # order 2, D = 2: 4 components
    net = random_siren(2, 256, 1, 1, seed=3)
    x = random_points(n, 2, seed=n).requires_grad_(True)
    fused = siren_fused.jet(net, x, 2, backend="fused")
    ref = siren_fused.jet(net, x, 2, backend="reference")
    for name, value in jet_fields(ref):
        assert relative_error(getattr(fused, name), value) <= FLOAT64_TOLERANCE, name
    for i, (a, b) in enumerate(zip(parameter_grads(net, x, fused, 0), parameter_grads(net, x, ref, 0))):
        assert relative_error(a, b, gradient_axis(i)) <= FLOAT64_TOLERANCE, f"gradient {i}"


def test_no_grad_gives_same_results_and_types_as_reference():
    net = random_siren(3, 16, 2, 2, seed=5, dtype=torch.float32)
    x = random_points(10, 3, seed=5, dtype=torch.float32)
    with torch.no_grad():
        fused = siren_fused.jet(net, x, 2, True, backend="fused")
        ref = siren_fused.jet(net, x, 2, True, backend="reference")
    exact = siren_fused.jet(copy.deepcopy(net).double(), x.double(), 2, True, backend="reference")
    for name, value in jet_fields(ref):
        got = getattr(fused, name)
        assert got.shape == value.shape and got.dtype == value.dtype and not got.requires_grad, name
        assert_float32_bound(got, value, getattr(exact, name), name)


def test_auto_backend_uses_fused_kernels_on_cpu():
    net = random_siren(2, 8, 1, 1, seed=1)
    x = random_points(5, 2, seed=1)
    auto = siren_fused.jet(net, x, 2, backend="auto")
    fused = siren_fused.jet(net, x, 2, backend="fused")
    for name, value in jet_fields(fused):
        assert torch.equal(getattr(auto, name), value), name


@pytest.mark.parametrize("in_features", [4, 5])
@pytest.mark.parametrize("order,hessian", [(0, False), (1, False), (2, False), (2, True)])
def test_more_than_three_input_dims(in_features, order, hessian):
    """The CPU tile kernels are compiled for 1 to 3 input dimensions, plus one path for any other number."""
    net = random_siren(in_features, 11, 2, 2, seed=in_features, first_omega_0=10.0)
    x = random_points(23, in_features, seed=in_features).requires_grad_(True)
    fused = siren_fused.jet(net, x, order, hessian, backend="fused")
    ref = siren_fused.jet(net, x, order, hessian, backend="reference")
    for name, value in jet_fields(ref):
        assert relative_error(getattr(fused, name), value) <= FLOAT64_TOLERANCE, name
    for i, (a, b) in enumerate(zip(parameter_grads(net, x, fused, 4), parameter_grads(net, x, ref, 4))):
        assert relative_error(a, b, gradient_axis(i)) <= FLOAT64_TOLERANCE, f"gradient {i}"


@pytest.mark.parametrize("dtype,hessian", [(torch.float64, False), (torch.float32, False), (torch.float64, True)])
def test_reused_buffers_never_shared_between_live_graphs(dtype, hessian):
    """The CPU kernels hand freed saved-jet buffers out again: two graphs alive at once must not share
    them, and a buffer given back and reused must not leak the earlier values. float32 buffers and the
    Hessian's larger ones go through the same pool."""
    net = random_siren(2, 256, 1, 1, seed=6, dtype=dtype)
    net64 = copy.deepcopy(net).double()
    xs = [random_points(700, 2, seed=s, dtype=dtype).requires_grad_(True) for s in (1, 2, 3)]

    def reference_grads(net_: siren_fused.Siren, x: torch.Tensor):
        x = x.detach().to(next(net_.parameters()).dtype).requires_grad_(True)
        return parameter_grads(net_, x, siren_fused.jet(net_, x, 2, hessian, backend="reference"), 5)

    # The net does not change, so each point set's reference gradients hold for every round.
    references = {id(x): reference_grads(net, x) for x in xs}
    exacts = {id(x): reference_grads(net64, x) for x in xs} if dtype == torch.float32 else {}

    def assert_close_to_reference(fused, x: torch.Tensor, index: int, what: str) -> None:
        ref = references[id(x)][index]
        if dtype == torch.float64:
            assert relative_error(fused, ref, gradient_axis(index)) <= FLOAT64_TOLERANCE, what
        else:
            assert_float32_bound(fused, ref, exacts[id(x)][index], what, gradient_axis(index))

    for round_ in range(3):
        jets = [siren_fused.jet(net, x, 2, hessian, backend="fused") for x in xs[:2]]  # both graphs alive
        losses = [random_linear_loss(j, 5) for j in jets]
        for x, loss in zip(xs, losses):
            fused_grads = torch.autograd.grad(loss, [x] + list(net.parameters()))
            for i, fused in enumerate(fused_grads):
                assert_close_to_reference(fused, x, i, f"round {round_} gradient {i}")
        xs = xs[1:] + xs[:1]
    siren_fused.empty_cache()
    with torch.no_grad():  # after the cache is emptied: fresh buffers
        fused = siren_fused.jet(net, xs[0], 2, hessian, backend="fused")
        ref = siren_fused.jet(net, xs[0], 2, hessian, backend="reference")
        exact = siren_fused.jet(net64, xs[0].double(), 2, hessian, backend="reference")
    for name, value in jet_fields(exact):
        if dtype == torch.float64:
            assert relative_error(getattr(fused, name), value) <= FLOAT64_TOLERANCE, name
        else:
            assert_float32_bound(getattr(fused, name), getattr(ref, name), value, name)


@pytest.mark.parametrize("config", CONFIGS[::4] + EDGE_CONFIGS, ids=config_id)
@pytest.mark.parametrize("order,hessian", [(1, False), (2, False), (2, True)])
def test_training_backward_without_an_input_gradient(config, order, hessian):
    """The usual training step: x does not require grad, loss.backward() fills the parameters' .grad."""
    grads = {}
    for backend in ("fused", "reference"):
        net = random_siren(**config)
        x = random_points(31, config["in_features"], seed=config["seed"])
        random_linear_loss(siren_fused.jet(net, x, order, hessian, backend=backend), config["seed"]).backward()
        grads[backend] = [p.grad for p in net.parameters()]
    for i, (a, b) in enumerate(zip(grads["fused"], grads["reference"])):
        assert relative_error(a, b, gradient_axis(i + 1)) <= FLOAT64_TOLERANCE, f"parameter {i}"
