"""Chunked evaluation (siren_fused.jet_chunked, evaluate_in_chunks, Grid): equal to one unchunked call on every
backend, chunk boundaries, the autograd path, and bad input.

Equality is asserted up to rounding, not bit for bit: a chunk is a GEMM with fewer rows, and a BLAS may block (and
so order the sums of) a row differently for a different number of rows. On the development VM the fused kernels
and the CUDA emulation gave bit-identical results for every chunk size tried, while the reference (torch's GEMMs
under autograd) differed in the last bits; bit equality is not something a BLAS promises. The bound is a few
units in the last place of each field's largest entry (the errors of 3 sine layers with omega_0 = 30 add up).
"""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch

import siren_fused
from siren_fused import Grid, evaluate_in_chunks, jet_chunked
from siren_fused.chunked import default_chunk_size, jet_components
from siren_fused.experiments.baselines import ReluPE

from conftest import jet_fields, random_points, random_siren

N = 53  # prime: no chunk size below divides it, so every run ends on a short chunk
CHUNK_SIZES = (7, N + 5)  # short last chunk; one chunk larger than N
JETS = [dict(order=0), dict(order=1), dict(order=2), dict(order=2, hessian=True)]


def _backends():
    backends = ["reference"]
    if siren_fused._extension.load() is not None:
        backends.append("fused")
    if siren_fused._extension.cuda_emulated():
        backends.append("cuda_emulated")
    return backends


def assert_same_jet(chunked: siren_fused.Jet, whole: siren_fused.Jet, ulps: float = 64.0) -> None:
    for (name, got), (_, expected) in zip(jet_fields(chunked), jet_fields(whole)):
        assert got.shape == expected.shape, name
        scale = expected.abs().max().item() or 1.0
        tolerance = ulps * torch.finfo(expected.dtype).eps * scale
        assert (got - expected).abs().max().item() <= tolerance, name
    assert [name for name, _ in jet_fields(chunked)] == [name for name, _ in jet_fields(whole)]


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("kind", JETS, ids=lambda kind: "-".join(f"{k}{v}" for k, v in kind.items()))
@pytest.mark.parametrize("out_features", [1, 2])
def test_chunked_jet_equals_one_call(backend, kind, out_features):
    dtype = torch.float32 if backend == "cuda_emulated" else torch.float64
    net = random_siren(3, 16, 2, out_features, seed=1, dtype=dtype)
    x = random_points(N, 3, seed=2, dtype=dtype)
    with torch.no_grad():
        whole = siren_fused.jet(net, x, backend=backend, **kind)
        for chunk_size in CHUNK_SIZES:
            chunked = jet_chunked(net, x, backend=backend, chunk_size=chunk_size, **kind)
            assert not any(field.requires_grad for _, field in jet_fields(chunked))
            assert_same_jet(chunked, whole)


@pytest.mark.parametrize("chunk_size, points", [(1, 13), (N - 1, N), (N, N)])
def test_chunk_boundaries_one_point_one_short_of_all_and_exactly_all(chunk_size, points):
    net = random_siren(3, 16, 2, 2, seed=1, dtype=torch.float64)
    x = random_points(points, 3, seed=2)
    with torch.no_grad():
        assert_same_jet(jet_chunked(net, x, order=2, chunk_size=chunk_size), siren_fused.jet(net, x, order=2))


def test_chunks_cover_every_point_once_in_order():
    seen = []

    def record(points: torch.Tensor) -> torch.Tensor:
        seen.append(points[:, 0].clone())
        return points * 2

    x = torch.arange(2 * N, dtype=torch.float64).reshape(N, 2)
    result = evaluate_in_chunks(record, x, chunk_size=7)
    assert [len(part) for part in seen] == [7] * 7 + [4]
    assert torch.equal(torch.cat(seen), x[:, 0])
    assert torch.equal(result, x * 2)


def test_without_autograd_no_chunk_outlives_its_copy():
    """What bounds the memory: while a chunk is computed, no earlier chunk's results are alive."""
    earlier: list = []

    def squares(points: torch.Tensor) -> torch.Tensor:
        assert all(reference() is None for reference in earlier), "an earlier chunk's result is still alive"
        result = points ** 2
        earlier.append(weakref.ref(result))
        return result

    x = torch.arange(40, dtype=torch.float64).reshape(20, 2)
    assert torch.equal(evaluate_in_chunks(squares, x, chunk_size=3), x ** 2)
    assert len(earlier) == 7


def test_empty_points_give_empty_outputs():
    net = random_siren(2, 8, 1, 1, seed=0)
    result = jet_chunked(net, torch.empty(0, 2, dtype=torch.float64), order=2, chunk_size=4)
    assert result.value.shape == (0, 1) and result.grad.shape == (0, 1, 2) and result.laplacian.shape == (0, 1)


