"""The fused ops as PyTorch citizens: gradcheck, opcheck, torch.compile, torch.func.vmap."""

from __future__ import annotations

import copy

import pytest
import torch

import siren_fused
from conftest import assert_loss_and_gradients_match_reference, jet_fields, op_arguments, random_points, random_siren

OP_CASES = [(0, False), (1, False), (2, False), (2, True)]


@pytest.mark.parametrize("order,hessian", OP_CASES)
@pytest.mark.parametrize("outermost_linear", [True, False])
def test_gradcheck_forward_op(order, hessian, outermost_linear):
    net = random_siren(2, 5, 1, 2, seed=11, outermost_linear=outermost_linear, first_omega_0=3.0,
                       hidden_omega_0=2.0)
    x, weights, biases, omegas = op_arguments(net, random_points(6, 2, seed=11, scale=1.5), True)
    layers = len(weights)

    def packed_jet(x, *params):
        return torch.ops.siren_fused.jet_forward(x, list(params[:layers]), list(params[layers:]), omegas, order,
                                                 hessian, outermost_linear, True)[0]

    assert torch.autograd.gradcheck(packed_jet, (x, *weights, *biases))


@pytest.mark.parametrize("order,hessian", OP_CASES[1:])
def test_gradcheck_public_jet_in_x(order, hessian):
    net = random_siren(3, 6, 2, 1, seed=12, first_omega_0=2.0, hidden_omega_0=3.0)
    x = random_points(5, 3, seed=12, scale=1.0).requires_grad_(True)

    def fields(x):
        return tuple(v for _, v in jet_fields(siren_fused.jet(net, x, order, hessian, backend="fused")))

    assert torch.autograd.gradcheck(fields, (x,))


def test_second_differentiation_raises_clearly():
    net = random_siren(2, 5, 1, 1, seed=1)
    x = random_points(4, 2, seed=1).requires_grad_(True)
    lap = siren_fused.jet(net, x, 2, backend="fused").laplacian
    (g,) = torch.autograd.grad(lap.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiating that backward again is not supported"):
        g.sum().backward()


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("order,hessian", OP_CASES)
def test_opcheck_forward(order, hessian, requires_grad):
    net = random_siren(2, 7, 1, 2, seed=3)
    args = op_arguments(net, random_points(9, 2, seed=3), requires_grad)
    torch.library.opcheck(torch.ops.siren_fused.jet_forward.default, (*args, order, hessian, True, requires_grad))


@pytest.mark.parametrize("order,hessian", OP_CASES)
def test_opcheck_backward(order, hessian):
    net = random_siren(3, 7, 1, 2, seed=4, outermost_linear=False)
    x, weights, biases, omegas = op_arguments(net, random_points(9, 3, seed=4), False)
    out, saved = torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, order, hessian, False, True)
    grad_out = torch.randn(out.shape, dtype=out.dtype)
    torch.library.opcheck(torch.ops.siren_fused.jet_backward.default,
                          (grad_out, x, weights, biases, omegas, order, hessian, False, saved, True))


def _laplacian_loss(net, x, target, backend="fused"):
    j = siren_fused.jet(net, x, 2, backend=backend)
    return ((j.laplacian - target) ** 2).mean() + (j.value ** 2).mean() + (j.grad ** 2).mean()


def _train(net, loss_fn, x, target, steps=3):
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(net, x, target).backward()
        optimizer.step()
    return net


def test_compiled_training_step_matches_eager_and_reference():
    torch._dynamo.reset()
    net = random_siren(2, 32, 2, 1, seed=5, dtype=torch.float32)
    x = random_points(200, 2, seed=5, dtype=torch.float32)
    target = torch.randn(200, 1, generator=torch.Generator().manual_seed(5))
    compiled_loss = torch.compile(_laplacian_loss, fullgraph=True)
    assert_loss_and_gradients_match_reference(compiled_loss, _laplacian_loss, net, x, target)
    eager = _train(copy.deepcopy(net), _laplacian_loss, x, target)
    compiled = _train(copy.deepcopy(net), compiled_loss, x, target)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert any((a != b).any() for a, b in zip(net.parameters(), eager.parameters()))


def test_vmap_over_points_matches_loop_and_backpropagates():
    net = random_siren(2, 9, 1, 2, seed=6)
    xs = random_points(30, 2, seed=6).reshape(3, 10, 2).requires_grad_(True)
    batched = torch.func.vmap(lambda xi: tuple(siren_fused.jet(net, xi, 2, True, backend="fused")))(xs)
    looped = [siren_fused.jet(net, xi, 2, True, backend="reference") for xi in xs]
    for field, value in enumerate(batched):
        torch.testing.assert_close(value, torch.stack([j[field] for j in looped]), rtol=1e-10, atol=1e-10)
    loss_b = sum(v.sum() for v in batched)
    loss_l = sum(v.sum() for j in looped for v in j)
    params = [xs] + list(net.parameters())
    for a, b in zip(torch.autograd.grad(loss_b, params), torch.autograd.grad(loss_l, params)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_the_extension_build_is_part_of_the_compile_cache_key(tmp_path):
    # torch.compile's caches must miss after a rebuild: the fake kernels' saved shapes come from the library.
    # (config.patch, not monkeypatch: pytest 9's undo deletes a config module's attribute, which hides it.)
    from siren_fused import _extension

    if _extension.load() is not None:
        assert any(part.startswith("siren_fused-") for part in torch.compiler.config.cache_key_tag.split("+"))
    library = tmp_path / "_C.so"
    library.write_bytes(b"build one")
    with torch.compiler.config.patch(cache_key_tag="users-own"):
        _extension._tag_compile_caches(str(library))
        first = torch.compiler.config.cache_key_tag
        assert first.startswith("users-own+siren_fused-")
        _extension._tag_compile_caches(str(library))
        assert torch.compiler.config.cache_key_tag == first  # the same build tags once
    library.write_bytes(b"build two, longer")
    with torch.compiler.config.patch(cache_key_tag="users-own"):
        _extension._tag_compile_caches(str(library))
        assert torch.compiler.config.cache_key_tag not in ("users-own", first)
