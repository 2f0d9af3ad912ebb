"""Modulated SIRENs (``siren_fused.jet(..., modulation=...)``): the fused CPU kernels against the torch.func
reference and against a hand-written functa-style forward.

float64: values, Jacobians, Laplacians (plain and weighted) and Hessians to 1e-10, and the gradients of a
random loss on every field into x, the shared weights and biases, the shifts and the scales to 1e-10 (each
measured per channel along the points, a weight's along its inputs); float32 within twice the float32
reference's own error. Modulations per network (points shared or each network's own) and per point. Order 1 of
a one-output net is the reverse-mode gradient (siren_fused::modulated_gradient_forward), as for the plain net.
"""

from __future__ import annotations

import pytest
import torch

import siren_fused
from siren_fused import film
from conftest import (assert_float32_bound, gradient_axis, jet_fields, random_linear_loss, random_points,
                      random_siren, relative_error)
from siren_fused.jet import uses_reverse_gradient

CASES = [(0, False, None), (1, False, None), (2, False, None), (2, True, None), (2, False, (0.5, -2.0))]
# Order 1 of a one-output net, which the fused backend computes in reverse mode.
REVERSE_MODE = (1, False, None)
# (per_point, shared points): per network with x [N, D] or [B, N, D], or per point with x [N, D].
LAYOUTS = [(False, True), (False, False), (True, True)]
NETWORKS, POINTS = 3, 37


def random_modulation(net, per_point: bool, scaled: bool, rows: int, seed: int, dtype=torch.float64, device="cpu"):
    """Random shifts (and scales around 1) of every hidden layer, leaves that require grad."""
    g = torch.Generator().manual_seed(seed)

    def draw(center: float):
        return [(center + 0.5 * torch.randn(rows, layer.out_features, generator=g, dtype=torch.float64))
                .to(dtype=dtype, device=device).requires_grad_(True) for layer in net.layers[:-1]]

    return siren_fused.Modulation(draw(0.0), draw(1.0) if scaled else None, per_point=per_point)