def test_grid_points_are_the_row_major_meshgrid():
    grid = Grid((3, 4, 5), low=-2.0, high=1.0)
    axes = [np.linspace(-2.0, 1.0, n) for n in (3, 4, 5)]
    expected = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    assert len(grid) == 60 and grid.in_features == 3
    np.testing.assert_array_equal(grid.points().numpy(), expected.astype(np.float32))
    np.testing.assert_array_equal(grid.points(17, 29).numpy(), expected[17:29].astype(np.float32))
    assert Grid((1, 2)).points()[:, 0].tolist() == [-1.0, -1.0]  # a single-point axis sits at low


def test_jet_on_a_grid_equals_the_jet_of_its_points():
    net = random_siren(2, 16, 1, 3, seed=3, dtype=torch.float64)
    grid = Grid((6, 9), dtype=torch.float64)
    with torch.no_grad():
        assert_same_jet(jet_chunked(net, grid, order=1, chunk_size=5), siren_fused.jet(net, grid.points(), order=1))


def test_any_module_evaluates_in_chunks():
    torch.manual_seed(0)
    net = ReluPE(3, 16, 1, 3).double()
    x = random_points(N, 3, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(evaluate_in_chunks(net, x, chunk_size=10), net(x), rtol=0, atol=1e-13)


def test_with_autograd_the_chunks_are_differentiable_like_one_call():
    net = random_siren(2, 16, 1, 1, seed=5, dtype=torch.float64)
    x = random_points(N, 2, seed=6).requires_grad_(True)
    leaves = [x, *net.parameters()]
    chunked = jet_chunked(net, x, order=2, chunk_size=8)
    assert chunked.laplacian.requires_grad
    got = torch.autograd.grad(chunked.laplacian.pow(2).sum(), leaves)
    expected = torch.autograd.grad(siren_fused.jet(net, x, order=2).laplacian.pow(2).sum(), leaves)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_progress_bar_counts_points(capsys):
    net = random_siren(1, 8, 1, 1, seed=0)
    with torch.no_grad():
        jet_chunked(net, Grid((40,), dtype=torch.float64), order=1, chunk_size=16, progress=True)
    assert "100%" in capsys.readouterr().err.splitlines()[-1]


def test_default_chunk_size_bounds_one_layers_jet():
    net = random_siren(3, 1024, 3, 3, seed=0, dtype=torch.float32)
    assert jet_components(3, 1, False) == 4 and jet_components(3, 2, True) == 10
    chunk = default_chunk_size(net, order=1)
    assert chunk * 4 * 1024 * 4 == 64 * 2 ** 20


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True, "8"])
def test_bad_chunk_size_is_named(chunk_size):
    net = random_siren(2, 8, 1, 1, seed=0)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        jet_chunked(net, random_points(4, 2, seed=0), chunk_size=chunk_size)


def test_bad_points_and_progress_are_named():
    net = random_siren(2, 8, 1, 1, seed=0)
    with pytest.raises(TypeError, match="points must be a torch.Tensor or a siren_fused.Grid"):
        jet_chunked(net, [[0.0, 0.0]], chunk_size=2)
    with pytest.raises(ValueError, match=r"points must be \[N, in_features\]"):
        jet_chunked(net, torch.zeros(4, dtype=torch.float64), chunk_size=2)
    with pytest.raises(TypeError, match="progress must be a bool"):
        jet_chunked(net, random_points(4, 2, seed=0), chunk_size=2, progress="yes")
    with pytest.raises(ValueError, match=r"x must be \[N, 2\]"):  # the jet's own check, on the first chunk
        jet_chunked(net, random_points(4, 3, seed=0), chunk_size=2)
    with pytest.raises(TypeError, match="net must be a siren_fused.Siren"):
        jet_chunked(torch.nn.Linear(2, 1), random_points(4, 2, seed=0))


@pytest.mark.parametrize("arguments, message", [
    (dict(shape=()), "shape must be a non-empty sequence of positive ints"),
    (dict(shape=(4, 0)), "shape must be a non-empty sequence of positive ints"),
    (dict(shape=(4, 2.0)), "shape must be a non-empty sequence of positive ints"),
    (dict(shape=(4,), low=1.0, high=1.0), "low and high must be finite with low < high"),
    (dict(shape=(4,), dtype=torch.int64), "dtype must be a floating-point dtype"),
])
def test_bad_grid_is_named(arguments, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Grid(**arguments)


def test_grid_slice_out_of_range_is_named():
    with pytest.raises(ValueError, match="start and stop must satisfy"):
        Grid((4,)).points(2, 5)
