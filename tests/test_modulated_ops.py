"""The modulated jet ops as PyTorch citizens: gradcheck, opcheck, torch.compile, torch.func.vmap."""

from __future__ import annotations

import pytest
import torch

import siren_fused
from conftest import jet_fields, op_arguments, random_points, random_siren
from test_modulated_siren import random_modulation

OP_CASES = [(0, False), (1, False), (2, False), (2, True)]


def modulated_arguments(per_point: bool, requires_grad: bool, seed: int, scaled: bool = True):
    """(x, weights, biases, shifts, scales, omegas) for calling the ops directly, x [3, 5, 2] per network or
    [5, 2] per point, every tensor a leaf."""
    net = random_siren(2, 6, 1, 2, seed=seed, first_omega_0=3.0, hidden_omega_0=2.0)
    x, weights, biases, omegas = op_arguments(net, random_points(5 if per_point else 15, 2, seed=seed, scale=1.0),
                                              requires_grad)
    if not per_point:
        x = x.detach().reshape(3, 5, 2).requires_grad_(requires_grad)
    modulation = random_modulation(net, per_point, scaled, 5 if per_point else 3, seed=seed)
    shifts, scales = modulation.tensors()
    return (x, weights, biases, [s.detach().requires_grad_(requires_grad) for s in shifts],
            [s.detach().requires_grad_(requires_grad) for s in scales], omegas)


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
@pytest.mark.parametrize("order,hessian", OP_CASES)
def test_gradcheck_forward_op(order, hessian, per_point):
    x, weights, biases, shifts, scales, omegas = modulated_arguments(per_point, True, seed=1)
    counts = [len(weights), len(biases), len(shifts), len(scales)]

    def packed_jet(x, *tensors):
        groups, start = [], 0
        for count in counts:
            groups.append(list(tensors[start : start + count]))
            start += count
        return torch.ops.siren_fused.modulated_jet_forward(x, *groups, omegas, order, hessian, True, True)[0]

    assert torch.autograd.gradcheck(packed_jet, (x, *weights, *biases, *shifts, *scales))


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


def _laplacian_loss(net, x, shifts, target, backend="fused"):
    j = siren_fused.jet(net, x, 2, backend=backend, modulation=siren_fused.Modulation(shifts))
    return ((j.laplacian - target) ** 2).mean() + (j.value ** 2).mean()


def test_compiled_modulated_loss_matches_eager():
    torch._dynamo.reset()
    net = random_siren(2, 16, 1, 1, seed=4, dtype=torch.float32)
    x = random_points(40, 2, seed=4, dtype=torch.float32, scale=1.0)
    shifts = [s.float().detach().requires_grad_(True) for s in random_modulation(net, False, False, 3, seed=4).shifts]
    target = torch.randn(3, 40, 1, generator=torch.Generator().manual_seed(4))
    compiled = torch.compile(_laplacian_loss, fullgraph=True)
    leaves = [*net.parameters(), *shifts]
    eager_loss = _laplacian_loss(net, x, shifts, target)
    compiled_loss = compiled(net, x, shifts, target)
    torch.testing.assert_close(compiled_loss, eager_loss, rtol=1e-6, atol=1e-7)
    for a, b in zip(torch.autograd.grad(compiled_loss, leaves), torch.autograd.grad(eager_loss, leaves)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_vmap_over_latents_matches_loop_and_backpropagates():
    """vmap over a batch of modulation sets (say latents' shifts), x shared: each slice is one modulated call."""
    net = random_siren(2, 9, 1, 2, seed=6)
    x = random_points(10, 2, seed=6, scale=1.0)
    sets = [torch.stack(pair).requires_grad_(True) for pair in zip(
        random_modulation(net, False, False, 3, seed=7).shifts, random_modulation(net, False, False, 3, seed=8).shifts)]

    def jet_of(shifts):
        return tuple(siren_fused.jet(net, x, 2, True, backend="fused", modulation=siren_fused.Modulation(shifts)))

    mapped = torch.func.vmap(jet_of)(sets)
    looped = [siren_fused.jet(net, x, 2, True, backend="reference",
                              modulation=siren_fused.Modulation([s[i] for s in sets])) for i in range(2)]
    for field, value in enumerate(mapped):
        torch.testing.assert_close(value, torch.stack([j[field] for j in looped]), rtol=1e-10, atol=1e-10)
    leaves = sets + list(net.parameters())
    mapped_grads = torch.autograd.grad(sum(v.sum() for v in mapped), leaves)
    looped_grads = torch.autograd.grad(sum(v.sum() for _, v in (f for j in looped for f in jet_fields(j))), leaves)
    for a, b in zip(mapped_grads, looped_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
