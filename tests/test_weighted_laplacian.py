"""The weighted Laplacian sum_k a_k d2f/dx_k^2 (``jet(..., laplacian_weights=a)``): exact in float64
against torch.func Hessians, values and gradients, with weights of both signs; the Hessian path's
weighted trace; the ops as PyTorch citizens (opcheck, torch.compile, vmap); and its errors."""

from __future__ import annotations

import random

import pytest
import torch

import siren_fused
from conftest import (assert_float32_bound, jet_fields, op_arguments, random_points, random_siren, relative_error,
                      sample_configs, trained_copies)

VALUE_TOLERANCE = 1e-10
GRADIENT_TOLERANCE = 1e-9

# Random networks with D = 1 to 4 (D = 4 takes the CPU kernels' any-dimension path), two of each.
CONFIGS = [dict(config, in_features=1 + i % 4) for i, config in enumerate(sample_configs(8, seed=13))]


def mixed_sign_weights(in_dims: int, seed: int) -> list[float]:
    """Weights in [-2, 2] whose signs alternate from a random start, so that D >= 2 mixes them."""
    rng = random.Random(seed)
    sign = rng.choice([-1.0, 1.0])
    return [sign * (-1.0) ** k * rng.uniform(0.25, 2.0) for k in range(in_dims)]


def func_jet(net: torch.nn.Module, x: torch.Tensor, weights: list[float]):
    """Value [N, out], Jacobian [N, out, D] and weighted Laplacian [N, out] by torch.func's per-point
    Hessians, differentiable in the parameters and x by the ordinary autograd around it."""
    def point(p):
        return net(p.unsqueeze(0)).squeeze(0)

    hess = torch.func.vmap(torch.func.hessian(point))(x)
    lap = torch.diagonal(hess, dim1=-2, dim2=-1) @ torch.tensor(weights, dtype=x.dtype)
    return net(x), torch.func.vmap(torch.func.jacrev(point))(x), lap


