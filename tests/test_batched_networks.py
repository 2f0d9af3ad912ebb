"""B networks in one jet (``siren_fused.jet(..., params=...)``), against each network's own torch.func jet.

float64: values, Jacobians, Laplacians and Hessians to 1e-10, gradients into the batched parameters and
into x to 1e-9 (each measured per network, per channel, along the points or a weight's inputs); float32
within the bound of the single-network tests.
"""

from __future__ import annotations

import copy

import pytest
import torch

import siren_fused
from siren_fused import reference
from siren_fused.jet import uses_reverse_gradient
from conftest import (assert_float32_bound, config_id, jet_fields, random_linear_loss, random_points, random_siren,
                      relative_error, sample_configs)

CONFIGS = sample_configs(10, seed=12)
CASES = [(0, False, None), (1, False, None), (2, False, None), (2, True, None), (2, False, (0.5, -2.0, 1.5))]
NETWORKS = 3


def batched_params(net, networks: int, seed: int, names=None) -> dict:
    """Every parameter of net (or those in `names`) for `networks` networks: the net's own values, each
    entry scaled by its own random factor in [0.5, 1.5], so the networks differ and keep SIREN's scales."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, p in net.named_parameters():
        if names is None or name in names:
            factor = 0.5 + torch.rand(networks, *p.shape, generator=g, dtype=torch.float64)
            params[name] = (p.detach() * factor.to(p.dtype)).requires_grad_(True)
    return params


def network_points(config: dict, networks: int, n: int, shared: bool, dtype=torch.float64) -> torch.Tensor:
    """[N, D] points shared by the networks, or [B, N, D] points of their own."""
    x = random_points(n * (1 if shared else networks), config["in_features"], seed=config["seed"], dtype=dtype)
    return x if shared else x.reshape(networks, n, config["in_features"])


def per_network_jets(net, params: dict, x: torch.Tensor, order: int, hessian: bool, weights):
    """Each network's own torch.func jet (its slice of params, no vmap over networks), stacked."""
    networks = next(iter(params.values())).shape[0]
    jets = []
    for b in range(networks):
        own = dict(net.named_parameters())
        own.update({name: tensor[b] for name, tensor in params.items()})
        jets.append(reference.functional_jet(net, own, (), x if x.dim() == 2 else x[b], order, hessian, weights))
    return siren_fused.Jet(*(torch.stack([j[i] for j in jets]) if jets[0][i] is not None else None
                             for i in range(len(jets[0]))))


def usable(config: dict, order: int, weights) -> bool:
    return weights is None or (order == 2 and config["in_features"] == len(weights))


def three_dims(config: dict) -> dict:
    return {**config, "in_features": 3}


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize("order,hessian,weights", CASES)
def test_float64_jets_match_each_networks_torch_func_jet(config, order, hessian, weights):
    config = three_dims(config) if weights else config
    net = random_siren(**config)
    params = batched_params(net, NETWORKS, config["seed"])
    x = network_points(config, NETWORKS, 23, shared=config["seed"] % 2 == 0)
    with torch.no_grad():
        fused = siren_fused.jet(net, x, order, hessian, backend="fused", params=params, laplacian_weights=weights)
        ref = per_network_jets(net, params, x, order, hessian, weights)
    assert [n for n, _ in jet_fields(fused)] == [n for n, _ in jet_fields(ref)]
    for name, value in jet_fields(ref):
        got = getattr(fused, name)
        assert got.shape == value.shape and got.shape[0] == NETWORKS, name
        assert relative_error(got, value, along=1) <= 1e-10, name


