"""The modulated jet ops and the modulated reverse-mode gradient ops as PyTorch citizens: gradcheck, opcheck,
torch.compile, torch.func.vmap."""

from __future__ import annotations

import pytest
import torch

import siren_fused
from conftest import jet_fields, op_arguments, random_points, random_siren
from test_modulated_siren import random_modulation

OP_CASES = [(0, False), (1, False), (2, False), (2, True)]


def modulated_arguments(per_point: bool, requires_grad: bool, seed: int, scaled: bool = True, outputs: int = 2):
    """(x, weights, biases, shifts, scales, omegas) for calling the ops directly, x [3, 5, 2] per network or
    [5, 2] per point, every tensor a leaf."""
    net = random_siren(2, 6, 1, outputs, seed=seed, first_omega_0=3.0, hidden_omega_0=2.0)
    x, weights, biases, omegas = op_arguments(net, random_points(5 if per_point else 15, 2, seed=seed, scale=1.0),
                                              requires_grad)
    if not per_point:
        x = x.detach().reshape(3, 5, 2).requires_grad_(requires_grad)
    modulation = random_modulation(net, per_point, scaled, 5 if per_point else 3, seed=seed)
    shifts, scales = modulation.tensors()
    return (x, weights, biases, [s.detach().requires_grad_(requires_grad) for s in shifts],
            [s.detach().requires_grad_(requires_grad) for s in scales], omegas)