def points(per_point: bool, shared: bool, in_features: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    x = random_points(POINTS * (1 if shared else NETWORKS), in_features, seed=seed, scale=1.0, dtype=dtype)
    return (x if shared else x.reshape(NETWORKS, POINTS, in_features)).requires_grad_(True)


def jet_and_gradients(net, x, modulation, order, hessian, weights, backend, seed=7):
    j = siren_fused.jet(net, x, order, hessian, backend=backend, laplacian_weights=weights, modulation=modulation)
    shifts, scales = modulation.tensors()
    leaves = [x, *net.parameters(), *shifts, *scales]
    return j, torch.autograd.grad(random_linear_loss(j, seed), leaves)


@pytest.mark.parametrize("per_point,shared", LAYOUTS, ids=["network-shared-x", "network-own-x", "point"])
@pytest.mark.parametrize("scaled", [False, True], ids=["shifts", "shifts+scales"])
@pytest.mark.parametrize("outermost_linear", [True, False], ids=["linear-last", "sine-last"])
@pytest.mark.parametrize("order,hessian,weights,outputs", [case + (3,) for case in CASES] + [REVERSE_MODE + (1,)])
def test_float64_matches_reference(order, hessian, weights, outputs, outermost_linear, scaled, per_point, shared):
    net = random_siren(2, 19, 2, outputs, seed=3, first_omega_0=10.0, hidden_omega_0=5.0,
                       outermost_linear=outermost_linear)
    x = points(per_point, shared, 2, seed=4)
    assert uses_reverse_gradient(net, x, order) == (outputs == 1)
    modulation = random_modulation(net, per_point, scaled, POINTS if per_point else NETWORKS, seed=5)
    fused, fused_grads = jet_and_gradients(net, x, modulation, order, hessian, weights, "fused")
    ref, ref_grads = jet_and_gradients(net, x, modulation, order, hessian, weights, "reference")
    along = 0 if per_point else 1  # the points' dimension
    for (name, value), (_, expected) in zip(jet_fields(fused), jet_fields(ref)):
        assert value.shape == expected.shape, name
        assert relative_error(value, expected, along) <= 1e-10, name
    for index, (got, expected) in enumerate(zip(fused_grads, ref_grads)):
        along = (0 if shared or per_point else 1) if index == 0 else gradient_axis(index)
        assert relative_error(got, expected, along) <= 1e-10, f"gradient {index}"


@pytest.mark.parametrize("per_point,shared", LAYOUTS, ids=["network-shared-x", "network-own-x", "point"])
@pytest.mark.parametrize("scaled", [False, True], ids=["shifts", "shifts+scales"])
@pytest.mark.parametrize("order,hessian,weights,outputs",
                         [(0, False, None, 2), (2, False, None, 2), (2, True, None, 2), REVERSE_MODE + (1,)])
def test_float32_within_the_reference_bound(order, hessian, weights, outputs, scaled, per_point, shared):
    results = []
    for dtype, backend in ((torch.float32, "fused"), (torch.float32, "reference"), (torch.float64, "reference")):
        net = random_siren(3, 32, 2, outputs, seed=8, dtype=dtype)
        x = points(per_point, shared, 3, seed=9, dtype=dtype)
        modulation = random_modulation(net, per_point, scaled, POINTS if per_point else NETWORKS, seed=10,
                                       dtype=dtype)
        results.append(jet_and_gradients(net, x, modulation, order, hessian, weights, backend))
    along = 0 if per_point else 1
    (fused, fused_grads), (ref, ref_grads), (exact, exact_grads) = results
    for (name, a), (_, b), (_, c) in zip(jet_fields(fused), jet_fields(ref), jet_fields(exact)):
        assert_float32_bound(a, b, c, name, along)
    for index, (a, b, c) in enumerate(zip(fused_grads, ref_grads, exact_grads)):
        axis = (0 if shared or per_point else 1) if index == 0 else gradient_axis(index)
        assert_float32_bound(a, b, c, f"gradient {index}", axis)


def functa_forward(net, x: torch.Tensor, shifts, scales) -> torch.Tensor:
    """functa's ModulatedSirenLayer stack written out for one network: sin(w0 * (scale * (W h + b) + shift))
    in each hidden layer, W h + b last."""
    h = x
    for index, layer in enumerate(net.layers):
        z = h @ layer.linear.weight.T + layer.linear.bias
        if index < len(shifts):
            z = scales[index] * z + shifts[index]
        h = z if layer.is_linear else torch.sin(layer.omega_0 * z)
    return h


def test_module_forward_and_jet_value_are_functas_formula_network_by_network():
    net = random_siren(2, 16, 2, 3, seed=11)
    x = random_points(POINTS, 2, seed=11, scale=1.0)
    modulation = random_modulation(net, False, True, NETWORKS, seed=12)
    expected = torch.stack([functa_forward(net, x, [s[b] for s in modulation.shifts],
                                           [s[b] for s in modulation.scales]) for b in range(NETWORKS)])
    torch.testing.assert_close(net(x, modulation=modulation), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(siren_fused.jet(net, x, 0, modulation=modulation).value, expected, rtol=1e-10,
                               atol=1e-12)


def test_shift_modulation_equals_each_networks_biases_through_params():
    """A shift adds to the bias: B shift-modulated networks are the params= path with biases b + beta_b."""
    net = random_siren(2, 16, 2, 1, seed=13)
    x = random_points(POINTS, 2, seed=13, scale=1.0)
    modulation = random_modulation(net, False, False, NETWORKS, seed=14)
    params = {f"net.{index}.linear.bias": layer.linear.bias + shift
              for index, (layer, shift) in enumerate(zip(net.layers, modulation.shifts))}
    modulated = siren_fused.jet(net, x, 2, hessian=True, modulation=modulation)
    batched = siren_fused.jet(net, x, 2, hessian=True, params=params)
    for (name, a), (_, b) in zip(jet_fields(modulated), jet_fields(batched)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=name)


def test_per_point_rows_are_independent_points():
    """Per point, each row of x with its modulation row is the one-network jet of that point alone."""
    net = random_siren(2, 12, 1, 2, seed=15)
    x = random_points(POINTS, 2, seed=15, scale=1.0)
    modulation = random_modulation(net, True, True, POINTS, seed=16)
    whole = siren_fused.jet(net, x, 2, modulation=modulation)
    for n in (0, 17, POINTS - 1):
        one = siren_fused.Modulation([s[n : n + 1] for s in modulation.shifts],
                                     [s[n : n + 1] for s in modulation.scales], per_point=True)
        alone = siren_fused.jet(net, x[n : n + 1], 2, modulation=one)
        for (name, a), (_, b) in zip(jet_fields(whole), jet_fields(alone)):
            torch.testing.assert_close(a[n : n + 1], b, rtol=1e-12, atol=1e-12, msg=name)


@pytest.mark.parametrize("outputs,width", [(2, 24), (1, 256)], ids=["jet", "reverse-mode"])
def test_many_networks_and_points_across_chunks_match_reference(outputs, width, one_torch_thread):
    """Enough networks and points that chunks hold several networks or part of one (per-network sums across
    chunks and work units), at order 1: the forward-mode jet's tiles, and the reverse mode's rows (1,024 a chunk
    at width 256)."""
    net = random_siren(2, width, 1, outputs, seed=17)
    for networks, n in ((40, 50), (2, 3000)):
        x = random_points(n, 2, seed=18, scale=1.0).requires_grad_(True)
        modulation = random_modulation(net, False, True, networks, seed=19)
        fused, fused_grads = jet_and_gradients(net, x, modulation, 1, False, None, "fused")
        ref, ref_grads = jet_and_gradients(net, x, modulation, 1, False, None, "reference")
        for (name, a), (_, b) in zip(jet_fields(fused), jet_fields(ref)):
            assert relative_error(a, b, 1) <= 1e-10, name
        for index, (a, b) in enumerate(zip(fused_grads, ref_grads)):
            assert relative_error(a, b, gradient_axis(index)) <= 1e-10, f"gradient {index}"


@pytest.mark.parametrize("change,message", [
    (lambda m, net: film.Modulation(m.shifts[:1]), r"one tensor per hidden layer \(2"),
    (lambda m, net: film.Modulation([m.shifts[0][:, :5], m.shifts[1]]), r"shifts\[0\] must be \[B, 10\]"),
    (lambda m, net: film.Modulation(m.shifts, [s[:2] for s in m.shifts]), "same number of networks B"),
    (lambda m, net: film.Modulation([s.float() for s in m.shifts]), r"shifts\[0\] must have x's dtype"),
    (lambda m, net: film.Modulation(m.shifts, per_point=True), r"per point must be \[N, 10\]"),
])
def test_bad_modulation_raises_naming_the_entry(change, message):
    net = random_siren(2, 10, 1, 1, seed=20)
    x = random_points(POINTS, 2, seed=20)
    modulation = change(random_modulation(net, False, False, NETWORKS, seed=21), net)
    with pytest.raises((ValueError, TypeError), match=message):
        siren_fused.jet(net, x, 1, modulation=modulation)


def test_modulation_does_not_combine_with_params_or_wrong_points():
    net = random_siren(2, 10, 1, 1, seed=22)
    modulation = random_modulation(net, False, False, NETWORKS, seed=22)
    x = random_points(POINTS, 2, seed=22)
    with pytest.raises(ValueError, match="params and modulation cannot be combined"):
        siren_fused.jet(net, x, 1, params={"net.0.linear.bias": net.layers[0].linear.bias}, modulation=modulation)
    with pytest.raises(ValueError, match=r"x \[B, N, D\] must have the modulation's B = 3"):
        siren_fused.jet(net, x.reshape(1, POINTS, 2), 1, modulation=modulation)
