"""The CPU kernels' threads (csrc/cpu/chunk_scheduler.h, unit_gradients.h): one parallel region a call, each
thread taking whole chunks, parameter gradients summed per work unit and then in unit order.

The other exactness tests use a few dozen points, one chunk; these use enough points for many chunks and
work units, with a network whose tiles span several units, so that every path through the scheduler and the
units' partial gradients runs: against the reference in float64, and bit for bit across repeated calls and
thread counts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import siren_fused
from conftest import gradient_axis, parameter_grads, random_points, random_siren, relative_error

# (order, hessian): the forward-mode jet kernels, and order 1, which one-output nets take through the
# reverse-mode gradient kernels.
KERNEL_PATHS = [(0, False), (1, False), (2, False), (2, True)]
# Width 256 makes tiles of 65 to 257 rows and chunks of a few tiles: 3,000 points are 5 to 20 chunks.
POINTS = 3000


@pytest.fixture
def torch_threads():
    """Sets torch's thread count for the test, restoring it after."""
    previous = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(previous)


def jet_and_grads(net, x, order, hessian, params=None, batched=False):
    """The fused jet's fields and the gradients of a fixed linear loss on them with respect to x and the
    parameters (`params` when given). With `batched` the fields' leading dimension is the networks, each
    weighted as a single network's field would be."""
    j = siren_fused.jet(net, x, order, hessian=hessian, backend="fused", params=params)
    inputs = [x] + (list(params.values()) if params else list(net.parameters()))
    fields = [value for value in j if value is not None]
    loss = 0
    for value in fields:
        shape = value.shape[1:] if batched else value.shape
        loss = loss + (value * torch.linspace(-1, 1, shape.numel(), dtype=value.dtype).view(shape)).sum()
    return [value.detach() for value in fields] + list(torch.autograd.grad(loss, inputs))


@pytest.mark.parametrize("order,hessian", KERNEL_PATHS)
def test_many_chunks_match_the_reference_in_float64(order, hessian, torch_threads):
    torch_threads(2)
    net = random_siren(2, 256, 2, 1, seed=order)
    x = random_points(POINTS, 2, seed=order).requires_grad_(True)
    fused = siren_fused.jet(net, x, order, hessian=hessian, backend="fused")
    ref = siren_fused.jet(net, x, order, hessian=hessian, backend="reference")
    for name in fused._fields:
        if getattr(fused, name) is not None:
            assert relative_error(getattr(fused, name), getattr(ref, name)) < 1e-10, name
    for i, (got, want) in enumerate(zip(parameter_grads(net, x, fused, seed=1), parameter_grads(net, x, ref, seed=1))):
        assert relative_error(got, want, gradient_axis(i)) < 1e-9, f"gradient {i}"


@pytest.mark.parametrize("order", [0, 2])
def test_batched_networks_split_across_work_units_match_each_network(order, torch_threads):
    """Three networks of many chunks each: units start inside networks, whose gradients then meet in the
    units' partials."""
    torch_threads(2)
    net = random_siren(2, 256, 1, 2, seed=5)
    g = torch.Generator().manual_seed(5)
    params = {name: (p.detach() * (0.5 + torch.rand(3, *p.shape, generator=g, dtype=p.dtype))).requires_grad_(True)
              for name, p in net.named_parameters()}
    x = random_points(POINTS, 2, seed=6).requires_grad_(True)
    batched = jet_and_grads(net, x, order, False, params, batched=True)
    for b in range(3):
        one = {name: p[b].detach().clone().requires_grad_(True) for name, p in params.items()}
        single = jet_and_grads(net, x, order, False, one)
        fields = len(single) - 1 - len(one)
        for i in range(fields):
            assert relative_error(batched[i][b], single[i]) < 1e-12, f"network {b}, field {i}"
        for i, got in enumerate(batched[fields + 1:]):
            assert relative_error(got[b], single[fields + 1 + i], -1) < 1e-12, f"network {b}, parameter {i}"


@pytest.mark.parametrize("order,hessian", KERNEL_PATHS)
def test_results_are_bit_identical_across_calls_and_thread_counts(order, hessian, torch_threads):
    """Which thread runs which chunk or unit never changes a result: the same bits from 1, 2 and 3 threads
    (the units depend on the chunk count alone up to 8 threads) and from call to call."""
    net = random_siren(2, 256, 2, 1, seed=11, dtype=torch.float32)
    x = random_points(POINTS, 2, seed=12, dtype=torch.float32).requires_grad_(True)
    torch_threads(1)
    expected = jet_and_grads(net, x, order, hessian)
    for threads in (2, 3, 2):
        torch_threads(threads)
        for got, want in zip(jet_and_grads(net, x, order, hessian), expected):
            assert torch.equal(got, want), f"{threads} threads"


def test_concurrent_calls_from_other_threads_give_the_main_threads_result(torch_threads):
    """Jets called at once from a thread pool's threads (each opening its own parallel region) give the
    main thread's result."""
    torch_threads(2)
    net = random_siren(2, 64, 1, 1, seed=3)
    x = random_points(POINTS, 2, seed=4)
    expected = siren_fused.jet(net, x, 2, backend="fused").laplacian.detach()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: siren_fused.jet(net, x, 2, backend="fused").laplacian.detach(), range(4)))
    for got in results:
        assert torch.equal(got, expected)
