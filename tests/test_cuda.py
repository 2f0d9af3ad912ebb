"""The CUDA kernels against the autograd reference: values, Jacobian, Laplacian, Hessian, and the
gradients of a random linear loss on them with respect to the parameters (and x).

Every test runs wherever the CUDA kernels can run (conftest.cuda_kernels): on a GPU when there is
one, and always on the CPU under the CUDA emulation (csrc/cuda/emulation), which executes the same
.cu sources with real barrier semantics, shuffled block and thread orders and the device's launch
limits, built when asked (SIREN_FUSED_CUDA_EMULATION=1, as the README's test command does). Nothing here is
skipped on a machine without a GPU where that extension is built, and in CI (CI set) its absence fails. Sizes
are kept small: the emulation runs every thread of every block in turn.

Tolerance (float32): conftest.assert_float32_bound, the fused error against a float64 reference at
most twice the error of a float32 yardstick plus a floor for summation order. The yardstick is the
float32 reference or the CPU kernels in float32, whichever is further off: on a few points the
reference's own error is luck (one point gave it 5e-7 against 5.5e-6 for both the CPU and the CUDA
kernels). The CPU kernels share the sine jet rule (csrc/sine_jet.h) with the CUDA kernels, so a wrong
rule would move both alike: they serve as a yardstick only after passing a bound of their own set by
the float32 reference alone (check_yardstick). The kernels add long sums in their own order (FFMA
chains over a layer's width in the whole-network kernel, the GEMM library's blocking on the per-layer
path, the parameter gradients summed over every stacked row) where torch adds blockwise: a random
walk of S roundings for a sum of S terms. So the floor is 4 sqrt(S) float32 epsilons (relative), S
the layer width for the jet and the x gradient, and the stacked rows (points x components) for
parameter gradients, whose errors are measured per output unit (conftest.gradient_axis).

Networks whose every width is at most 128 (and D <= 3 at order > 0) run the whole-network fused
forward kernel (jet_forward_fused.cu, one instance per padded width 16, 32, 64, 128); the others run
the per-layer path, a library GEMM (cuBLAS on a GPU, ATen's CPU BLAS under the emulation) and an
elementwise epilogue a layer. Backward is per layer either way, on library GEMMs, and reads the
forward's saved pre-activations, so every gradient check also checks what the fused forward saved.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import torch

import siren_fused
from siren_fused import _extension
from siren_fused.jet import network_arguments
from siren_fused.ops import component_count

from conftest import (assert_float32_bound, available_cuda_kernels, jet_fields, random_linear_loss, random_points,
                      random_siren, relative_error)
from test_modulated_siren import random_modulation

CASES = [(0, False), (1, False), (2, False), (2, True)]  # (order, hessian)


@pytest.mark.skipif(not os.environ.get("CI"), reason="outside CI, a build without the emulated kernels skips their "
                    "tests (build them with SIREN_FUSED_CUDA_EMULATION=1)")
def test_ci_builds_the_emulated_kernels():
    assert _extension.cuda_emulated(), ("the emulated CUDA kernels are not built, so their tests would skip: "
                                        "install with SIREN_FUSED_CUDA_EMULATION=1, as the README's test command does")
CASE_IDS = ["value", "jacobian", "laplacian", "hessian"]


def results(net, x, order, hessian, backend, dtype, device, x_grad, view, laplacian_weights=None, modulation=None):
    """The jet's fields at view(x), and the gradients of a fixed random linear loss on them with
    respect to the parameters (and x when x_grad), for a copy of net in dtype on device; with a
    modulation (a siren_fused.Modulation), of the modulated SIREN, and the gradients of its shifts and
    scales too ("grad shift l", "grad scale l")."""
    net = copy.deepcopy(net).to(device=device, dtype=dtype)
    xr = view(x.to(device=device, dtype=dtype)).detach().requires_grad_(x_grad)
    names = [f"grad {name}" for name, _ in net.named_parameters()]
    leaves = list(net.parameters())
    if modulation is not None:
        def leaves_of(tensors):
            return [t.detach().to(device=device, dtype=dtype).requires_grad_(True) for t in tensors]

        shifts, scales = modulation.tensors()
        modulation = siren_fused.Modulation(leaves_of(shifts), leaves_of(scales) or None, modulation.per_point)
        for kind, tensors in (("shift", modulation.shifts), ("scale", modulation.scales or ())):
            names += [f"grad {kind} {l}" for l in range(len(tensors))]
            leaves += list(tensors)
    jet = siren_fused.jet(net, xr, order, hessian, backend=backend, laplacian_weights=laplacian_weights,
                          modulation=modulation)
    out = dict(jet_fields(jet))
    if x_grad:
        names.append("grad x")
        leaves.append(xr)
    out.update(zip(names, torch.autograd.grad(random_linear_loss(jet, seed=2), leaves)))
    return out


def float32_floor(summed_terms):
    """The bound's floor for an entry behind a sum of summed_terms float32 terms (see the module's docstring)."""
    return max(1e-6, 4 * summed_terms**0.5 * torch.finfo(torch.float32).eps)


def assert_matches_reference(name, value, yardsticks, ref64, device, summed_terms=1, along=0):
    """value (from the CUDA kernels) within the float32 bound of the reference: each entry of the
    other dimensions at its own scale along `along` (conftest.relative_error), against the float32
    yardstick furthest from ref64; summed_terms: the longest sum behind an entry, which widens the floor."""
    assert value.device.type == device and value.dtype == torch.float32, name
    assert value.shape == ref64.shape, f"{name}: shape {tuple(value.shape)} != reference {tuple(ref64.shape)}"
    assert torch.isfinite(value).all(), f"{name}: non-finite values"
    if value.numel() > 0:
        ref64 = ref64.cpu()
        yardstick = max((y.cpu() for y in yardsticks), key=lambda y: relative_error(y, ref64, along))
        assert_float32_bound(value.cpu(), yardstick, ref64, name, along, float32_floor(summed_terms))


def check_yardstick(name, cpu32, ref32, ref64, summed_terms=1, along=0):
    """The CPU kernels' float32 result within 4 times the float32 reference's error plus 4 floors: looser
    than the CUDA kernels' bound (the reference's own error is small by luck on a few points), but set by
    the reference alone, so a rule of csrc/sine_jet.h gone wrong in both kernels fails here."""
    cpu_err, ref_err = (relative_error(t.cpu(), ref64.cpu(), along) for t in (cpu32, ref32))
    assert cpu_err <= 4 * (ref_err + float32_floor(summed_terms)), (
        f"{name}: the CPU yardstick's float32 error {cpu_err:.3g} vs the reference's {ref_err:.3g}")


def check_against_reference(kernels, net, x, order, hessian, view=lambda t: t, x_grad=True, laplacian_weights=None,
                            modulation=None):
    """The CUDA kernels in float32 vs the reference in float64 at the points view(x), with the float32
    reference and CPU kernels as yardsticks; of the modulated SIREN where a modulation is given."""
    fused, ref32, cpu32, ref64 = (
        results(net, x, order, hessian, backend, dtype, device, x_grad, view, laplacian_weights, modulation)
        for backend, dtype, device in ((kernels.backend, torch.float32, kernels.device),
                                       ("reference", torch.float32, kernels.device), ("fused", torch.float32, "cpu"),
                                       ("reference", torch.float64, kernels.device)))
    width = max(d for w in network_arguments(net)[0] for d in w.shape)
    per_network = modulation is not None and not modulation.per_point  # fields [B, N, ...]
    networks = modulation.networks if per_network else 1  # whose points a shared parameter's gradient sums
    points = view(x).shape[-2]
    stacked_rows = networks * points * component_count(net.in_features, order, hessian)
    check_fields(kernels, fused, ref32, cpu32, ref64, width, stacked_rows, points_along=1 if per_network else 0,
                 x_along=view(x).dim() - 2)


def check_fields(kernels, fused, ref32, cpu32, ref64, width, stacked_rows, points_along=0, x_along=0):
    """Every field and gradient of the CUDA kernels' results `fused` against the float64 reference, the CPU
    yardstick first checked on its own (see the module's docstring for the sums behind the floors);
    points_along and x_along: the points' dimension of the jet's fields and of x."""
    assert fused.keys() == ref64.keys()
    for name, value in fused.items():
        # Parameter and modulation gradients are sums over stacked rows, each output unit at its own scale
        # (a weight gradient's row, a network's or a point's shifts; a bias gradient as a whole); the jet
        # and grad x along the points.
        parameter = name.startswith(("grad net.", "grad shift", "grad scale"))
        summed_terms, along = (stacked_rows, -1) if parameter else (width, x_along if name == "grad x" else points_along)
        check_yardstick(name, cpu32[name], ref32[name], ref64[name], summed_terms, along)
        assert_matches_reference(name, value, (ref32[name], cpu32[name]), ref64[name], kernels.device,
                                 summed_terms=summed_terms, along=along)


def tile_rows_of(net, order, hessian):
    components = component_count(net.in_features, order, hessian)
    max_width = max([net.in_features] + [d for w in network_arguments(net)[0] for d in w.shape])
    return _extension.require().jet_tile_rows(components, max_width)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("in_features", [1, 2, 3])
def test_jet_and_gradients_match_reference(cuda_kernels, order, hessian, in_features):
    net = random_siren(in_features, 32, 2, 1, seed=in_features)
    check_against_reference(cuda_kernels, net, random_points(67, in_features, seed=1), order, hessian)


# The weighted Laplacian sum_k a_k d2/dx_k^2, weights of both signs: through the whole-network
# forward kernel (D <= 3, widths <= 128) and the per-layer kernels (D = 4, or a wider layer), and the
# backward (with and without x's gradient), against the reference's weighted trace.
@pytest.mark.parametrize("in_features,hidden,x_grad", [(1, 32, True), (2, 16, False), (3, 64, True), (4, 20, True),
                                                       (3, 160, False)])
def test_weighted_laplacian(cuda_kernels, in_features, hidden, x_grad):
    net = random_siren(in_features, hidden, 1, 2, seed=hidden)
    weights = [(-1.0) ** k * (0.5 + k) for k in range(in_features)]
    check_against_reference(cuda_kernels, net, random_points(31, in_features, seed=hidden), 2, False, x_grad=x_grad,
                            laplacian_weights=weights)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
def test_training_backward_without_x_gradient(cuda_kernels, order, hessian):
    # The usual training step: x is data, only the parameters want gradients (grad_x is never built).
    net = random_siren(2, 48, 2, 2, seed=5)
    check_against_reference(cuda_kernels, net, random_points(45, 2, seed=3), order, hessian, x_grad=False)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("outermost_linear", [True, False], ids=["linear", "sine"])
def test_several_outputs_and_sine_last_layer(cuda_kernels, order, hessian, outermost_linear):
    net = random_siren(3, 24, 1, 3, seed=7, outermost_linear=outermost_linear)
    check_against_reference(cuda_kernels, net, random_points(41, 3, seed=4), order, hessian)


# At and just past each instance width of the whole-network kernel (16, 32, 64, 128); 129 and up
# take the per-layer kernels (256, 512 and an odd width among them).
@pytest.mark.parametrize("width", [16, 17, 32, 33, 64, 65, 128, 129, 256, 383, 512])
def test_widths_around_template_boundaries(cuda_kernels, width):
    net = random_siren(2, width, 1, 2, seed=width)
    check_against_reference(cuda_kernels, net, random_points(23, 2, seed=width), 2, True)


@pytest.mark.parametrize("omegas", [(30.0, 3.0, 90.0, 1.0), (1.0, 30.0, 5.0, 60.0), (300.0, 0.5, 30.0, 12.0)],
                         ids=["30-3-90", "1-30-5-60", "300-0.5-30"])
def test_per_layer_omegas(cuda_kernels, omegas):
    # The kernels take one omega per layer: give every layer its own.
    net = random_siren(2, 40, 2, 1, seed=11, outermost_linear=False)
    for layer, omega in zip(net.layers, omegas):
        layer.omega_0 = omega
    check_against_reference(cuda_kernels, net, random_points(37, 2, seed=5, scale=1.0), 2, True)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("in_features", [4, 5])
def test_more_than_three_input_dimensions(cuda_kernels, order, hessian, in_features):
    # The whole-network kernel is instantiated for D <= 3 at order > 0; larger D take the per-layer path.
    net = random_siren(in_features, 20, 1, 2, seed=in_features)
    check_against_reference(cuda_kernels, net, random_points(19, in_features, seed=6, scale=1.0), order, hessian)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("width", [24, 200])
def test_zero_hidden_layers(cuda_kernels, order, hessian, width):
    net = random_siren(2, width, 0, 2, seed=13)
    assert len(net.layers) == 2
    check_against_reference(cuda_kernels, net, random_points(29, 2, seed=7), order, hessian)


# The fused kernel's blocks hold a fixed number of points that need not divide the saved layout's
# tile rows (8 points a block against 51-row tiles for the 128-wide 3-D Hessian), so a block's points
# may straddle two tiles and the last tile is partly padding.
@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("hidden,in_features", [(16, 2), (64, 2), (128, 3)])
def test_batch_sizes_not_multiple_of_tile(cuda_kernels, order, hessian, hidden, in_features):
    net = random_siren(in_features, hidden, 1, 1, seed=hidden)
    rows = tile_rows_of(net, order, hessian)
    assert rows % 2 == 1  # the layout's tile rows are odd (csrc/jet_layout.h)
    for n in (1, rows - 1, rows + 2):
        check_against_reference(cuda_kernels, net, random_points(n, in_features, seed=n), order, hessian)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("hidden,in_features", [(16, 1), (33, 2), (128, 3), (129, 2)])
def test_saved_pre_activations_match_cpu_float64(cuda_kernels, order, hessian, hidden, in_features):
    """What the forward saves for backward, padding rows included, against the CPU op's saved
    tensors (the same layout) in float64, with the CPU float32 ones as the error yardstick."""
    net = random_siren(in_features, hidden, 1, 1, seed=3, outermost_linear=False)
    x = random_points(2 * tile_rows_of(net, order, hessian) + 3, in_features, seed=8)

    def saved(op, device, dtype):
        weights, biases, omegas = network_arguments(copy.deepcopy(net).to(device=device, dtype=dtype))
        with torch.no_grad():
            _, kept = op(x.to(device=device, dtype=dtype), weights, biases, omegas, order, hessian, False, True)
        return kept

    fused = saved(getattr(torch.ops.siren_fused, cuda_kernels.forward_op), cuda_kernels.device, torch.float32)
    ref32 = saved(torch.ops.siren_fused.jet_forward, "cpu", torch.float32)
    ref64 = saved(torch.ops.siren_fused.jet_forward, "cpu", torch.float64)
    assert len(fused) == len(ref64) == len(net.layers)
    for i, (kept, kept32, kept64) in enumerate(zip(fused, ref32, ref64)):
        assert_matches_reference(f"saved[{i}]", kept, (kept32,), kept64, cuda_kernels.device)


@pytest.mark.parametrize("hidden_layers", [30, 31])
def test_depth_around_fused_layer_limit(cuda_kernels, hidden_layers):
    # The fused kernel carries at most 32 layers in its parameters; 33 take the per-layer kernels.
    net = random_siren(2, 16, hidden_layers, 1, seed=17, hidden_omega_0=3.0)
    check_against_reference(cuda_kernels, net, random_points(21, 2, seed=9, scale=1.0), 2, False)


def test_batch_spanning_several_chunks(cuda_kernels):
    # A 1024-wide layer and a 3-D Hessian make tiles of 9 rows; the kernels then take the batch in
    # chunks of 2^24 / (components * rows * width) tiles (JetProblem::chunk_tiles): 182 tiles here,
    # so 1,700 points are 2 chunks, the second partly filled.
    net = random_siren(3, 1024, 0, 2, seed=19)
    rows = tile_rows_of(net, 2, True)
    chunk_points = (2**24 // (10 * rows * 1024)) * rows
    n = 1700
    assert rows == 9 and chunk_points < n < 2 * chunk_points
    check_against_reference(cuda_kernels, net, random_points(n, 3, seed=10, scale=1.0), 2, True)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
def test_empty_batch(cuda_kernels, order, hessian):
    net = random_siren(2, 32, 1, 1, seed=0, dtype=torch.float32, device=cuda_kernels.device)
    x = torch.empty(0, 2, device=cuda_kernels.device, requires_grad=True)
    jet = siren_fused.jet(net, x, order, hessian, backend=cuda_kernels.backend)
    assert jet.value.shape == (0, 1)
    grads = torch.autograd.grad(random_linear_loss(jet, seed=1), [x] + list(net.parameters()))
    assert grads[0].shape == (0, 2)
    for g, p in zip(grads[1:], net.parameters()):
        assert g.shape == p.shape and not g.any()


def test_non_contiguous_input(cuda_kernels):
    def every_other_column(t):  # stride 4 between rows, 2 between columns
        assert not t[:, ::2].is_contiguous()
        return t[:, ::2]

    net = random_siren(2, 40, 1, 2, seed=21)
    check_against_reference(cuda_kernels, net, random_points(51, 4, seed=11), 2, True, view=every_other_column)


@pytest.mark.parametrize("hidden", [64, 160])
def test_large_magnitude_input(cuda_kernels, hidden):
    # omega * z reaches thousands: the device sincos must reduce large arguments accurately.
    net = random_siren(2, hidden, 1, 1, seed=23)
    check_against_reference(cuda_kernels, net, random_points(47, 2, seed=12, scale=300.0), 2, True)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
def test_no_grad_matches_reference(cuda_kernels, order, hessian):
    # Without autograd the forward saves nothing and takes the same kernels.
    net = random_siren(3, 48, 2, 2, seed=29)
    x = random_points(33, 3, seed=13)
    with torch.no_grad():
        fused = dict(jet_fields(siren_fused.jet(copy.deepcopy(net).to(cuda_kernels.device, torch.float32),
                                                x.to(cuda_kernels.device, torch.float32), order, hessian,
                                                backend=cuda_kernels.backend)))
    ref = {dtype: dict(jet_fields(siren_fused.jet(copy.deepcopy(net).to(dtype), x.to(dtype), order, hessian,
                                                  backend="reference")))
           for dtype in (torch.float32, torch.float64)}
    assert fused.keys() == ref[torch.float64].keys()
    for name, value in fused.items():
        assert not value.requires_grad
        assert_matches_reference(name, value, (ref[torch.float32][name].detach(),), ref[torch.float64][name].detach(),
                                 cuda_kernels.device)


# Large jets: a Hessian at D = 17, 18 or 60 (171, 190 or 1,891 components) and a Laplacian at D = 160. The
# per-layer path keeps no jet in shared memory (the GEMMs are the library's), so no jet is too large for it.
@pytest.mark.parametrize("in_features,hessian", [(17, True), (18, True), (160, False), (60, True)],
                         ids=["H17", "H18", "L160", "H60"])
def test_large_jets(cuda_kernels, in_features, hessian):
    net = random_siren(in_features, 16, 0, 1, seed=31)
    check_against_reference(cuda_kernels, net, random_points(3, in_features, seed=14, scale=0.5), 2, hessian)


def test_float64_raises_clear_error(cuda_kernels):
    net = random_siren(2, 16, 1, 1, seed=0, device=cuda_kernels.device)
    x = random_points(4, 2, seed=0, device=cuda_kernels.device)
    with pytest.raises(ValueError, match="float32"):
        siren_fused.jet(net, x, 2, backend=cuda_kernels.backend)
    weights, biases, omegas = network_arguments(net)
    with pytest.raises(RuntimeError, match="take float32, got Double"):
        getattr(torch.ops.siren_fused, cuda_kernels.forward_op)(x, weights, biases, omegas, 2, False, True, False)


@pytest.mark.parametrize("layout", ["plain", "modulated-per-network", "modulated-per-point"])
def test_opcheck_jet_forward(cuda_kernels, layout):
    net = random_siren(2, 32, 1, 1, seed=0, dtype=torch.float32, device=cuda_kernels.device)
    weights, biases, omegas = network_arguments(net)
    weights = [w.detach().requires_grad_(True) for w in weights]
    biases = [b.detach().requires_grad_(True) for b in biases]
    x = random_points(37, 2, seed=0, dtype=torch.float32, device=cuda_kernels.device)
    if layout == "plain":
        op, tensors = cuda_kernels.forward_op, (x.requires_grad_(True), weights, biases)
    else:  # a modulated SIREN with scales: 3 networks at their own copies of x, or a row a point
        per_point = layout.endswith("point")
        modulation = random_modulation(net, per_point, True, 37 if per_point else 3, seed=0, dtype=torch.float32,
                                       device=cuda_kernels.device)
        points = x if per_point else x.expand(3, 37, 2).clone()
        op, tensors = cuda_kernels.modulated_forward_op, (points.requires_grad_(True), weights, biases,
                                                          *modulation.tensors())
    torch.library.opcheck(getattr(torch.ops.siren_fused, op), (*tensors, omegas, 2, True, True, True))


if torch.cuda.is_available():  # streams and the build check exist only with a GPU

    def test_extension_built_with_cuda():
        assert _extension.cuda_built(), "a CUDA device is present but siren_fused._C was built without CUDA kernels"

    def test_second_stream_gives_the_same_results():
        net = random_siren(2, 64, 1, 1, seed=0, dtype=torch.float32, device="cuda")
        x = random_points(1000, 2, seed=0, dtype=torch.float32, device="cuda")
        expected = dict(jet_fields(siren_fused.jet(net, x, 2, True, backend="fused")))
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            xs = x.clone().requires_grad_(True)
            jet = siren_fused.jet(net, xs, 2, True, backend="fused")
            got = dict(jet_fields(jet))
            grad_x = torch.autograd.grad(random_linear_loss(jet, seed=1), xs)[0]
        torch.cuda.current_stream().wait_stream(stream)
        torch.cuda.synchronize()
        for name, value in expected.items():
            torch.testing.assert_close(got[name], value, rtol=0, atol=0, msg=name)  # same kernels, same order
        xd = x.clone().requires_grad_(True)
        grad_default = torch.autograd.grad(
            random_linear_loss(siren_fused.jet(net, xd, 2, True, backend="fused"), seed=1), xd)[0]
        torch.testing.assert_close(grad_x, grad_default, rtol=0, atol=0)


# Batched networks (a hypernetwork's B predicted SIRENs): weights [B, out, in], biases [B, out], x [B, N, D]
# through the ops directly, every kernel taking the networks as a grid dimension. Each network has its own
# weights and points; the batched op is checked against the CPU kernels' batched op (float64 the truth,
# float32 the yardstick) and against one call per network of the same CUDA kernels, which the tests above
# check against the reference. The GEMM library may block a batch of B products differently from one, so
# the per-network calls agree to float32 rounding, not bit for bit.

BATCHED_CASES = [(0, False, False), (1, False, False), (2, False, False), (2, True, False), (2, False, True)]
BATCHED_IDS = ["value", "jacobian", "laplacian", "hessian", "weighted-laplacian"]


def batched_networks(networks, in_features, hidden, out_features, n, seed, hidden_layers=1):
    """B float64 SIRENs of one shape with different weights (and biases), and each one's own N points."""
    nets = [random_siren(in_features, hidden, hidden_layers, out_features, seed=seed + b) for b in range(networks)]
    xs = [random_points(n, in_features, seed=seed + 1000 + b) for b in range(networks)]
    return nets, xs


def stacked_arguments(nets, xs, dtype, device):
    """(x [B, N, D], weights [B, out, in], biases [B, out], omegas) of the networks, in dtype on device."""
    per_network = [network_arguments(net) for net in nets]
    weights = [torch.stack([a[0][l].detach() for a in per_network]) for l in range(len(per_network[0][0]))]
    biases = [torch.stack([a[1][l].detach() for a in per_network]) for l in range(len(per_network[0][1]))]
    move = dict(dtype=dtype, device=device)
    return (torch.stack(xs).to(**move), [w.to(**move) for w in weights], [b.to(**move) for b in biases],
            per_network[0][2])


def single_arguments(net, x, dtype, device):
    """(x [N, D], weights [out, in], biases [out], omegas): one network, unbatched."""
    x, weights, biases, omegas = stacked_arguments([net], [x], dtype, device)
    return x[0], [w[0] for w in weights], [b[0] for b in biases], omegas


def op_results(forward_op, backward_op, x, weights, biases, omegas, order, hessian, laplacian_weights,
               grad_out=None, modulations=()):
    """The op pair's packed jet, saved pre-activations and the gradients of grad_out (a fixed random
    one by default), by name; x and the parameters batched or not. A modulated op pair takes
    modulations = (shifts, scales) and adds their gradients."""
    forward = getattr(torch.ops.siren_fused, forward_op)
    backward = getattr(torch.ops.siren_fused, backward_op)
    packed, saved = forward(x, weights, biases, *modulations, omegas, order, hessian, True, True, laplacian_weights)
    if grad_out is None:
        grad_out = torch.randn(packed.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    grad_out = grad_out.to(packed)
    grad_x, grad_w, grad_b, *grad_modulations = backward(grad_out, x, weights, biases, *modulations, omegas, order,
                                                         hessian, True, saved, True, laplacian_weights)
    out = {"packed": packed, "grad x": grad_x}
    out.update({f"saved {i}": s for i, s in enumerate(saved)})
    out.update({f"grad weight {l}": w for l, w in enumerate(grad_w)})
    out.update({f"grad bias {l}": b for l, b in enumerate(grad_b)})
    for kind, grads in zip(("shift", "scale"), grad_modulations):
        out.update({f"grad {kind} {l}": g for l, g in enumerate(grads)})
    return out


def points_first(name, value):
    """A batched result laid out for relative_error: its points first for the jet and grad_x (each entry
    at its own scale along the points), the saved jets' networks and tiles first (as the unbatched saved
    jets are compared), a parameter gradient as [entries, B] (each network's at its own scale)."""
    if name == "packed":  # [B, C, N, out]
        return value.movedim(2, 0)
    if name == "grad x":  # [B, N, D]
        return value.movedim(1, 0)
    if name.startswith("saved"):  # [B, tiles, C, T, width]
        return value.flatten(0, 1)
    return value.flatten(1).T


def check_batched(kernels, nets, xs, order, hessian, weighted=False, per_network=True):
    """The batched op of the CUDA kernels against (a) the CPU kernels' batched op and, where per_network,
    (b) one unbatched call per network of the CUDA kernels."""
    in_features = nets[0].in_features
    laplacian_weights = [(-1.0) ** k * (0.5 + k) for k in range(in_features)] if weighted else None

    def run(forward, backward, arguments, grad_out=None):
        return op_results(forward, backward, *arguments, order, hessian, laplacian_weights, grad_out)

    batched = run(kernels.forward_op, kernels.backward_op, stacked_arguments(nets, xs, torch.float32, kernels.device))
    cpu32, cpu64 = (run("jet_forward", "jet_backward", stacked_arguments(nets, xs, dtype, "cpu"))
                    for dtype in (torch.float32, torch.float64))
    networks, n = len(nets), xs[0].shape[0]
    width = max(d for w in network_arguments(nets[0])[0] for d in w.shape)
    stacked_rows = n * component_count(in_features, order, hessian)
    assert batched.keys() == cpu64.keys()
    grad_out = torch.randn(batched["packed"].shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for name, value in batched.items():
        # (a) The CPU kernels' batched op: same shapes, within the float32 bound of its float64 result.
        assert value.shape[0] == networks, name
        summed_terms = stacked_rows if name.startswith("grad weight") or name.startswith("grad bias") else width
        assert_matches_reference(name, points_first(name, value), (points_first(name, cpu32[name]),),
                                 points_first(name, cpu64[name]), kernels.device, summed_terms=summed_terms)
    if not per_network:
        return
    # (b) One call per network of the same kernels.
    for b, (net, x) in enumerate(zip(nets, xs)):
        single = run(kernels.forward_op, kernels.backward_op, single_arguments(net, x, torch.float32, kernels.device),
                     grad_out[b])
        for name, expected in single.items():
            got = batched[name][b]
            parameter = name.startswith("grad weight") or name.startswith("grad bias")
            floor = 2 * float32_floor(stacked_rows if parameter else width)
            error = relative_error(points_first(name, got[None]).cpu(), points_first(name, expected[None]).cpu())
            assert error <= floor, f"network {b}: {name}: {error:.3g}"


# Width 64 takes the whole-network kernel, 256 the per-layer kernels; 37 points are not a multiple of
# either's tile rows (255 and 63 at order 2), and 70 points are two tiles of 63 and part of a third.
@pytest.mark.parametrize("order,hessian,weighted", BATCHED_CASES, ids=BATCHED_IDS)
@pytest.mark.parametrize("hidden,n", [(64, 37), (256, 70)], ids=["fused", "per-layer"])
def test_batched_networks(cuda_kernels, order, hessian, weighted, hidden, n):
    nets, xs = batched_networks(5, 2, hidden, 2, n, seed=hidden + order)
    check_batched(cuda_kernels, nets, xs, order, hessian, weighted)


@pytest.mark.parametrize("hidden", [64, 256], ids=["fused", "per-layer"])
def test_batch_of_one_network(cuda_kernels, hidden):
    # B = 1 of the batched op, against the unbatched op (the same kernels, the same launches).
    nets, xs = batched_networks(1, 3, hidden, 1, 29, seed=41)
    check_batched(cuda_kernels, nets, xs, 2, True)


def test_batched_networks_several_chunks(cuda_kernels):
    # A 1024-wide layer and a 3-D Hessian: 67 tiles of 9 rows a network leave room for 2 networks in
    # one chunk of the workspace (JetProblem::chunk_networks), so 3 networks take 2 chunks, the
    # second one network. The per-network calls are left out: each would cost as much again.
    n = 600
    nets, xs = batched_networks(3, 3, 1024, 1, n, seed=43, hidden_layers=0)
    rows = tile_rows_of(nets[0], 2, True)
    tiles = -(-n // rows)
    assert rows == 9 and 2**24 // (tiles * 10 * rows * 1024) == 2
    check_batched(cuda_kernels, nets, xs, 2, True, per_network=False)


@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
def test_batched_networks_no_points(cuda_kernels, order, hessian):
    nets, xs = batched_networks(3, 2, 32, 2, 0, seed=47)
    x, weights, biases, omegas = stacked_arguments(nets, xs, torch.float32, cuda_kernels.device)
    results = op_results(cuda_kernels.forward_op, cuda_kernels.backward_op, x, weights, biases, omegas, order, hessian,
                         None)
    assert results["packed"].shape == (3, component_count(2, order, hessian), 0, 2)
    assert results["grad x"].shape == (3, 0, 2)
    for l, (w, b) in enumerate(zip(weights, biases)):
        assert results[f"grad weight {l}"].shape == w.shape and not results[f"grad weight {l}"].any()
        assert results[f"grad bias {l}"].shape == b.shape and not results[f"grad bias {l}"].any()


@pytest.mark.parametrize("hidden", [32, 160], ids=["fused", "per-layer"])
def test_opcheck_batched_jet_forward(cuda_kernels, hidden):
    nets, xs = batched_networks(3, 2, hidden, 1, 19, seed=53)
    x, weights, biases, omegas = stacked_arguments(nets, xs, torch.float32, cuda_kernels.device)
    weights = [w.requires_grad_(True) for w in weights]
    biases = [b.requires_grad_(True) for b in biases]
    torch.library.opcheck(getattr(torch.ops.siren_fused, cuda_kernels.forward_op),
                          (x.requires_grad_(True), weights, biases, omegas, 2, True, True, True))


# Deterministic gradients: the backward sums every parameter gradient in a fixed order (library GEMMs
# accumulating chunk after chunk, no atomics), so neither the order blocks run in nor a second run
# changes a bit. The emulation's block and thread orders follow SIREN_FUSED_EMULATION_SEED, read once a
# process: each seed runs in a process of its own.
DETERMINISM_RUN = """
import hashlib, sys
sys.path.insert(0, {tests!r})
from conftest import available_cuda_kernels
from test_cuda import deterministic_results
kernels = next(k for k in available_cuda_kernels() if k.name == {kernels!r})
digest = hashlib.sha256()
for name, value in deterministic_results(kernels):
    digest.update(name.encode() + value.cpu().numpy().tobytes())
print(digest.hexdigest())
"""


def deterministic_results(kernels):
    """(name, tensor) of every output and gradient of batches of 3 networks through the whole-network
    forward kernel (width 32) and the per-layer path (width 160), over several tiles; and of a modulated
    SIREN with scales, per network (its shared weights' and biases' gradients summed over the 3 networks,
    its modulations' over each network's points) and per point."""
    for hidden in (32, 160):
        nets, xs = batched_networks(3, 2, hidden, 2, 300, seed=hidden)
        results = op_results(kernels.forward_op, kernels.backward_op,
                             *stacked_arguments(nets, xs, torch.float32, kernels.device), 2, True, None)
        yield from ((f"{hidden} {name}", value) for name, value in sorted(results.items()))
    net = random_siren(2, 160, 2, 2, seed=7, dtype=torch.float32, device=kernels.device)
    weights, biases, omegas = network_arguments(net)
    weights, biases = [w.detach() for w in weights], [b.detach() for b in biases]
    for per_point in (False, True):
        x = random_points(300 if per_point else 900, 2, seed=8, dtype=torch.float32, device=kernels.device)
        modulation = random_modulation(net, per_point, True, 300 if per_point else 3, seed=9, dtype=torch.float32,
                                       device=kernels.device)
        modulations = tuple([t.detach() for t in tensors] for tensors in modulation.tensors())
        results = op_results(kernels.modulated_forward_op, kernels.modulated_backward_op,
                             x if per_point else x.reshape(3, 300, 2), weights, biases, omegas, 2, True, None,
                             modulations=modulations)
        layout = "per point" if per_point else "per network"
        yield from ((f"modulated {layout} {name}", value) for name, value in sorted(results.items()))


def test_gradients_identical_across_runs(cuda_kernels):
    first, second = (list(deterministic_results(cuda_kernels)) for _ in range(2))
    for (name, a), (_, b) in zip(first, second):
        assert torch.equal(a, b), f"{name} changed between two runs"


def test_emulated_gradients_identical_across_emulation_seeds():
    if not _extension.cuda_emulated():
        pytest.skip("the emulated CUDA kernels are not built")
    code = DETERMINISM_RUN.format(tests=os.path.dirname(os.path.abspath(__file__)), kernels="emulated")
    digests = {}
    for seed in ("0", "1", "2"):
        run = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, SIREN_FUSED_EMULATION_SEED=seed),
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        digests[seed] = run.stdout.strip()
    assert len(set(digests.values())) == 1, f"results differ between emulation seeds: {digests}"


# The layout and parameter cases of the CPU tests: weights stored transposed, frozen parameters (all of them,
# with only x wanting a gradient), and B networks whose params mix batched and shared entries with the
# points shared (x [N, D] expanded to the networks: its gradient sums theirs).

def transposed_storage(net):
    """net with every weight in [in, out] memory viewed as [out, in] (non-contiguous)."""
    for layer in net.layers:
        layer.linear.weight = torch.nn.Parameter(layer.linear.weight.detach().t().contiguous().t())
    return net


def leaf_results(net, x, order, hessian, backend, dtype, device, frozen=(), params=None):
    """The jet's fields and the gradients of a fixed random linear loss on them with respect to x, the
    parameters not frozen and every entry of params, by name."""
    net = copy.deepcopy(net).to(device=device, dtype=dtype)
    for name, parameter in net.named_parameters():
        parameter.requires_grad_(name not in frozen)
    x = x.to(device=device, dtype=dtype).detach().requires_grad_(True)
    if params is not None:
        params = {name: t.to(device=device, dtype=dtype).detach().requires_grad_(True) for name, t in params.items()}
    jet = siren_fused.jet(net, x, order, hessian, backend=backend, params=params)
    replaced = params or {}
    leaves = {"x": x, **{f"param {name}": t for name, t in replaced.items()},
              **{name: p for name, p in net.named_parameters() if p.requires_grad and name not in replaced}}
    grads = torch.autograd.grad(random_linear_loss(jet, seed=4), list(leaves.values()))
    out = dict(jet_fields(jet))
    out.update({f"grad {name}": g for name, g in zip(leaves, grads)})
    return out, leaves


def check_leaf_results(kernels, net, x, order, hessian, frozen=(), params=None, points_along=0):
    """The CUDA kernels' leaf_results in float32 against the reference's in float64 (float32 the yardstick),
    every gradient in its tensor's layout; points_along: the points' dimension of the jet's fields."""
    fused, leaves = leaf_results(net, x, order, hessian, kernels.backend, torch.float32, kernels.device, frozen, params)
    ref32, _ = leaf_results(net, x, order, hessian, "reference", torch.float32, kernels.device, frozen, params)
    ref64, _ = leaf_results(net, x, order, hessian, "reference", torch.float64, kernels.device, frozen, params)
    assert fused.keys() == ref64.keys()
    width = max(d for w in network_arguments(net)[0] for d in w.shape)
    networks = fused["value"].shape[0] if fused["value"].dim() == 3 else 1  # a shared tensor's gradient sums theirs
    stacked_rows = networks * x.shape[-2] * component_count(net.in_features, order, hessian)
    for name, value in fused.items():
        leaf = leaves.get(name[len("grad "):])
        if leaf is not None:
            assert value.stride() == leaf.stride(), f"{name}: strides {value.stride()}, its tensor's {leaf.stride()}"
        parameter = leaf is not None and name != "grad x"
        if parameter and params is not None and name[len("grad param "):] in params:
            # Each network's gradient entries as one row: [B, ...] flattened, each at its own scale.
            value, ref32[name], ref64[name] = (t.flatten(1) for t in (value, ref32[name], ref64[name]))
        summed_terms, along = (stacked_rows, -1) if parameter else (width, 0 if name == "grad x" else points_along)
        assert_matches_reference(name, value, (ref32[name],), ref64[name], kernels.device, summed_terms=summed_terms,
                                 along=along)
    return fused


@pytest.mark.parametrize("hidden", [32, 160], ids=["fused", "per-layer"])
def test_transposed_weights_and_frozen_parameters(cuda_kernels, hidden):
    net = transposed_storage(random_siren(2, hidden, 2, 2, seed=61))
    assert not net.layers[1].linear.weight.is_contiguous()
    frozen = ("net.0.linear.weight", "net.2.linear.bias", "net.3.linear.weight")
    result = check_leaf_results(cuda_kernels, net, random_points(37, 2, seed=17), 2, False, frozen)
    assert not any(f"grad {name}" in result for name in frozen)


@pytest.mark.parametrize("hidden", [32, 160], ids=["fused", "per-layer"])
def test_every_parameter_frozen_only_x_gradient(cuda_kernels, hidden):
    net = random_siren(3, hidden, 1, 1, seed=67)
    frozen = tuple(name for name, _ in net.named_parameters())
    result = check_leaf_results(cuda_kernels, net, random_points(29, 3, seed=18), 2, True, frozen)
    assert [name for name in result if name.startswith("grad ")] == ["grad x"]


@pytest.mark.parametrize("hidden", [32, 160], ids=["fused", "per-layer"])
def test_batched_params_mixing_shared_and_batched_entries_with_shared_x(cuda_kernels, hidden):
    net = random_siren(2, hidden, 1, 2, seed=71)
    g = torch.Generator().manual_seed(71)
    own = dict(net.named_parameters())
    # Three networks: their own first weight and last bias, every other parameter shared.
    params = {name: own[name].detach() * (1 + 0.1 * torch.randn((3,) + own[name].shape, generator=g,
                                                                 dtype=torch.float64))
              for name in ("net.0.linear.weight", "net.2.linear.bias")}
    result = check_leaf_results(cuda_kernels, net, random_points(31, 2, seed=19), 2, False, params=params,
                                points_along=1)
    assert result["value"].shape == (3, 31, 2) and result["grad x"].shape == (31, 2)


@pytest.mark.parametrize("hidden", [32, 160], ids=["fused", "per-layer"])
def test_non_finite_points_leave_the_others_bit_identical(cuda_kernels, hidden):
    net = random_siren(2, hidden, 1, 2, seed=73, dtype=torch.float32, device=cuda_kernels.device)
    x = random_points(40, 2, seed=20, dtype=torch.float32, device=cuda_kernels.device)
    spoiled = x.clone()
    spoiled[3, 0], spoiled[17, 1], spoiled[30] = float("nan"), float("inf"), float("-inf")
    others = torch.ones(40, dtype=torch.bool, device=cuda_kernels.device)
    others[[3, 17, 30]] = False

    def fields_and_x_gradient(points):
        points = points.clone().requires_grad_(True)
        jet = siren_fused.jet(net, points, 2, True, backend=cuda_kernels.backend)
        return dict(jet_fields(jet)), torch.autograd.grad(random_linear_loss(jet, seed=5), points)[0]

    (clean, clean_grad), (dirty, dirty_grad) = fields_and_x_gradient(x), fields_and_x_gradient(spoiled)
    for name, value in clean.items():
        assert torch.equal(dirty[name][others], value[others]), name
        assert not torch.isfinite(dirty[name][~others]).all(), name
    assert torch.equal(dirty_grad[others], clean_grad[others])


# SIREN_FUSED_CUDA_WHOLE_NETWORK=0 (read at every call) sends narrow networks through the per-layer path too,
# the switch gpu_check.sh times the whole-network kernel against the library GEMMs with.
@pytest.mark.parametrize("order,hessian", CASES, ids=CASE_IDS)
def test_per_layer_path_at_narrow_widths(cuda_kernels, order, hessian, monkeypatch):
    monkeypatch.setenv("SIREN_FUSED_CUDA_WHOLE_NETWORK", "0")
    check_against_reference(cuda_kernels, random_siren(3, 32, 2, 2, seed=79), random_points(43, 3, seed=21), order,
                            hessian)


def test_whole_network_switch_takes_only_0_or_1(cuda_kernels, monkeypatch):
    monkeypatch.setenv("SIREN_FUSED_CUDA_WHOLE_NETWORK", "no")
    net = random_siren(2, 16, 1, 1, seed=0, dtype=torch.float32, device=cuda_kernels.device)
    x = random_points(4, 2, seed=0, dtype=torch.float32, device=cuda_kernels.device)
    with pytest.raises(RuntimeError, match="SIREN_FUSED_CUDA_WHOLE_NETWORK must be 0, 1 or unset, got 'no'"):
        siren_fused.jet(net, x, 2, backend=cuda_kernels.backend)


def test_emulated_smaller_devices_fall_back_to_the_per_layer_path(monkeypatch):
    """The 128-wide kernel of a 3-D Hessian needs 107 KB of shared memory a block: within sm_80's 163 KB
    opt-in maximum, past sm_86's 99 KB, where the forward takes the per-layer path (its bits, and the
    reference's values)."""
    if not _extension.cuda_emulated():
        pytest.skip("the emulated CUDA kernels are not built")
    kernels = next(k for k in available_cuda_kernels() if k.name == "emulated")
    net = random_siren(3, 128, 1, 1, seed=83)
    x = random_points(40, 3, seed=22)
    weights, biases, omegas = network_arguments(copy.deepcopy(net).float())
    forward = getattr(torch.ops.siren_fused, kernels.forward_op)

    def packed(device=None, whole_network="1"):
        monkeypatch.setenv("SIREN_FUSED_CUDA_WHOLE_NETWORK", whole_network)
        if device is None:
            monkeypatch.delenv("SIREN_FUSED_EMULATION_DEVICE", raising=False)
        else:
            monkeypatch.setenv("SIREN_FUSED_EMULATION_DEVICE", device)
        with torch.no_grad():
            return forward(x.float(), weights, biases, omegas, 2, True, True, True)[0]

    whole_network, per_layer = packed(), packed(whole_network="0")
    assert not torch.equal(whole_network, per_layer)  # the two paths round differently, so the bits tell them apart
    assert torch.equal(packed("sm_80"), whole_network)
    for device in ("sm_86", "sm_89"):
        assert torch.equal(packed(device), per_layer), device
    monkeypatch.setenv("SIREN_FUSED_EMULATION_DEVICE", "sm_86")
    check_against_reference(kernels, net, x, 2, True)
    with pytest.raises(RuntimeError, match="SIREN_FUSED_EMULATION_DEVICE must be sm_80, sm_86, sm_89, sm_90 or unset"):
        packed("sm_75")


def operator_results(net, x, operators, backend, dtype, device):
    """The directional jet's fields (siren_fused.operator_jet) at x, and the gradients of a fixed random linear
    loss on them with respect to the parameters and x, for a copy of net in dtype on device."""
    net = copy.deepcopy(net).to(device=device, dtype=dtype)
    xr = x.to(device=device, dtype=dtype).detach().requires_grad_(True)
    j = siren_fused.operator_jet(net, xr, operators, backend=backend)
    out = {"value": j.value, "grad": j.grad, **{f"field {name}": f for name, f in j.fields.items()}}
    g = torch.Generator().manual_seed(2)
    loss = sum((f * torch.randn(f.shape, generator=g, dtype=torch.float64).to(f)).sum() for f in out.values())
    names = [f"grad {name}" for name, _ in net.named_parameters()] + ["grad x"]
    out.update(zip(names, torch.autograd.grad(loss, list(net.parameters()) + [xr], allow_unused=True,
                                              materialize_grads=True)))
    return out


@pytest.mark.parametrize("in_features,hidden,operators", [
    (1, 16, {"u_xxx": {(3,): 1.0}, "u_xxxx": {(4,): -0.5}}),
    (2, 40, {"bih": siren_fused.biharmonic(2), "lap": siren_fused.laplacian_operator(2)}),
    (2, 129, {"kdv": {(0, 1): 1.0, (3, 0): 1.0}, "u_x": {(1, 0): 1.0}}),
    (3, 24, {"bih": siren_fused.biharmonic(3), "u_xxyz": {(2, 1, 1): 2.0}}),
    (3, 20, siren_fused.hessian_diagonal(3)),
], ids=["1d-separate", "2d-biharmonic", "2d-kdv", "3d-mixed", "3d-hessian-diagonal"])
def test_directional_jet_matches_reference(cuda_kernels, in_features, hidden, operators):
    """Orders 2 to 4 (csrc/taylor_jet.h) through the per-layer path (a directional jet never takes the
    whole-network kernel), against the float64 reference with the float32 yardsticks."""
    net = random_siren(in_features, hidden, 2, 2, seed=hidden, first_omega_0=30.0, hidden_omega_0=30.0)
    x = random_points(37, in_features, seed=hidden, scale=1.0)
    fused, ref32, cpu32, ref64 = (
        operator_results(net, x, operators, backend, dtype, device)
        for backend, dtype, device in ((cuda_kernels.backend, torch.float32, cuda_kernels.device),
                                       ("reference", torch.float32, cuda_kernels.device),
                                       ("fused", torch.float32, "cpu"), ("reference", torch.float64, "cpu")))
    # Stacked rows: the points times 64, more than any of these plans' components.
    check_fields(cuda_kernels, fused, ref32, cpu32, ref64, hidden, x.shape[0] * 64)


# Modulated SIRENs (siren_fused.Modulation: one network's weights shared by B networks, each hidden layer's
# pre-activation shifted, and optionally scaled, per network or per point; csrc/modulation_args.h) through
# the per-layer path (the whole-network kernel takes no modulation): every network's rows through each
# shared weight as one GEMM, the modulation in the epilogue's sine rule, the shift and scale gradients from
# the elementwise VJP summed per network by GEMMs (or copied per point), against the reference as above.

MODULATION_LAYOUTS = [(False, True), (False, False), (True, True)]  # (per point, points shared by the networks)
MODULATION_LAYOUT_IDS = ["network-shared-x", "network-own-x", "point"]


def modulated_points(net, per_point, shared, networks, n, seed):
    """x for a modulated SIREN: [N, D] (per point, or shared by the networks) or the networks' own [B, N, D]."""
    x = random_points(n * (1 if shared else networks), net.in_features, seed=seed, scale=1.0)
    return x if shared else x.reshape(networks, n, net.in_features)


@pytest.mark.parametrize("per_point,shared", MODULATION_LAYOUTS, ids=MODULATION_LAYOUT_IDS)
@pytest.mark.parametrize("scaled", [False, True], ids=["shifts", "shifts+scales"])
@pytest.mark.parametrize("order,hessian,weighted", BATCHED_CASES, ids=BATCHED_IDS)
def test_modulated_jet_and_gradients_match_reference(cuda_kernels, order, hessian, weighted, scaled, per_point,
                                                     shared):
    # The last layer is a sine (unmodulated, like every last layer) in every other case.
    net = random_siren(2, 24, 2, 2, seed=order + 3 * scaled, outermost_linear=(order + scaled) % 2 == 0)
    networks, n = 3, 37
    modulation = random_modulation(net, per_point, scaled, n if per_point else networks, seed=order + 10)
    laplacian_weights = (0.5, -1.5) if weighted else None
    check_against_reference(cuda_kernels, net, modulated_points(net, per_point, shared, networks, n, seed=order),
                            order, hessian, laplacian_weights=laplacian_weights, modulation=modulation)


@pytest.mark.parametrize("per_point,networks,n", [(False, 3, 600), (False, 2, 1700), (True, 1, 1700)],
                         ids=["two-networks-a-chunk", "two-chunks-a-network", "per-point"])
def test_modulated_batch_spanning_several_chunks(cuda_kernels, per_point, networks, n):
    """A 1024-wide layer and a 3-D Hessian make tiles of 9 rows (test_batch_spanning_several_chunks): a chunk
    holds 2 networks of 600 points, so 3 networks take 2 chunks, the shared weights' one GEMM spanning both
    networks of the first; 1,700 points take 2 chunks, each adding its share of a network's shift and scale
    gradients or, per point, copying its own points'."""
    net = random_siren(3, 1024, 0, 1, seed=89)
    modulation = random_modulation(net, per_point, True, n if per_point else networks, seed=90)
    check_against_reference(cuda_kernels, net, modulated_points(net, per_point, per_point, networks, n, seed=91), 2,
                            True, modulation=modulation)


@pytest.mark.parametrize("per_point", [False, True], ids=["per-network", "per-point"])
def test_modulated_no_points(cuda_kernels, per_point):
    net = random_siren(2, 32, 1, 2, seed=0, dtype=torch.float32, device=cuda_kernels.device)
    x = torch.empty(0, 2, device=cuda_kernels.device, requires_grad=True)
    modulation = random_modulation(net, per_point, True, 0 if per_point else 3, seed=0, dtype=torch.float32,
                                   device=cuda_kernels.device)
    shifts, scales = modulation.tensors()
    jet = siren_fused.jet(net, x, 2, True, backend=cuda_kernels.backend, modulation=modulation)
    assert jet.hessian.shape == ((0, 2, 2, 2) if per_point else (3, 0, 2, 2, 2))
    leaves = [x, *net.parameters(), *shifts, *scales]
    for grad, leaf in zip(torch.autograd.grad(random_linear_loss(jet, seed=1), leaves), leaves):
        assert grad.shape == leaf.shape and not grad.any()


def test_modulated_bad_input_raises_naming_the_argument(cuda_kernels):
    net = random_siren(2, 16, 0, 1, seed=0, dtype=torch.float32, device=cuda_kernels.device)
    weights, biases, omegas = network_arguments(net)
    x = random_points(12, 2, seed=0, dtype=torch.float32, device=cuda_kernels.device).reshape(3, 4, 2)
    shifts = [torch.zeros(3, 16, device=cuda_kernels.device)]
    forward = getattr(torch.ops.siren_fused, cuda_kernels.modulated_forward_op)
    with torch.no_grad():
        with pytest.raises(RuntimeError, match=r"shifts\[0\] must be \[B, 16\] with B = 3"):
            forward(x, weights, biases, [shifts[0][:, :15]], [], omegas, 2, False, True, False)
        with pytest.raises(RuntimeError, match="scales must have one tensor per hidden layer"):
            forward(x, weights, biases, shifts, shifts * 2, omegas, 2, False, True, False)
        with pytest.raises(RuntimeError, match="take float32, got Double"):
            forward(x.double(), [w.double() for w in weights], [b.double() for b in biases],
                    [shifts[0].double()], [], omegas, 2, False, True, False)
        with pytest.raises(ValueError, match="float32"):
            siren_fused.jet(net.double(), x.double(), 2, backend=cuda_kernels.backend,
                            modulation=siren_fused.Modulation([shifts[0].double()]))
