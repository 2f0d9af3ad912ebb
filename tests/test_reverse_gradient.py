"""The reverse-mode gradient (siren_fused::gradient_forward / gradient_backward), which the fused
backend uses for order-1 jets of one-output nets on the CPU: against the autograd reference, the
forward-mode jet op, gradcheck, opcheck, vmap and torch.compile."""

from __future__ import annotations


import pytest
import torch

import siren_fused
from conftest import (assert_float32_bound, assert_loss_and_gradients_match_reference, config_id, gradient_axis,
                      op_arguments, parameter_grads, random_points, random_siren, relative_error, sample_configs,
                      trained_copies)
from siren_fused.jet import network_arguments, uses_reverse_gradient

CONFIGS = [dict(c, out_features=1) for c in sample_configs(12, seed=21)]
FLOAT64_TOLERANCE = 1e-10


def test_fused_order_one_takes_the_reverse_path_only_for_one_output():
    x = random_points(3, 2, seed=0)
    assert uses_reverse_gradient(random_siren(2, 4, 1, 1, seed=0), x, 1)
    assert not uses_reverse_gradient(random_siren(2, 4, 1, 2, seed=0), x, 1)
    assert not uses_reverse_gradient(random_siren(2, 4, 1, 1, seed=0), x, 2)


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_float64_matches_reference_and_forward_mode(config):
    net = random_siren(**config)
    x = random_points(53, config["in_features"], seed=config["seed"]).requires_grad_(True)
    fused = siren_fused.jet(net, x, 1, backend="fused")
    ref = siren_fused.jet(net, x, 1, backend="reference")
    weights, biases, omegas = network_arguments(net)
    with torch.no_grad():
        packed, _ = torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 1, False, net.outermost_linear,
                                                      False)
    forward_mode_grad = packed[1:].permute(1, 2, 0)
    for got, want, name in ((fused.value, ref.value, "value"), (fused.grad, ref.grad, "grad"),
                            (fused.grad, forward_mode_grad, "grad vs forward mode")):
        assert got.shape == want.shape, name
        assert relative_error(got, want) <= FLOAT64_TOLERANCE, name
    for i, (a, b) in enumerate(zip(parameter_grads(net, x, fused, 1), parameter_grads(net, x, ref, 1))):
        assert relative_error(a, b, gradient_axis(i)) <= FLOAT64_TOLERANCE, f"gradient {i}"


@pytest.mark.parametrize("config", CONFIGS[::3], ids=config_id)
def test_float32_error_bounded_by_reference_float32(config):
    net64 = random_siren(**config)
    net32 = random_siren(**config, dtype=torch.float32)
    x64 = random_points(41, config["in_features"], seed=config["seed"]).requires_grad_(True)
    x32 = x64.detach().float().requires_grad_(True)
    exact = siren_fused.jet(net64, x64, 1, backend="reference")
    fused = siren_fused.jet(net32, x32, 1, backend="fused")
    ref = siren_fused.jet(net32, x32, 1, backend="reference")
    for name in ("value", "grad"):
        assert_float32_bound(getattr(fused, name), getattr(ref, name), getattr(exact, name), name)
    triples = zip(parameter_grads(net32, x32, fused, 2), parameter_grads(net32, x32, ref, 2), parameter_grads(net64, x64, exact, 2))
    for i, (a, b, c) in enumerate(triples):
        assert_float32_bound(a, b, c, f"gradient {i}", gradient_axis(i))


@pytest.mark.parametrize("n", [1, 4095, 4097])
def test_batch_sizes_across_chunk_boundaries(n):
    """Width 512 makes a chunk 4096 rows: the last, partial chunk must neither lose rows nor leak."""
    net = random_siren(3, 512, 1, 1, seed=3, outermost_linear=False)
    x = random_points(n, 3, seed=n).requires_grad_(True)
    fused = siren_fused.jet(net, x, 1, backend="fused")
    ref = siren_fused.jet(net, x, 1, backend="reference")
    assert relative_error(fused.value, ref.value) <= FLOAT64_TOLERANCE
    assert relative_error(fused.grad, ref.grad) <= FLOAT64_TOLERANCE
    for i, (a, b) in enumerate(zip(parameter_grads(net, x, fused, 3), parameter_grads(net, x, ref, 3))):
        assert relative_error(a, b, gradient_axis(i)) <= FLOAT64_TOLERANCE, f"gradient {i}"