@pytest.mark.parametrize("config", CONFIGS[::2], ids=config_id)
@pytest.mark.parametrize("order,hessian,weights", CASES)
def test_float64_gradients_into_batched_params_and_x(config, order, hessian, weights):
    config = three_dims(config) if weights else config
    net = random_siren(**config)
    params = batched_params(net, NETWORKS, config["seed"])
    shared = config["seed"] % 2 == 1
    x = network_points(config, NETWORKS, 19, shared).requires_grad_(True)
    inputs = [x] + list(params.values())
    fused = siren_fused.jet(net, x, order, hessian, backend="fused", params=params, laplacian_weights=weights)
    ref = per_network_jets(net, params, x, order, hessian, weights)
    got = torch.autograd.grad(random_linear_loss(fused, config["seed"]), inputs)
    want = torch.autograd.grad(random_linear_loss(ref, config["seed"]), inputs)
    assert relative_error(got[0], want[0], along=0 if shared else 1) <= 1e-9, "x"
    for name, a, b in zip(params, got[1:], want[1:]):
        assert a.shape == b.shape and a.stride() == b.stride(), name
        assert relative_error(a, b, along=-1) <= 1e-9, name


@pytest.mark.parametrize("config", CONFIGS[1::3], ids=config_id)
@pytest.mark.parametrize("order,hessian,weights", CASES[1:])
def test_float32_error_bounded_by_reference_float32(config, order, hessian, weights):
    config = three_dims(config) if weights else config
    net64 = random_siren(**config)
    params64 = batched_params(net64, NETWORKS, config["seed"])
    net32 = copy.deepcopy(net64).float()
    params32 = {name: t.detach().float() for name, t in params64.items()}
    x64 = network_points(config, NETWORKS, 31, shared=False)
    with torch.no_grad():
        exact = per_network_jets(net64, params64, x64, order, hessian, weights)
        fused = siren_fused.jet(net32, x64.float(), order, hessian, backend="fused", params=params32,
                                laplacian_weights=weights)
        ref = per_network_jets(net32, params32, x64.float(), order, hessian, weights)
    for name, value in jet_fields(exact):
        assert_float32_bound(getattr(fused, name), getattr(ref, name), value, name, along=1)


def test_the_reference_backend_vmaps_over_the_networks():
    net = random_siren(2, 16, 2, 2, seed=3)
    params = batched_params(net, 4, seed=3)
    x = random_points(17, 2, seed=3)
    with torch.no_grad():
        vmapped = siren_fused.jet(net, x, 2, True, backend="reference", params=params)
        looped = per_network_jets(net, params, x, 2, True, None)
    for name, value in jet_fields(looped):
        assert relative_error(getattr(vmapped, name), value, along=1) <= 1e-12, name


def test_entries_left_out_or_unbatched_are_shared_and_get_the_summed_gradient():
    net = random_siren(2, 12, 1, 1, seed=5)
    hidden = "net.1.linear.weight"
    params = batched_params(net, 4, seed=5, names={hidden})
    params["net.2.linear.bias"] = torch.tensor([0.25], dtype=torch.float64, requires_grad=True)  # one, shared
    x = random_points(15, 2, seed=5)
    fused = siren_fused.jet(net, x, 2, backend="fused", params=params)
    ref = siren_fused.jet(net, x, 2, backend="reference", params=params)
    inputs = list(params.values()) + [net.net[0].linear.weight]
    got = torch.autograd.grad(random_linear_loss(fused, 5), inputs)
    want = torch.autograd.grad(random_linear_loss(ref, 5), inputs)
    for a, b in zip(got, want):
        assert relative_error(a, b, along=-1) <= 1e-9
    # Network 2 alone, as a plain net with its hidden weight and that bias loaded.
    single = copy.deepcopy(net)
    with torch.no_grad():
        single.net[1].linear.weight.copy_(params[hidden][2])
        single.net[2].linear.bias.copy_(params["net.2.linear.bias"])
    alone = siren_fused.jet(single, x, 2, backend="reference")
    for name, value in jet_fields(alone):
        assert relative_error(getattr(fused, name)[2], value) <= 1e-10, name


def test_unbatched_params_replace_the_nets_parameters():
    net = random_siren(3, 10, 1, 2, seed=8)
    other = random_siren(3, 10, 1, 2, seed=9)
    x = random_points(21, 3, seed=8)
    with torch.no_grad():
        swapped = siren_fused.jet(net, x, 2, True, backend="fused", params=dict(other.named_parameters()))
        direct = siren_fused.jet(other, x, 2, True, backend="reference")
    for name, value in jet_fields(direct):
        assert getattr(swapped, name).shape == value.shape
        assert relative_error(getattr(swapped, name), value) <= 1e-10, name