def random_loss(fields, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return sum((field * torch.randn(field.shape, generator=g, dtype=torch.float64).to(field)).sum()
               for field in fields)


def loss_gradients(fields, leaves, seed: int):
    """Gradients of random_loss(fields, seed); zero for a leaf outside the graph (the last bias does not reach
    a second derivative, and autograd leaves it out where the fused backward returns zero)."""
    return torch.autograd.grad(random_loss(fields, seed), leaves, allow_unused=True, materialize_grads=True)


def config_id(config: dict) -> str:
    return f"D{config['in_features']}-{config['hidden']}x{config['hidden_layers']}-{config['out_features']}"


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_float64_values_and_gradients_match_torch_func_hessians(config):
    net = random_siren(**config)
    weights = mixed_sign_weights(config["in_features"], config["seed"])
    x = random_points(23, config["in_features"], seed=config["seed"]).requires_grad_(True)
    fused = siren_fused.jet(net, x, 2, backend="fused", laplacian_weights=weights)
    exact = func_jet(net, x, weights)
    for name, got, expected in zip(("value", "grad", "laplacian"), fused[:3], exact):
        assert relative_error(got, expected) <= VALUE_TOLERANCE, name
    leaves = [x] + list(net.parameters())
    fused_grads = loss_gradients(fused[:3], leaves, config["seed"])
    exact_grads = loss_gradients(exact, leaves, config["seed"])
    for i, (got, expected) in enumerate(zip(fused_grads, exact_grads)):
        assert relative_error(got, expected) <= GRADIENT_TOLERANCE, f"gradient {i}"


@pytest.mark.parametrize("in_features", [2, 3])
def test_reference_and_hessian_paths_give_the_same_weighted_laplacian(in_features):
    """The autograd reference and jet(..., hessian=True), whose Laplacian is the Hessian's weighted trace."""
    net = random_siren(in_features, 16, 2, 2, seed=in_features)
    weights = mixed_sign_weights(in_features, seed=in_features)
    x = random_points(17, in_features, seed=in_features).requires_grad_(True)
    weighted = siren_fused.jet(net, x, 2, backend="fused", laplacian_weights=weights)
    leaves = [x] + list(net.parameters())
    expected_grads = loss_gradients([weighted.laplacian], leaves, 3)
    for backend in ("fused", "reference"):
        for hessian in (False, True):
            other = siren_fused.jet(net, x, 2, hessian, backend=backend, laplacian_weights=weights)
            assert relative_error(other.laplacian, weighted.laplacian) <= VALUE_TOLERANCE, (backend, hessian)
            grads = loss_gradients([other.laplacian], leaves, 3)
            for i, (got, expected) in enumerate(zip(grads, expected_grads)):
                assert relative_error(got, expected) <= GRADIENT_TOLERANCE, (backend, hessian, i)


def test_unit_weights_are_the_laplacian_bit_for_bit():
    # a_k z_k^2 with a_k = 1 rounds exactly as z_k^2: the weighted kernels agree with the plain ones.
    net = random_siren(3, 33, 2, 1, seed=4)
    x = random_points(50, 3, seed=4).requires_grad_(True)
    plain = siren_fused.jet(net, x, 2, backend="fused")
    weighted = siren_fused.jet(net, x, 2, backend="fused", laplacian_weights=torch.ones(3, dtype=torch.float64))
    assert torch.equal(plain.laplacian, weighted.laplacian)
    leaves = [x] + list(net.parameters())
    for a, b in zip(torch.autograd.grad(plain.laplacian.sum(), leaves),
                    torch.autograd.grad(weighted.laplacian.sum(), leaves)):
        assert torch.equal(a, b)


def test_float32_error_bounded_by_reference_float32():
    config = dict(in_features=3, hidden=64, hidden_layers=2, out_features=1, seed=21)
    weights = (1.0, -0.25, -0.25)
    net64, net32 = random_siren(**config), random_siren(**config, dtype=torch.float32)
    x64 = random_points(41, 3, seed=21).requires_grad_(True)
    x32 = x64.detach().float().requires_grad_(True)
    runs = [(net64, x64, "reference"), (net32, x32, "fused"), (net32, x32, "reference")]
    exact, fused, ref = (siren_fused.jet(n, x, 2, backend=b, laplacian_weights=weights) for n, x, b in runs)
    assert_float32_bound(fused.laplacian, ref.laplacian, exact.laplacian, "laplacian")
    exact_g, fused_g, ref_g = (loss_gradients([j.laplacian], [x] + list(n.parameters()), 5)
                               for (n, x, _), j in zip(runs, (exact, fused, ref)))
    for i, (a, b, c) in enumerate(zip(fused_g, ref_g, exact_g)):
        assert_float32_bound(a, b, c, f"gradient {i}")


@pytest.mark.parametrize("weights,error,match", [
    ((1.0, 2.0, 3.0), ValueError, r"one entry per input dimension \(2\), got 3"),
    ((1.0,), ValueError, r"one entry per input dimension \(2\), got 1"),
    ((1.0, float("nan")), ValueError, "laplacian_weights must be finite"),
    ((float("-inf"), 1.0), ValueError, "laplacian_weights must be finite"),
    (torch.ones(1, 2), ValueError, r"laplacian_weights must be 1-D with 2 entries, got shape \[1, 2\]"),
    (torch.ones(2, requires_grad=True), TypeError, "constants of the operator"),
    ("ab", TypeError, "laplacian_weights must be a sequence of 2 numbers"),
    (("a", 1.0), TypeError, "laplacian_weights must hold numbers"),
])
def test_bad_weights_name_the_argument(weights, error, match):
    net = random_siren(2, 8, 1, 1, seed=0)
    with pytest.raises(error, match=match):
        siren_fused.jet(net, random_points(4, 2, seed=0), 2, laplacian_weights=weights)


@pytest.mark.parametrize("order", [0, 1])
def test_weights_need_order_two(order):
    net = random_siren(2, 8, 1, 1, seed=0)
    with pytest.raises(ValueError, match=f"laplacian_weights needs order=2, got order={order}"):
        siren_fused.jet(net, random_points(4, 2, seed=0), order, laplacian_weights=(1.0, 1.0))


@pytest.mark.parametrize("order,hessian,weights,match", [
    (2, False, [1.0], r"one entry per input dimension \(2\), got 1"),
    (2, False, [1.0, float("inf")], "laplacian_weights must be finite"),
    (2, True, [1.0, 1.0], "laplacian_weights needs order=2 and hessian=False"),
    (1, False, [1.0, 1.0], "laplacian_weights needs order=2 and hessian=False"),
])
def test_op_checks_the_weights(order, hessian, weights, match):
    x, w, b, omegas = op_arguments(random_siren(2, 8, 1, 1, seed=0), random_points(4, 2, seed=0), False)
    with pytest.raises(RuntimeError, match=match):
        torch.ops.siren_fused.jet_forward(x, w, b, omegas, order, hessian, True, False, weights)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_forward(requires_grad):
    args = op_arguments(random_siren(3, 7, 1, 2, seed=3), random_points(9, 3, seed=3), requires_grad)
    torch.library.opcheck(torch.ops.siren_fused.jet_forward.default,
                          (*args, 2, False, True, requires_grad, [1.0, -2.0, 0.5]))


def test_opcheck_backward():
    x, weights, biases, omegas = op_arguments(random_siren(3, 7, 1, 2, seed=4, outermost_linear=False),
                                              random_points(9, 3, seed=4), False)
    a = [-1.0, 0.5, 3.0]
    out, saved = torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 2, False, False, True, a)
    grad_out = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(4))
    torch.library.opcheck(torch.ops.siren_fused.jet_backward.default,
                          (grad_out, x, weights, biases, omegas, 2, False, False, saved, True, a))


