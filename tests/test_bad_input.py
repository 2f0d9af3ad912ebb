"""Bad input gets a clear error naming the argument; odd but valid input gets the right answer."""

from __future__ import annotations

import math

import pytest
import torch

import siren_fused
from conftest import assert_float32_bound, gradient_axis, jet_fields, random_points, random_siren, relative_error


@pytest.fixture
def net():
    return random_siren(2, 16, 1, 1, seed=0)


@pytest.mark.parametrize("backend", ["fused", "reference", "auto"])
@pytest.mark.parametrize("bad_x,error,match", [
    (torch.zeros(4, 3, dtype=torch.float64), ValueError, r"x must be \[N, 2\]"),
    (torch.zeros(4, dtype=torch.float64), ValueError, r"x must be \[N, 2\]"),
    (torch.zeros(4, 2, dtype=torch.int64), TypeError, "floating-point"),
    (torch.zeros(4, 2, dtype=torch.float32), TypeError, "dtype torch.float32 but the net's parameters are torch.float64"),
    (torch.zeros(4, 2, dtype=torch.float64, device="meta"), ValueError, "x is on meta"),
    ([[0.0, 0.0]], TypeError, "x must be a torch.Tensor"),
])
def test_bad_x(net, backend, bad_x, error, match):
    with pytest.raises(error, match=match):
        siren_fused.jet(net, bad_x, 2, backend=backend)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(order=3), ValueError, "order must be 0, 1 or 2, got 3"),
    (dict(order=-1), ValueError, "order must be 0, 1 or 2"),
    (dict(order=True), ValueError, "order must be 0, 1 or 2"),
    (dict(order=1, hessian=True), ValueError, "hessian=True needs order=2"),
    (dict(hessian="yes"), TypeError, "hessian must be a bool"),
    (dict(backend="cuda"), ValueError, "backend must be one of"),
])
def test_bad_options(net, kwargs, error, match):
    x = random_points(4, 2, seed=0)
    with pytest.raises(error, match=match):
        siren_fused.jet(net, x, **kwargs)


def test_model_that_is_not_a_siren():
    with pytest.raises(TypeError, match="net must be a siren_fused.Siren, got Sequential"):
        siren_fused.jet(torch.nn.Sequential(torch.nn.Linear(2, 1)), torch.zeros(3, 2))


@pytest.mark.parametrize("bad,match", [
    ("weight_shape", r"weights\[1\] must be \[out, 16\]"),
    ("bias_shape", r"biases\[0\] must be \[16\]"),
    ("dtype", r"weights\[0\] and biases\[0\] must have x's dtype"),
    ("omegas", "omegas must have one entry per layer"),
    ("order", "order must be 0, 1 or 2"),
])
def test_op_checks_name_the_argument(net, bad, match):
    from siren_fused import ops  # noqa: F401
    from siren_fused.jet import network_arguments

    weights, biases, omegas = (list(a) for a in network_arguments(net))
    x, order = random_points(4, 2, seed=0), 2
    if bad == "weight_shape":
        weights[1] = weights[1][:, :5]
    elif bad == "bias_shape":
        biases[0] = biases[0][:3]
    elif bad == "dtype":
        weights[0] = weights[0].float()
    elif bad == "omegas":
        omegas = omegas[:1]
    else:
        order = 5
    with pytest.raises(RuntimeError, match=match):
        torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, order, False, True, False)


@pytest.mark.parametrize("out_features", [1, 2])  # order 1, one output: the reverse-mode gradient
@pytest.mark.parametrize("order,hessian", [(0, False), (1, False), (2, False), (2, True)])
def test_empty_batch_gives_empty_outputs(order, hessian, out_features):
    net = random_siren(3, 8, 1, out_features, seed=0)
    x = torch.zeros(0, 3, dtype=torch.float64, requires_grad=True)
    fused = siren_fused.jet(net, x, order, hessian, backend="fused")
    ref = siren_fused.jet(net, x, order, hessian, backend="reference")
    for name, value in jet_fields(ref):
        assert getattr(fused, name).shape == value.shape, name
    loss = sum(v.sum() for _, v in jet_fields(fused))
    grads = torch.autograd.grad(loss, [x] + list(net.parameters()))
    assert all(torch.count_nonzero(g) == 0 for g in grads)


@pytest.mark.parametrize("order,hessian", [(1, False), (2, True)])
@pytest.mark.parametrize("layout", ["transposed", "expanded", "strided"])
def test_non_contiguous_inputs(net, layout, order, hessian):
    base = random_points(12, 2, seed=4)
    x = {
        "transposed": base.t().contiguous().t(),
        "expanded": base[:1].expand(12, 2),
        "strided": random_points(24, 4, seed=4)[::2, 1:3],
    }[layout]
    assert not x.is_contiguous()
    fused = siren_fused.jet(net, x, order, hessian, backend="fused")
    ref = siren_fused.jet(net, x.contiguous(), order, hessian, backend="reference")
    for name, value in jet_fields(ref):
        assert relative_error(getattr(fused, name), value) <= 1e-10, name


@pytest.mark.parametrize("order", [1, 2])
def test_nan_in_gives_nan_out_only_where_it_went_in(net, order):
    x = random_points(6, 2, seed=2)
    x[2, 1] = math.nan
    x[4, 0] = math.inf
    j = siren_fused.jet(net, x, order, backend="fused")
    for name, value in jet_fields(j):
        bad_rows = value.reshape(6, -1).isnan().any(dim=1)
        assert bad_rows.tolist() == [False, False, True, False, True, False], name


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("scale", [3e2, 1e4])
def test_large_arguments_stay_accurate(scale, order):
    """Large inputs push omega * z past the polynomial sincos's range (8192 in float32, 1e5 in
    float64): the kernels fall back to the C library there and stay as accurate as the reference."""
    net64 = random_siren(1, 8, 1, 1, seed=9)
    net32 = random_siren(1, 8, 1, 1, seed=9, dtype=torch.float32)
    x64 = random_points(50, 1, seed=9, scale=scale)
    x32 = x64.float()
    ref64 = siren_fused.jet(net64, x64, order, backend="reference")
    fused64 = siren_fused.jet(net64, x64, order, backend="fused")
    fused32 = siren_fused.jet(net32, x32, order, backend="fused")
    ref32 = siren_fused.jet(net32, x32, order, backend="reference")
    for name, value in jet_fields(ref64):
        assert relative_error(getattr(fused64, name), value) <= 1e-10, name
        assert_float32_bound(getattr(fused32, name), getattr(ref32, name), value, name)
    # The backward passes recompute sines of the same large arguments.
    grads = [torch.autograd.grad(sum(v.sum() for _, v in jet_fields(j)), list(net64.parameters()))
             for j in (fused64, ref64)]
    for i, (a, b) in enumerate(zip(*grads)):
        assert relative_error(a, b, gradient_axis(i + 1)) <= 1e-10, f"gradient {i + 1}"  # no x here
