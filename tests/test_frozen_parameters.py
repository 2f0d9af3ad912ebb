"""Frozen parameters: every backward op computes only the gradients autograd asks for (its parameter_grads,
from ctx.needs_input_grad). A frozen parameter's gradient comes back empty and costs no work (its GEMMs are
skipped), the backward stops at the lowest layer anything is asked of, and the gradients that are computed stay
the reference's."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

import siren_fused
from conftest import (BackwardOpRecorder, available_cuda_kernels, matrix_products, op_arguments, random_linear_loss,
                      random_points, random_siren, relative_error)
from test_modulated_siren import random_modulation

FLOAT64_TOLERANCE = 1e-10
LAYERS = 4  # random_siren(2, 16, 2, ...): the first layer, two hidden layers, the last
# Over 4,096 points: several chunks a network at width 16 (csrc/jet_layout.h), so that a work unit can start
# inside a network and keep partial gradients (csrc/cpu/unit_gradients.h).
POINTS = 9000


@dataclass(frozen=True)
class Case:
    name: str
    out_features: int
    order: int
    hessian: bool = False
    modulated: bool = False  # three networks sharing the parameters, modulated per network


CASES = [
    Case("jet-order-2", 2, 2),
    Case("jet-hessian", 1, 2, hessian=True),
    Case("jet-order-1", 2, 1),
    Case("reverse-gradient", 1, 1),  # one output at order 1: gradient_forward / gradient_backward
    Case("modulated-jet", 2, 2, modulated=True),
    Case("modulated-reverse-gradient", 1, 1, modulated=True),
]


@dataclass(frozen=True)
class Kernels:
    backend: str
    dtype: torch.dtype
    device: str


# The CPU kernels in float64, and the CUDA kernels (on a GPU, or emulated) in float32.
KERNELS = [Kernels("fused", torch.float64, "cpu")] + [Kernels(k.backend, torch.float32, k.device)
                                                      for k in available_cuda_kernels()]


def gradients(case: Case, frozen, kernels: Kernels = KERNELS[0], x_grad: bool = True):
    """The gradients of a random linear loss on the case's jet by `kernels` with respect to x (where x_grad), the
    modulation's shifts and scales, and every parameter not named in `frozen`, by name; the backward ops' calls
    (BackwardOpRecorder) and the matrix products the backward made."""
    net = random_siren(2, 16, 2, case.out_features, seed=8, dtype=kernels.dtype, device=kernels.device)
    for name, parameter in net.named_parameters():
        parameter.requires_grad_(name not in frozen)
    modulation = (random_modulation(net, False, True, 3, seed=8, dtype=kernels.dtype, device=kernels.device)
                  if case.modulated else None)
    networks = 3 if case.modulated else 1
    x = random_points(networks * POINTS, 2, seed=8, dtype=kernels.dtype).to(kernels.device)
    x = x.reshape(-1, POINTS, 2).squeeze(0).requires_grad_(x_grad)
    leaves = {"x": x} if x_grad else {}
    if modulation is not None:
        shifts, scales = modulation.tensors()
        leaves.update({f"shift {l}": t for l, t in enumerate(shifts)})
        leaves.update({f"scale {l}": t for l, t in enumerate(scales)})
    leaves.update({name: p for name, p in net.named_parameters() if p.requires_grad})
    loss = random_linear_loss(siren_fused.jet(net, x, case.order, case.hessian, backend=kernels.backend,
                                              modulation=modulation), seed=8)
    grads = {}
    recorder = BackwardOpRecorder()
    with recorder:
        products = matrix_products(lambda: grads.update(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
                                   )
    return grads, recorder.calls, products


def parameter_names() -> list[str]:
    """The names of the weights, then of the biases, in the order of the ops' parameter_grads."""
    return [f"net.{l}.linear.{kind}" for kind in ("weight", "bias") for l in range(LAYERS)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_only_the_trainable_parameters_gradients_are_computed(case):
    frozen = ("net.0.linear.weight", "net.2.linear.bias", "net.3.linear.weight")
    fused, calls, _ = gradients(case, frozen)
    reference, _, _ = gradients(case, frozen, Kernels("reference", torch.float64, "cpu"))
    wanted = [name not in frozen for name in parameter_names()]
    assert [asked for asked, _ in calls] == [wanted], "the backward op must be told which parameters are trainable"
    returned = calls[0][1]
    assert [g.numel() > 0 for g in returned] == wanted, "a frozen parameter's gradient must come back empty"
    assert fused.keys() == reference.keys()
    for name, value in fused.items():
        assert relative_error(value, reference[name], -1) <= FLOAT64_TOLERANCE, name


@pytest.mark.parametrize("kernels", KERNELS, ids=lambda k: f"{k.backend}-{k.device}")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_parameter_frozen_skips_the_weight_gradient_products(case, kernels):
    """Only x (and a modulation) trainable: no parameter gradient is computed, the backward makes a matrix
    product fewer for every layer whose weight gradient is one (layer 0's, in forward mode, is elementwise),
    and the gradients it does compute are the same bits as with every parameter trainable. (The CUDA kernels
    have no reverse mode: their order-1 cases are forward-mode jets.)"""
    trainable, _, trainable_products = gradients(case, (), kernels)
    fused, calls, products = gradients(case, parameter_names(), kernels)
    assert [asked for asked, _ in calls] == [[False] * 2 * LAYERS]
    assert all(g.numel() == 0 for g in calls[0][1])
    if kernels.device == "cpu":  # the profiler sees no cuBLAS call
        assert products <= trainable_products - (LAYERS - 1), (products, trainable_products)
    assert list(fused) == [name for name in trainable if not name.startswith("net.")]
    for name, value in fused.items():
        assert torch.equal(value, trainable[name]), name


@pytest.mark.parametrize("kernels", KERNELS, ids=lambda k: f"{k.backend}-{k.device}")
@pytest.mark.parametrize("case", [c for c in CASES if not c.modulated], ids=lambda c: c.name)
def test_only_the_last_layer_trainable_stops_the_backward_there(case, kernels):
    """x and every layer below the last frozen (a new head on a trained SIREN): the backward stops at the last
    layer, without the product that carries the gradient below a layer or the weight-gradient product of any
    layer below, and the last layer's gradients are those of the backward with everything trainable."""
    trainable, _, trainable_products = gradients(case, (), kernels)
    below = parameter_names()[: LAYERS - 1] + parameter_names()[LAYERS : 2 * LAYERS - 1]
    fused, calls, products = gradients(case, below, kernels, x_grad=False)
    assert [asked for asked, _ in calls] == [[name not in below for name in parameter_names()]]
    if kernels.device == "cpu":  # the profiler sees no cuBLAS call
        assert products <= trainable_products - 2 * (LAYERS - 1), (products, trainable_products)
    assert list(fused) == ["net.3.linear.weight", "net.3.linear.bias"]
    tolerance = FLOAT64_TOLERANCE if kernels.dtype == torch.float64 else 1e-6
    for name, value in fused.items():
        assert relative_error(value, trainable[name], -1) <= tolerance, name


@pytest.mark.parametrize("reverse", [False, True], ids=["jet_backward", "gradient_backward"])
def test_opcheck_backward_with_frozen_parameters(reverse):
    net = random_siren(2, 7, 1, 1, seed=5, outermost_linear=False)
    x, weights, biases, omegas = op_arguments(net, random_points(9, 2, seed=5), False)
    asked = [True, False, False, True, True, False]
    if reverse:
        value, grad, saved = torch.ops.siren_fused.gradient_forward(x, weights, biases, omegas, False, True)
        torch.library.opcheck(torch.ops.siren_fused.gradient_backward.default,
                              (torch.randn_like(value), torch.randn_like(grad), x, weights, biases, omegas, False,
                               saved, True, asked))
    else:
        out, saved = torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 2, False, False, True)
        torch.library.opcheck(torch.ops.siren_fused.jet_backward.default,
                              (torch.randn_like(out), x, weights, biases, omegas, 2, False, False, saved, True,
                               None, None, None, asked))


def test_parameter_grads_of_the_wrong_length_is_rejected_naming_it():
    net = random_siren(2, 7, 1, 1, seed=6)
    x, weights, biases, omegas = op_arguments(net, random_points(9, 2, seed=6), False)
    out, saved = torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 1, False, True, True)
    with pytest.raises(RuntimeError, match=r"parameter_grads must hold 6 flags .*got 3"):
        torch.ops.siren_fused.jet_backward(torch.ones_like(out), x, weights, biases, omegas, 1, False, True, saved,
                                           True, parameter_grads=[True, True, True])
