"""The CUDA kernels against the autograd reference: values, Jacobian, Laplacian, Hessian, and the
gradients of a random linear loss on them with respect to the parameters and x.

Tolerance (float32): the fused error against a float64 reference is at most twice the error of
the float32 reference itself, plus a floor of 1e-6 times the result's largest magnitude (at
least 1): about 8 float32 ulps. The floor scales because tensors of a few large entries (the
last bias gradient is one sum over all points) leave the reference's own error to luck.
Networks whose every width is at most 128 run the whole-network fused forward kernel
(csrc/cuda/jet_forward_fused.cu, one instance per padded width 16, 32, 64, 128); wider or deeper
ones the per-layer kernels. Backward is per layer either way and reads the forward's saved
pre-activations, so every gradient check below also checks what the fused forward saved.
Every test skips without a CUDA device.
"""

from __future__ import annotations

import copy

import pytest
import torch

import siren_fused
from siren_fused import Siren, _extension, reference
from siren_fused.jet import network_arguments

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CASES = [(0, False), (1, False), (2, False), (2, True)]  # (order, hessian)
FIELDS = ("value", "grad", "laplacian", "hessian")


def make_net(in_features=2, hidden=32, hidden_layers=2, out_features=1, outermost_linear=True, seed=0):
    torch.manual_seed(seed)
    return Siren(in_features, hidden, hidden_layers, out_features, outermost_linear=outermost_linear)