@pytest.mark.parametrize("outermost_linear", [True, False])
def test_gradcheck_op(outermost_linear):
    net = random_siren(2, 5, 2, 1, seed=11, outermost_linear=outermost_linear, first_omega_0=3.0,
                       hidden_omega_0=2.0)
    x, weights, biases, omegas = op_arguments(net, random_points(6, 2, seed=11, scale=1.5), True)
    layers = len(weights)

    def value_and_grad(x, *params):
        value, grad, _ = torch.ops.siren_fused.gradient_forward(x, list(params[:layers]), list(params[layers:]),
                                                                omegas, outermost_linear, True)
        return value, grad

    assert torch.autograd.gradcheck(value_and_grad, (x, *weights, *biases))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_forward(requires_grad):
    net = random_siren(3, 7, 1, 1, seed=3)
    args = op_arguments(net, random_points(9, 3, seed=3), requires_grad)
    torch.library.opcheck(torch.ops.siren_fused.gradient_forward.default, (*args, True, requires_grad))


def test_opcheck_backward():
    net = random_siren(2, 7, 1, 1, seed=4, outermost_linear=False)
    x, weights, biases, omegas = op_arguments(net, random_points(9, 2, seed=4), False)
    value, grad, saved = torch.ops.siren_fused.gradient_forward(x, weights, biases, omegas, False, True)
    torch.library.opcheck(torch.ops.siren_fused.gradient_backward.default,
                          (torch.randn_like(value), torch.randn_like(grad), x, weights, biases, omegas, False, saved,
                           True))


@pytest.mark.parametrize("modulated", [False, True], ids=["plain", "modulated"])
def test_op_rejects_several_outputs_naming_the_argument(modulated):
    net = random_siren(2, 4, 0, 2, seed=0)
    weights, biases, omegas = network_arguments(net)
    x = random_points(3, 2, seed=0)
    with torch.no_grad(), pytest.raises(RuntimeError, match=r"one output \(weights\[-1\] must be \[1, in\]\)"):
        if modulated:  # a shift per point of the one hidden layer
            shifts = [torch.zeros(3, 4, dtype=x.dtype)]
            torch.ops.siren_fused.modulated_gradient_forward(x, weights, biases, shifts, [], omegas, True, False)
        else:
            torch.ops.siren_fused.gradient_forward(x, weights, biases, omegas, True, False)


def test_only_value_or_only_grad_in_the_loss():
    """A loss on one output leaves the other's gradient None; both must still give the reference's."""
    net = random_siren(2, 9, 1, 1, seed=8)
    x = random_points(20, 2, seed=8).requires_grad_(True)
    for field in ("value", "grad"):
        losses = [getattr(siren_fused.jet(net, x, 1, backend=b), field).sin().sum() for b in ("fused", "reference")]
        inputs = [x] + list(net.parameters())
        # The gradient does not depend on the last bias: autograd says None, the fused op zero.
        fused, ref = ([torch.zeros_like(i) if g is None else g for g, i in
                       zip(torch.autograd.grad(loss, inputs, allow_unused=True), inputs)] for loss in losses)
        for i, (a, b) in enumerate(zip(fused, ref)):
            if b.count_nonzero() == 0:
                assert torch.equal(a, b), f"gradient {i}"
            else:
                assert relative_error(a, b, gradient_axis(i)) <= FLOAT64_TOLERANCE, f"gradient {i}"


def test_vmap_over_points_matches_loop():
    net = random_siren(2, 9, 1, 1, seed=6)
    xs = random_points(30, 2, seed=6).reshape(3, 10, 2).requires_grad_(True)
    batched = torch.func.vmap(lambda xi: tuple(siren_fused.jet(net, xi, 1, backend="fused"))[:2])(xs)
    looped = [siren_fused.jet(net, xi, 1, backend="reference") for xi in xs]
    for field, value in enumerate(batched):
        torch.testing.assert_close(value, torch.stack([j[field] for j in looped]), rtol=1e-10, atol=1e-10)
    loss_b = sum(v.sum() for v in batched)
    loss_l = sum(j.value.sum() + j.grad.sum() for j in looped)
    params = [xs] + list(net.parameters())
    for a, b in zip(torch.autograd.grad(loss_b, params), torch.autograd.grad(loss_l, params)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def _eikonal_loss(net, x, backend="fused"):
    j = siren_fused.jet(net, x, 1, backend=backend)
    return (j.grad.norm(dim=-1) - 1).abs().mean() + j.value.abs().mean()


def test_compiled_eikonal_training_step_matches_eager_and_reference():
    torch._dynamo.reset()
    net = random_siren(3, 32, 2, 1, seed=5, dtype=torch.float32)
    x = random_points(200, 3, seed=5, dtype=torch.float32, scale=1.0)
    compiled_loss = torch.compile(_eikonal_loss, fullgraph=True)
    assert_loss_and_gradients_match_reference(compiled_loss, _eikonal_loss, net, x)
    results = trained_copies(net, x, (_eikonal_loss, compiled_loss))
    for a, b in zip(*(m.parameters() for m in results)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert any((a != b).any() for a, b in zip(net.parameters(), results[0].parameters()))