def test_one_output_order_one_takes_the_batched_reverse_mode_path():
    net = random_siren(2, 20, 2, 1, seed=13)
    params = batched_params(net, 5, seed=13)
    x = random_points(40, 2, seed=13).reshape(5, 8, 2).requires_grad_(True)
    assert uses_reverse_gradient(net, x, 1)
    fused = siren_fused.jet(net, x, 1, backend="fused", params=params)
    ref = per_network_jets(net, params, x, 1, False, None)
    inputs = [x] + list(params.values())
    got = torch.autograd.grad(random_linear_loss(fused, 13), inputs)
    want = torch.autograd.grad(random_linear_loss(ref, 13), inputs)
    for name, value in jet_fields(ref):
        assert relative_error(getattr(fused, name), value, along=1) <= 1e-10, name
    for a, b in zip(got, want):
        assert relative_error(a, b, along=-1) <= 1e-9


def test_emulated_cuda_kernels_take_batched_params(cuda_kernels):
    net64 = random_siren(2, 24, 2, 3, seed=17)
    params64 = batched_params(net64, 3, seed=17)
    net32 = copy.deepcopy(net64).float().to(cuda_kernels.device)
    params32 = {n: t.detach().float().to(cuda_kernels.device).requires_grad_(True) for n, t in params64.items()}
    x64 = random_points(50, 2, seed=17)
    x32 = x64.float().to(cuda_kernels.device)
    exact = per_network_jets(net64, params64, x64, 2, False, None)
    kernel = siren_fused.jet(net32, x32, 2, backend=cuda_kernels.backend, params=params32)
    ref = per_network_jets(net32, params32, x32, 2, False, None)
    for name, value in jet_fields(exact):
        assert_float32_bound(getattr(kernel, name).cpu(), getattr(ref, name).cpu(), value, name, along=1)
    got = torch.autograd.grad(random_linear_loss(kernel, 17), list(params32.values()))
    want = torch.autograd.grad(random_linear_loss(ref, 17), list(params32.values()))
    exact_grads = torch.autograd.grad(random_linear_loss(exact, 17), list(params64.values()))
    for name, a, b, c in zip(params64, got, want, exact_grads):
        assert_float32_bound(a.cpu(), b.cpu(), c, name, along=-1, floor=1e-5)


BAD_PARAMS = [
    (lambda net: [("net.0.linear.weight", net.net[0].linear.weight)], TypeError, "must map parameter names"),
    (lambda net: {"net.9.linear.weight": torch.zeros(3)}, ValueError, "not a parameter of the net"),
    (lambda net: {"net.0.linear.weight": "weights"}, TypeError, r"params\['net.0.linear.weight'\] must be a torch"),
    (lambda net: {"net.0.linear.weight": torch.zeros(4, 8, 3, dtype=torch.float64)}, ValueError,
     r"must be \[8, 2\] \(one network\) or \[B, 8, 2\]"),
    (lambda net: {"net.0.linear.weight": torch.zeros(0, 8, 2, dtype=torch.float64)}, ValueError, "B = 0"),
    (lambda net: {"net.0.linear.weight": torch.zeros(4, 8, 2, dtype=torch.float64),
                  "net.0.linear.bias": torch.zeros(3, 8, dtype=torch.float64)}, ValueError, "same number of networks"),
    (lambda net: {"net.0.linear.bias": torch.zeros(4, 8)}, TypeError, "must have x's dtype"),
]


@pytest.mark.parametrize("make,error,match", BAD_PARAMS)
@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_bad_params_name_the_entry(make, error, match, backend):
    net = random_siren(2, 8, 1, 1, seed=1)
    with pytest.raises(error, match=match):
        siren_fused.jet(net, random_points(5, 2, seed=1), 1, backend=backend, params=make(net))


