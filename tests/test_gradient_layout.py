"""Every gradient the fused backward returns has its tensor's exact strides, whichever order and network:
DistributedDataParallel compares strides exactly, size-1 dimensions included, and copies (and warns about)
any gradient that differs. Non-contiguous parameters and inputs get gradients in their own layout, with the
reference's values.

The reference backend is plain autograd, whose layout contract (``AccumulateGrad``) ignores the strides of
size-1 dimensions: its double backward hands a [1, 64] weight a gradient with strides (1, 1). For it the
tests check that contract, not exact strides.
"""

from __future__ import annotations

import pytest
import torch

import siren_fused
from conftest import fused_available, gradient_axis, jet_fields, random_points, random_siren, relative_error

ORDERS = [(0, False), (1, False), (2, False), (2, True)]
BACKENDS = ["fused", "reference"]
# [1, 64] last weights (strides (64, 1)) are the case DDP caught: a size-1 dimension makes a transposed
# [64, 1] buffer "contiguous" with strides (1, 1). One output also takes the reverse-mode order-1 path.
NETS = {"one output": dict(in_features=2, hidden=64, hidden_layers=2, out_features=1),
        "three outputs, sine last": dict(in_features=3, hidden=16, hidden_layers=1, out_features=3,
                                         outermost_linear=False),
        "width 1": dict(in_features=1, hidden=1, hidden_layers=1, out_features=1)}


def jet_loss(net: siren_fused.Siren, x: torch.Tensor, order: int, hessian: bool, backend: str) -> torch.Tensor:
    result = siren_fused.jet(net, x, order, hessian, backend=backend)
    return sum(value.square().sum() for _, value in jet_fields(result))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("order,hessian", ORDERS)
@pytest.mark.parametrize("name", NETS)
def test_every_gradient_has_its_parameters_strides(name, order, hessian, backend):
    if backend == "fused" and not fused_available("cpu"):
        pytest.skip("the fused extension is not built")
    net = random_siren(**NETS[name], seed=3, dtype=torch.float32)
    x = random_points(9, net.in_features, seed=3, dtype=torch.float32).requires_grad_(True)
    jet_loss(net, x, order, hessian, backend).backward()
    for parameter_name, parameter in [("x", x), *net.named_parameters()]:
        assert parameter.grad is not None, parameter_name
        assert_layout(parameter.grad, parameter, backend, parameter_name)


def assert_layout(grad: torch.Tensor, tensor: torch.Tensor, backend: str, name: str) -> None:
    """Exact strides for the fused backend; autograd's contract (strides of size-1 dimensions free) for the
    reference."""
    compared = [d for d in range(tensor.dim()) if backend == "fused" or tensor.shape[d] != 1]
    assert [grad.stride(d) for d in compared] == [tensor.stride(d) for d in compared], (
        f"{backend} {name}: gradient strides {grad.stride()}, tensor strides {tensor.stride()}")


def _with_transposed_storage(net: siren_fused.Siren) -> None:
    """Every weight replaced by the same values in [in, out] memory viewed as [out, in] (non-contiguous)."""
    for layer in net.layers:
        weight = layer.linear.weight.detach()
        layer.linear.weight = torch.nn.Parameter(weight.t().contiguous().t())


@pytest.mark.parametrize("order,hessian", ORDERS[1:])
def test_non_contiguous_parameters_and_input_give_the_references_jet_and_gradients_in_their_layout(order, hessian):
    if not fused_available("cpu", torch.float64):
        pytest.skip("the fused extension is not built")
    jets, grads = {}, {}
    for backend in BACKENDS:
        net = random_siren(2, 16, 2, 2, seed=5)
        _with_transposed_storage(net)
        assert not net.layers[1].linear.weight.is_contiguous()
        x = random_points(2, 11, seed=5).t().requires_grad_(True)  # [11, 2] viewed from [2, 11] memory
        names, tensors = zip(*[("x", x), *net.named_parameters()])
        jets[backend] = siren_fused.jet(net, x, order, hessian, backend=backend)
        loss = sum(value.square().sum() for _, value in jet_fields(jets[backend]))
        # autograd.grad hands back the gradients as the backward made them; .backward() would let
        # AccumulateGrad copy each into its parameter's layout and hide a wrong one.
        grads[backend] = dict(zip(names, torch.autograd.grad(loss, tensors)))
        for name, tensor in zip(names, tensors):
            assert_layout(grads[backend][name], tensor, backend, name)
    for name, expected in jet_fields(jets["reference"]):
        assert relative_error(getattr(jets["fused"], name), expected) <= 1e-10, name
    for index, (name, expected) in enumerate(grads["reference"].items()):
        assert relative_error(grads["fused"][name], expected, gradient_axis(index)) <= 1e-10, name