def gradcheck_op(forward, per_point: bool, scaled: bool, outputs: int) -> bool:
    """gradcheck of forward(x, weights, biases, shifts, scales, omegas) (an op call returning the outputs to
    check) with respect to every tensor argument."""
    x, weights, biases, shifts, scales, omegas = modulated_arguments(per_point, True, seed=1, scaled=scaled,
                                                                     outputs=outputs)
    counts = [len(weights), len(biases), len(shifts), len(scales)]

    def of_flat(x, *tensors):
        groups, start = [], 0
        for count in counts:
            groups.append(list(tensors[start : start + count]))
            start += count
        return forward(x, *groups, omegas)

    return torch.autograd.gradcheck(of_flat, (x, *weights, *biases, *shifts, *scales))


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
@pytest.mark.parametrize("order,hessian", OP_CASES)
def test_gradcheck_forward_op(order, hessian, per_point):
    def packed_jet(*arguments):
        return torch.ops.siren_fused.modulated_jet_forward(*arguments, order, hessian, True, True)[0]

    assert gradcheck_op(packed_jet, per_point, True, 2)


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
@pytest.mark.parametrize("scaled", [False, True], ids=["shifts", "shifts+scales"])
def test_gradcheck_gradient_op(scaled, per_point):
    def value_and_gradient(*arguments):
        return torch.ops.siren_fused.modulated_gradient_forward(*arguments, True, True)[:2]

    assert gradcheck_op(value_and_gradient, per_point, scaled, 1)


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("order,hessian", OP_CASES)
def test_opcheck_forward(order, hessian, requires_grad, per_point):
    args = modulated_arguments(per_point, requires_grad, seed=2)
    torch.library.opcheck(torch.ops.siren_fused.modulated_jet_forward.default,
                          (*args, order, hessian, True, requires_grad))


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
@pytest.mark.parametrize("order,hessian", OP_CASES)
def test_opcheck_backward(order, hessian, per_point):
    x, weights, biases, shifts, scales, omegas = modulated_arguments(per_point, False, seed=3)
    out, saved = torch.ops.siren_fused.modulated_jet_forward(x, weights, biases, shifts, scales, omegas, order,
                                                             hessian, False, True)
    grad_out = torch.randn(out.shape, dtype=out.dtype)
    torch.library.opcheck(torch.ops.siren_fused.modulated_jet_backward.default,
                          (grad_out, x, weights, biases, shifts, scales, omegas, order, hessian, False, saved, True))


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
@pytest.mark.parametrize("scaled", [False, True], ids=["shifts", "shifts+scales"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_gradient_forward(requires_grad, scaled, per_point):
    args = modulated_arguments(per_point, requires_grad, seed=2, scaled=scaled, outputs=1)
    torch.library.opcheck(torch.ops.siren_fused.modulated_gradient_forward.default, (*args, True, requires_grad))


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
@pytest.mark.parametrize("scaled", [False, True], ids=["shifts", "shifts+scales"])
def test_opcheck_gradient_backward(scaled, per_point):
    x, weights, biases, shifts, scales, omegas = modulated_arguments(per_point, False, seed=3, scaled=scaled,
                                                                     outputs=1)
    value, grad, saved = torch.ops.siren_fused.modulated_gradient_forward(x, weights, biases, shifts, scales, omegas,
                                                                          False, True)
    torch.library.opcheck(torch.ops.siren_fused.modulated_gradient_backward.default,
                          (torch.randn_like(value), torch.randn_like(grad), x, weights, biases, shifts, scales, omegas,
                           False, saved, True))


def _derivative_loss(net, x, shifts, target, order, backend="fused"):
    """A loss on the value and on the Laplacian (order 2) or the gradient's norm (order 1: the reverse mode)."""
    j = siren_fused.jet(net, x, order, backend=backend, modulation=siren_fused.Modulation(shifts))
    derivative = j.laplacian if order == 2 else j.grad.norm(dim=-1)
    return ((derivative - target) ** 2).mean() + (j.value ** 2).mean()


@pytest.mark.parametrize("order", [2, 1])
def test_compiled_modulated_loss_matches_eager(order):
    torch._dynamo.reset()
    net = random_siren(2, 16, 1, 1, seed=4, dtype=torch.float32)
    x = random_points(40, 2, seed=4, dtype=torch.float32, scale=1.0)
    shifts = [s.float().detach().requires_grad_(True) for s in random_modulation(net, False, False, 3, seed=4).shifts]
    target = torch.randn(3, 40, 1, generator=torch.Generator().manual_seed(4))
    compiled = torch.compile(_derivative_loss, fullgraph=True)
    leaves = [*net.parameters(), *shifts]
    eager_loss = _derivative_loss(net, x, shifts, target, order)
    compiled_loss = compiled(net, x, shifts, target, order)
    torch.testing.assert_close(compiled_loss, eager_loss, rtol=1e-6, atol=1e-7)
    for a, b in zip(torch.autograd.grad(compiled_loss, leaves), torch.autograd.grad(eager_loss, leaves)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("order,outputs", [(2, 2), (1, 1)], ids=["jet", "reverse-mode"])
def test_vmap_over_latents_matches_loop_and_backpropagates(order, outputs):
    """vmap over a batch of modulation sets (say latents' shifts), x shared: each slice is one modulated call."""
    net = random_siren(2, 9, 1, outputs, seed=6)
    x = random_points(10, 2, seed=6, scale=1.0)
    sets = [torch.stack(pair).requires_grad_(True) for pair in zip(
        random_modulation(net, False, False, 3, seed=7).shifts, random_modulation(net, False, False, 3, seed=8).shifts)]

    def jet_of(shifts):
        j = siren_fused.jet(net, x, order, order == 2, backend="fused", modulation=siren_fused.Modulation(shifts))
        return tuple(value for _, value in jet_fields(j))

    mapped = torch.func.vmap(jet_of)(sets)
    looped = [siren_fused.jet(net, x, order, order == 2, backend="reference",
                              modulation=siren_fused.Modulation([s[i] for s in sets])) for i in range(2)]
    for field, value in enumerate(mapped):
        torch.testing.assert_close(value, torch.stack([j[field] for j in looped]), rtol=1e-10, atol=1e-10)
    leaves = sets + list(net.parameters())
    mapped_grads = torch.autograd.grad(sum(v.sum() for v in mapped), leaves)
    looped_grads = torch.autograd.grad(sum(v.sum() for _, v in (f for j in looped for f in jet_fields(j))), leaves)
    for a, b in zip(mapped_grads, looped_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