@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_points_must_match_the_networks(backend):
    net = random_siren(2, 8, 1, 1, seed=1)
    params = batched_params(net, 4, seed=1)
    with pytest.raises(ValueError, match=r"\[4, N, 2\] \(the B = 4 networks of params\), got shape \[3, 5, 2\]"):
        siren_fused.jet(net, random_points(15, 2, seed=1).reshape(3, 5, 2), 1, backend=backend, params=params)
    with pytest.raises(ValueError, match=r"need batched params"):
        siren_fused.jet(net, random_points(15, 2, seed=1).reshape(3, 5, 2), 1, backend=backend)


def _op_arguments(networks: int, n: int = 9, hidden: int = 7, hidden_layers: int = 1):
    """x, weights, biases and omegas of `networks` networks 2 -> hidden x (hidden_layers + 1) -> 2."""
    net = random_siren(2, hidden, hidden_layers, 2, seed=3)
    params = batched_params(net, networks, seed=3)
    layers = hidden_layers + 2
    weights = [params[f"net.{l}.linear.weight"] for l in range(layers)]
    biases = [params[f"net.{l}.linear.bias"] for l in range(layers)]
    x = random_points(networks * n, 2, seed=3).reshape(networks, n, 2).requires_grad_(True)
    return x, weights, biases, [30.0] * layers


OP_ERRORS = [
    (lambda x, w, b: (x[0], w, b), r"x must be \[B, N, in_features\] with B = 3"),
    (lambda x, w, b: (x, [w[0], w[1][:2], w[2]], b), r"weights\[1\] must be \[B, out, 7\] with B = 3"),
    (lambda x, w, b: (x, w, [b[0], b[1], b[2][0]]), r"biases\[2\] must be \[B, 2\] with B = 3"),
    (lambda x, w, b: (x[:0], [t[:0] for t in w], [t[:0] for t in b]), "B = 0"),
]


@pytest.mark.parametrize("cut,match", OP_ERRORS)
def test_op_checks_name_the_batched_argument(cut, match):
    x, weights, biases, omegas = _op_arguments(3)
    x, weights, biases = cut(x.detach(), [w.detach() for w in weights], [b.detach() for b in biases])
    with pytest.raises(RuntimeError, match=match):
        torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 2, False, True, False)


@pytest.mark.parametrize("order,hessian", [(0, False), (1, False), (2, False), (2, True)])
def test_opcheck_batched_ops(order, hessian):
    x, weights, biases, omegas = _op_arguments(3)
    torch.library.opcheck(torch.ops.siren_fused.jet_forward.default,
                          (x, weights, biases, omegas, order, hessian, True, True))
    out, saved = torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, order, hessian, True, True)
    assert out.shape[0] == 3 and all(s.shape[0] == 3 for s in saved)
    torch.library.opcheck(torch.ops.siren_fused.jet_backward.default,
                          (torch.randn(out.shape, dtype=out.dtype), x.detach(), [w.detach() for w in weights],
                           [b.detach() for b in biases], omegas, order, hessian, True, saved, True))


def test_opcheck_batched_reverse_mode_ops():
    net = random_siren(2, 7, 1, 1, seed=6)
    params = batched_params(net, 2, seed=6)
    weights = [params[f"net.{l}.linear.weight"] for l in range(3)]
    biases = [params[f"net.{l}.linear.bias"] for l in range(3)]
    x = random_points(14, 2, seed=6).reshape(2, 7, 2).requires_grad_(True)
    arguments = (x, weights, biases, [30.0] * 3, True, True)
    torch.library.opcheck(torch.ops.siren_fused.gradient_forward.default, arguments)


def test_gradcheck_batched_forward_op():
    x, weights, biases, _ = _op_arguments(2, n=3, hidden=3, hidden_layers=0)
    omegas = [3.0, 2.0]  # small omegas keep finite differences accurate
    layers = len(weights)

    def packed_jet(x, *params):
        return torch.ops.siren_fused.jet_forward(x * 0.3, list(params[:layers]), list(params[layers:]), omegas, 2,
                                                 True, True, True)[0]

    assert torch.autograd.gradcheck(packed_jet, (x, *weights, *biases), fast_mode=True)