def random_points(n, in_features, scale=1.0, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return ((torch.rand(n, in_features, generator=generator, dtype=torch.float64) * 2 - 1) * scale)


def fields(jet):
    return {name: getattr(jet, name) for name in FIELDS if getattr(jet, name) is not None}


def assert_close_to_float64(name, fused, ref32, ref64):
    """max |fused - ref64| <= 2 max |ref32 - ref64| + 1e-6 max(1, max |ref64|)."""
    assert fused.shape == ref64.shape, f"{name}: shape {tuple(fused.shape)} != reference {tuple(ref64.shape)}"
    assert torch.isfinite(fused).all(), f"{name}: non-finite values"
    if fused.numel() == 0:
        return
    err = (fused.double() - ref64).abs().max().item()
    ref_err = (ref32.double() - ref64).abs().max().item()
    floor = 1e-6 * max(1.0, ref64.abs().max().item())
    assert err <= 2 * ref_err + floor, (f"{name}: fused error {err:.3e} > 2 x float32 reference error "
                                        f"{ref_err:.3e} + {floor:.3e}")


def jets_and_grads(net, x, order, hessian, backend, loss_weights, dtype, view):
    """The jet fields at view(x) and the gradients of sum(loss_weights[f] * field f) w.r.t. the
    parameters and view(x), for a copy of net on the GPU in dtype."""
    net = copy.deepcopy(net).to(device="cuda", dtype=dtype)
    xr = view(x.to(device="cuda", dtype=dtype)).detach().requires_grad_(True)
    if backend == "reference":
        out = fields(reference.jet(net, xr, order, hessian))
    else:
        out = fields(siren_fused.jet(net, xr, order, hessian, backend=backend))
    loss = sum((loss_weights[name].to(device="cuda", dtype=dtype) * value).sum() for name, value in out.items())
    params = [p for layer in net.layers for p in (layer.linear.weight, layer.linear.bias)]
    grads = torch.autograd.grad(loss, params + [xr], allow_unused=True)
    named = {f"param[{i}]": g for i, g in enumerate(grads[:-1])}
    named["x"] = grads[-1]
    return out, named


def check_against_reference(net, x, order, hessian, view=lambda t: t):
    """Fused CUDA float32 vs reference float32 and float64 at the points view(x) (on the GPU)."""
    n = view(x).shape[0]
    generator = torch.Generator().manual_seed(2)
    shapes = {"value": (n, net.out_features), "grad": (n, net.out_features, net.in_features),
              "laplacian": (n, net.out_features), "hessian": (n, net.out_features, net.in_features, net.in_features)}
    loss_weights = {name: torch.randn(shape, generator=generator, dtype=torch.float64) for name, shape in shapes.items()}
    fused, ref32, ref64 = (jets_and_grads(net, x, order, hessian, backend, loss_weights, dtype, view)
                           for backend, dtype in (("fused", torch.float32), ("reference", torch.float32),
                                                  ("reference", torch.float64)))
    assert fused[0].keys() == ref64[0].keys()
    for part in (0, 1):
        for name, value in fused[part].items():
            assert value.device.type == "cuda" and value.dtype == torch.float32, name
            assert_close_to_float64(name, value, ref32[part][name], ref64[part][name])


def test_extension_built_with_cuda():
    assert _extension.cuda_built(), "a CUDA device is present but siren_fused._C was built without CUDA kernels"


@pytest.mark.parametrize("order,hessian", CASES)
@pytest.mark.parametrize("in_features", [1, 2, 3])
def test_jet_and_gradients_match_reference(order, hessian, in_features):
    check_against_reference(make_net(in_features=in_features), random_points(257, in_features), order, hessian)


@pytest.mark.parametrize("order,hessian", CASES)
@pytest.mark.parametrize("outermost_linear", [True, False])
def test_several_outputs_and_sine_last_layer(order, hessian, outermost_linear):
    net = make_net(in_features=3, hidden=48, out_features=3, outermost_linear=outermost_linear)
    check_against_reference(net, random_points(100, 3), order, hessian)


# At and just past each fused instance's width; 129 and 256 take the per-layer kernels.
@pytest.mark.parametrize("width", [16, 17, 32, 33, 64, 65, 128, 129, 256])
@pytest.mark.parametrize("order,hessian", CASES)
def test_widths_around_template_boundaries(width, order, hessian):
    check_against_reference(make_net(hidden=width), random_points(300, 2), order, hessian)


def tile_rows_of(net, order, hessian):
    components = 1 + (net.in_features if order >= 1 else 0)
    if order == 2:
        components += net.in_features * (net.in_features + 1) // 2 if hessian else 1
    max_width = max([net.in_features] + [d for w in network_arguments(net)[0] for d in w.shape])
    return _extension.require().jet_tile_rows(components, max_width)


# The fused kernel's blocks hold a fixed number of points that need not divide the saved layout's
# tile rows (8 points a block against 51-row tiles for the 128-wide 3-D Hessian), so a block's points
# may straddle two tiles and the last tile is partly padding.
@pytest.mark.parametrize("order,hessian", CASES)
@pytest.mark.parametrize("hidden,in_features", [(16, 2), (64, 2), (128, 3)])
def test_batch_sizes_not_multiple_of_tile(order, hessian, hidden, in_features):
    net = make_net(in_features=in_features, hidden=hidden)
    rows = tile_rows_of(net, order, hessian)
    for n in (1, 3, rows - 1, rows + 1, 3 * rows + 7):
        check_against_reference(net, random_points(n, in_features, seed=n), order, hessian)


@pytest.mark.parametrize("order,hessian", CASES)
@pytest.mark.parametrize("hidden,in_features", [(16, 1), (33, 2), (128, 3), (129, 2)])
def test_saved_pre_activations_match_cpu_float64(order, hessian, hidden, in_features):
    """What the forward saves for backward, padding rows included, against the CPU op's saved
    tensors (the same layout) in float64, with the CPU float32 ones as the error yardstick."""
    net = make_net(in_features=in_features, hidden=hidden, outermost_linear=False)
    x = random_points(2 * tile_rows_of(net, order, hessian) + 3, in_features)

    def saved(device, dtype):
        weights, biases, omegas = network_arguments(copy.deepcopy(net).to(device=device, dtype=dtype))
        with torch.no_grad():
            _, kept = torch.ops.siren_fused.jet_forward(x.to(device=device, dtype=dtype), weights, biases, omegas,
                                                        order, hessian, False, True)
        return kept

    fused, ref32, ref64 = saved("cuda", torch.float32), saved("cpu", torch.float32), saved("cpu", torch.float64)
    assert len(fused) == len(ref64) == len(net.layers)
    for i, (kept, kept32, kept64) in enumerate(zip(fused, ref32, ref64)):
        assert_close_to_float64(f"saved[{i}]", kept.cpu(), kept32, kept64)


@pytest.mark.parametrize("hidden_layers", [30, 31])
def test_depth_around_fused_layer_limit(hidden_layers):
    # The fused kernel carries at most 32 layers in its parameters; 33 take the per-layer kernels.
    net = make_net(in_features=2, hidden=16, hidden_layers=hidden_layers)
    check_against_reference(net, random_points(129, 2), 2, False)


def test_batch_spanning_several_chunks():
    # Wide layers and a 3-D Hessian make tiles of 8 rows; the kernels then process the batch in
    # chunks of about 2^24 / (components * 8 * width) tiles (JetProblem::chunk_tiles), ~1600 points here.
    net = make_net(in_features=3, hidden=1024, hidden_layers=1, out_features=2)
    assert tile_rows_of(net, 2, True) == 8
    check_against_reference(net, random_points(4001, 3), 2, True)


@pytest.mark.parametrize("order,hessian", CASES)
def test_empty_batch(order, hessian):
    net = make_net().cuda()
    x = torch.empty(0, 2, device="cuda", requires_grad=True)
    jet = siren_fused.jet(net, x, order, hessian, backend="fused")
    assert jet.value.shape == (0, 1)
    loss = sum(v.sum() for v in fields(jet).values())
    grads = torch.autograd.grad(loss, [x] + list(net.parameters()))
    assert grads[0].shape == (0, 2)
    for g, p in zip(grads[1:], net.parameters()):
        assert g.shape == p.shape and not g.any()


def test_non_contiguous_input():
    def every_other_column(t):  # stride 4 between rows, 2 between columns
        assert not t[:, ::2].is_contiguous()
        return t[:, ::2]

    check_against_reference(make_net(hidden=40), random_points(201, 4), 2, True, view=every_other_column)


def test_large_magnitude_input():
    # omega * z reaches thousands: sincos must reduce large arguments accurately.
    check_against_reference(make_net(hidden=64), random_points(500, 2, scale=300.0), 2, True)


def test_second_stream_gives_the_same_results():
    net = make_net(hidden=64).cuda()
    x = random_points(1000, 2).float().cuda()
    expected = fields(siren_fused.jet(net, x, 2, True, backend="fused"))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        xs = x.clone().requires_grad_(True)
        got = fields(siren_fused.jet(net, xs, 2, True, backend="fused"))
        grad_x = torch.autograd.grad(sum(v.sum() for v in got.values()), xs)[0]
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=0, atol=0, msg=name)  # same kernels, same order
    xd = x.clone().requires_grad_(True)
    grad_default = torch.autograd.grad(
        sum(v.sum() for v in fields(siren_fused.jet(net, xd, 2, True, backend="fused")).values()), xd)[0]
    # Only the weight and bias gradients use atomics (their order varies); grad_x does not.
    torch.testing.assert_close(grad_x, grad_default, rtol=0, atol=0)


def test_auto_backend_uses_cuda_kernels_without_grad():
    net = make_net().cuda()
    x = random_points(64, 2).float().cuda()
    with torch.no_grad():
        auto = siren_fused.jet(net, x, 2, backend="auto")
        fused = siren_fused.jet(net, x, 2, backend="fused")
    torch.testing.assert_close(auto.laplacian, fused.laplacian, rtol=0, atol=0)


def test_opcheck_jet_forward():
    net = make_net(hidden=32).cuda()
    weights, biases, omegas = network_arguments(net)
    weights = [w.detach().requires_grad_(True) for w in weights]
    biases = [b.detach().requires_grad_(True) for b in biases]
    x = random_points(37, 2).float().cuda().requires_grad_(True)
    torch.library.opcheck(torch.ops.siren_fused.jet_forward, (x, weights, biases, omegas, 2, True, True, True))