def _wave_residual_loss(net, x):
    j = siren_fused.jet(net, x, 2, backend="fused", laplacian_weights=(1.0, -0.5, -0.5))
    return (j.laplacian ** 2).mean() + (j.value ** 2).mean()


def test_compiled_training_step_matches_eager():
    torch._dynamo.reset()
    net = random_siren(3, 32, 2, 1, seed=5, dtype=torch.float32)
    x = random_points(150, 3, seed=5, dtype=torch.float32)
    compiled_loss = torch.compile(_wave_residual_loss, fullgraph=True)
    trained = trained_copies(net, x, (_wave_residual_loss, compiled_loss))
    for a, b in zip(*(t.parameters() for t in trained)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_vmap_over_points_matches_reference():
    net = random_siren(3, 9, 1, 2, seed=6)
    weights = (2.0, -1.0, 0.5)
    xs = random_points(30, 3, seed=6).reshape(3, 10, 3).requires_grad_(True)
    batched = torch.func.vmap(
        lambda xi: siren_fused.jet(net, xi, 2, backend="fused", laplacian_weights=weights).laplacian)(xs)
    looped = torch.stack([siren_fused.jet(net, xi, 2, backend="reference", laplacian_weights=weights).laplacian
                          for xi in xs])
    assert relative_error(batched, looped) <= VALUE_TOLERANCE
    params = [xs] + list(net.parameters())
    for a, b in zip(loss_gradients([batched], params, 6), loss_gradients([looped], params, 6)):
        assert relative_error(a, b) <= GRADIENT_TOLERANCE


def test_jet_fields_other_than_the_laplacian_do_not_depend_on_the_weights():
    net = random_siren(2, 12, 1, 1, seed=8)
    x = random_points(11, 2, seed=8)
    plain = siren_fused.jet(net, x, 2, backend="fused")
    weighted = siren_fused.jet(net, x, 2, backend="fused", laplacian_weights=(3.0, -1.0))
    for name, value in jet_fields(plain):
        if name != "laplacian":
            assert torch.equal(getattr(weighted, name), value), name