def test_compiled_hypernetwork_step_matches_eager():
    torch._dynamo.reset()
    net = random_siren(2, 16, 1, 1, seed=21, dtype=torch.float32)
    shapes = {name: p.shape for name, p in net.named_parameters()}
    hyper = torch.nn.Linear(4, sum(s.numel() for s in shapes.values()))
    torch.nn.init.normal_(hyper.weight, std=1e-3)
    with torch.no_grad():
        hyper.bias.copy_(torch.cat([p.detach().flatten() for p in net.parameters()]))
    latents = torch.randn(5, 4, generator=torch.Generator().manual_seed(21))
    x = random_points(64, 2, seed=21, dtype=torch.float32, scale=1.0)

    def loss(hyper, latents, x):
        flat = hyper(latents)
        params, start = {}, 0
        for name, shape in shapes.items():
            params[name] = flat[:, start:start + shape.numel()].unflatten(1, shape)
            start += shape.numel()
        j = siren_fused.jet(net, x, 2, params=params)
        return (j.laplacian ** 2).mean() + (j.value ** 2).mean()

    compiled = torch.compile(loss, fullgraph=True)
    eager_value = loss(hyper, latents, x)
    compiled_value = compiled(hyper, latents, x)
    eager_grads = torch.autograd.grad(eager_value, list(hyper.parameters()))
    compiled_grads = torch.autograd.grad(compiled_value, list(hyper.parameters()))
    torch.testing.assert_close(compiled_value, eager_value, rtol=1e-5, atol=1e-7)
    for a, b in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_vmap_over_functional_call_becomes_one_batched_call():
    net = random_siren(2, 10, 1, 2, seed=22)
    params = batched_params(net, 3, seed=22)
    x = random_points(12, 2, seed=22)

    class Laplacian(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, points):
            return siren_fused.jet(self.net, points, 2, backend="fused").laplacian

    def laplacian(p, points):
        return torch.func.functional_call(Laplacian(), {f"net.{name}": t for name, t in p.items()}, (points,))

    mapped = torch.func.vmap(laplacian, in_dims=(0, None))(params, x)
    batched = siren_fused.jet(net, x, 2, backend="fused", params=params).laplacian
    torch.testing.assert_close(mapped, batched, rtol=0, atol=0)
    grads = torch.autograd.grad(mapped.sum(), list(params.values()))
    want = torch.autograd.grad(batched.sum(), list(params.values()))
    for a, b in zip(grads, want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_networks_too_large_to_group_take_chunks_of_their_own_tiles():
    """At 90,000 points a network's order-1 jet (66 tiles of 1,365 points) is past the 4M elements a chunk of
    grouped networks may take: each network then runs in chunks of its own tiles, as one network alone does."""
    net = random_siren(2, 16, 1, 2, seed=31)
    params = batched_params(net, 2, seed=31)
    x = random_points(180_000, 2, seed=31, scale=1.0).reshape(2, 90_000, 2).requires_grad_(True)
    batched = siren_fused.jet(net, x, 1, backend="fused", params=params)
    singles = [siren_fused.jet(net, x[b], 1, backend="fused", params={n: t[b] for n, t in params.items()})
               for b in range(2)]
    for name, value in jet_fields(batched):
        for b in range(2):
            torch.testing.assert_close(value[b], getattr(singles[b], name), rtol=1e-13, atol=0)
    sample = slice(None, None, 97)  # the torch.func reference at every 97th point
    ref = per_network_jets(net, params, x[:, sample], 1, False, None)
    for name, value in jet_fields(ref):
        assert relative_error(getattr(batched, name)[:, sample], value, along=1) <= 1e-10, name
    got = torch.autograd.grad(random_linear_loss(batched, 31), list(params.values()))
    want = torch.autograd.grad(random_linear_loss(siren_fused.Jet(*(torch.stack([j[i] for j in singles])
                                                                    if singles[0][i] is not None else None
                                                                    for i in range(4))), 31),
                               list(params.values()))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
