"""Orders 3 and 4 (``siren_fused.operator_jet``): the directional jet's fields and the gradients of a loss
on them, fused CPU kernels against nested torch.func (float64 to 1e-9 relative; float32 within twice the
float32 reference's own error); the Hessian diagonal against the full Hessian; the plan's costs; the
ops as PyTorch citizens; and the errors."""

from __future__ import annotations

import copy
import random

import pytest
import torch

import siren_fused
from conftest import assert_float32_bound, op_arguments, random_points, random_siren, relative_error
from siren_fused.operator_plan import checked_operators, monomials, plan_operators

TOLERANCE = 1e-9

# Networks over the ranges the issue asks for: widths 16-256, 1-3 hidden layers, D 1-3, 1-2 outputs,
# first omegas up to 3000, sine or linear last layer.
NETWORKS = [
    dict(in_features=1, hidden=16, hidden_layers=1, out_features=1, first_omega_0=30.0, hidden_omega_0=30.0),
    dict(in_features=2, hidden=64, hidden_layers=2, out_features=2, first_omega_0=3000.0, hidden_omega_0=30.0),
    dict(in_features=3, hidden=33, hidden_layers=3, out_features=1, first_omega_0=10.0, hidden_omega_0=5.0,
         outermost_linear=False),
    dict(in_features=2, hidden=256, hidden_layers=3, out_features=1, first_omega_0=30.0, hidden_omega_0=30.0),
    dict(in_features=3, hidden=128, hidden_layers=1, out_features=2, first_omega_0=3000.0, hidden_omega_0=1.0),
]


def random_operator(in_dims: int, max_order: int, seed: int) -> dict:
    """Every partial of order 0 to max_order with a random coefficient of either sign."""
    rng = random.Random(seed)
    return {alpha: rng.uniform(-2.0, 2.0) for k in range(max_order + 1) for alpha in monomials(in_dims, k)}


def operator_sets(in_dims: int, seed: int) -> dict:
    """Operator sets covering each kind: the biharmonic with the Laplacian, separate pure and mixed
    third- and fourth-order terms, a random operator with every partial up to order 4, one up to order 3."""
    axis = lambda k, n: tuple(n * (i == k) for i in range(in_dims))  # noqa: E731
    mixed = tuple(2 if i < 2 else 0 for i in range(in_dims)) if in_dims >= 2 else axis(0, 4)
    return {
        "biharmonic": {"bih": siren_fused.biharmonic(in_dims), "lap": siren_fused.laplacian_operator(in_dims)},
        "separate": {"u_xxx": {axis(0, 3): 1.0}, "u_xxxx": {axis(0, 4): 1.0}, "u_xxyy": {mixed: 1.0},
                     "u_last_xxxx": {axis(in_dims - 1, 4): 1.0}},
        "random4": {"op": random_operator(in_dims, 4, seed)},
        "random3": {"op": random_operator(in_dims, 3, seed + 1), "u_x": {axis(0, 1): 1.0}},
    }


def network_id(config: dict) -> str:
    return (f"D{config['in_features']}-{config['hidden']}x{config['hidden_layers']}-{config['out_features']}"
            f"-w{config['first_omega_0']:g}")


def fields_of(j) -> dict:
    out = {"value": j.value, "grad": j.grad}
    out.update({f"field {name}": field for name, field in j.fields.items()})
    return out


def with_loss_gradients(net, x, backend: str, operators: dict, seed: int) -> dict:
    """The operator jet's fields at x and the gradients of a fixed random linear loss on them with respect
    to x and every parameter of net."""
    xr = x.detach().requires_grad_(True)
    out = fields_of(siren_fused.operator_jet(net, xr, operators, backend=backend))
    g = torch.Generator().manual_seed(seed)
    loss = sum((field * torch.randn(field.shape, generator=g, dtype=torch.float64).to(field)).sum()
               for field in out.values())
    leaves = [xr] + list(net.parameters())
    names = ["grad x"] + [f"grad {name}" for name, _ in net.named_parameters()]
    out.update(zip(names, torch.autograd.grad(loss, leaves, allow_unused=True, materialize_grads=True)))
    return out


@pytest.mark.parametrize("kind", ["biharmonic", "separate", "random4", "random3"])
@pytest.mark.parametrize("config", NETWORKS, ids=network_id)
def test_float64_fields_and_gradients_match_nested_torch_func(config, kind):
    seed = len(network_id(config)) + len(kind)
    net = random_siren(**config, seed=seed)
    operators = operator_sets(config["in_features"], seed)[kind]
    x = random_points(9, config["in_features"], seed=seed, scale=1.0)
    fused = with_loss_gradients(net, x, "fused", operators, seed)
    exact = with_loss_gradients(net, x, "reference", operators, seed)
    assert fused.keys() == exact.keys()
    for name, value in fused.items():
        along = -1 if name.startswith("grad net.") else 0
        assert relative_error(value, exact[name], along) <= TOLERANCE, name


@pytest.mark.parametrize("config", NETWORKS[1:4], ids=network_id)
def test_float32_within_twice_the_float32_reference_error(config):
    net64 = random_siren(**config, seed=5)
    operators = operator_sets(config["in_features"], 5)["biharmonic"]
    x = random_points(13, config["in_features"], seed=5, scale=1.0)
    ref64 = with_loss_gradients(net64, x, "reference", operators, 5)
    net32 = copy.deepcopy(net64).float()
    fused32 = with_loss_gradients(net32, x.float(), "fused", operators, 5)
    ref32 = with_loss_gradients(net32, x.float(), "reference", operators, 5)
    for name, value in fused32.items():
        assert value.dtype == torch.float32, name
        along = -1 if name.startswith("grad net.") else 0
        # The floor: the kernels sum the GEMMs' width (and parameter gradients' stacked rows) in their own order.
        assert_float32_bound(value, ref32[name], ref64[name], name, along, floor=1e-5)


@pytest.mark.parametrize("in_features", [1, 2, 3])
def test_hessian_diagonal_matches_the_full_hessian_and_costs_less(in_features):
    net = random_siren(in_features, 32, 2, 2, seed=in_features)
    x = random_points(21, in_features, seed=in_features).requires_grad_(True)
    diagonal = siren_fused.operator_jet(net, x, siren_fused.hessian_diagonal(in_features), backend="fused")
    full = siren_fused.jet(net, x, 2, hessian=True, backend="fused")
    expected = torch.diagonal(full.hessian, dim1=-2, dim2=-1)
    for k, field in enumerate(diagonal.fields.values()):
        assert relative_error(field, expected[..., k]) <= 1e-12
    assert relative_error(diagonal.grad, full.grad) <= 1e-12
    plan = plan_operators(checked_operators(siren_fused.hessian_diagonal(in_features), in_features), in_features)
    assert plan.components == 1 + 2 * in_features
    hessian_components = 1 + in_features + in_features * (in_features + 1) // 2
    assert plan.components < hessian_components or in_features < 3
    leaves = [x] + list(net.parameters())
    weights = torch.randn(in_features, dtype=torch.float64)
    got = torch.autograd.grad(sum(w * f.sum() for w, f in zip(weights, diagonal.fields.values())), leaves)
    want = torch.autograd.grad((expected * weights).sum(), leaves, allow_unused=True, materialize_grads=True)
    for i, (a, b) in enumerate(zip(got, want)):
        assert relative_error(a, b, -1 if i else 0) <= 1e-10, f"gradient {i}"


def test_separate_terms_add_up_to_the_collapsed_operator():
    """u_xxxx + 2 u_xxyy + u_yyyy as three fields equals the biharmonic as one (the plans differ)."""
    net = random_siren(2, 48, 2, 1, seed=3)
    x = random_points(31, 2, seed=3)
    parts = siren_fused.operator_jet(net, x, {"xxxx": {(4, 0): 1.0}, "xxyy": {(2, 2): 1.0}, "yyyy": {(0, 4): 1.0}})
    whole = siren_fused.operator_jet(net, x, {"bih": siren_fused.biharmonic(2)})
    total = parts.fields["xxxx"] + 2 * parts.fields["xxyy"] + parts.fields["yyyy"]
    assert relative_error(total, whole.fields["bih"]) <= 1e-10


@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_without_the_gradient_the_same_fields_come_from_fewer_components(backend):
    """u_xxxx of a 2-D net needs only the x axis: 5 components, where the gradient adds the y axis's 3."""
    net = random_siren(2, 32, 2, 2, seed=5)
    x = random_points(23, 2, seed=5)
    operators = {"u_xxxx": {(4, 0): 1.0}, "u_xx": {(2, 0): -0.5}}
    alone = siren_fused.operator_jet(net, x, operators, backend=backend, gradient=False)
    with_gradient = siren_fused.operator_jet(net, x, operators, backend=backend)
    assert alone.grad is None and with_gradient.grad is not None
    for name in operators:
        assert relative_error(alone.fields[name], with_gradient.fields[name]) <= 1e-12, name
    assert relative_error(alone.value, with_gradient.value) <= 1e-14
    checked = checked_operators(operators, 2)
    assert (plan_operators(checked, 2, gradient=False).components, plan_operators(checked, 2).components) == (5, 8)


@pytest.mark.parametrize("in_features,components", [(1, 5), (2, 11), (3, 20)])
def test_biharmonic_plan_costs_what_the_docstring_says(in_features, components):
    plan = plan_operators(checked_operators({"bih": siren_fused.biharmonic(in_features)}, in_features), in_features)
    assert plan.order == 4 and plan.components == components and len(plan.top_weights) == 1


def test_opcheck_of_the_directional_ops():
    net = random_siren(2, 16, 1, 2, seed=7)
    x, weights, biases, omegas = op_arguments(net, random_points(9, 2, seed=7), requires_grad=True)
    plan = plan_operators(checked_operators({"bih": siren_fused.biharmonic(2)}, 2), 2)
    directional = ([a for v in plan.directions for a in v], [w for row in plan.top_weights for w in row])
    torch.library.opcheck(torch.ops.siren_fused.jet_forward.default,
                          (x, weights, biases, omegas, 4, False, True, True, None, *directional))
    packed, saved = torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 4, False, True, True, None,
                                                      *directional)
    torch.library.opcheck(torch.ops.siren_fused.jet_backward.default,
                          (torch.randn_like(packed), x.detach(), [w.detach() for w in weights],
                           [b.detach() for b in biases], omegas, 4, False, True, [s.detach() for s in saved], True,
                           None, *directional))


def _biharmonic_loss(net, x, target):
    return ((siren_fused.operator_jet(net, x, {"bih": siren_fused.biharmonic(2)}).fields["bih"] - target) ** 2).mean()


def test_compiled_biharmonic_loss_without_graph_breaks_matches_eager():
    """fullgraph: the plan is a constant to dynamo and the ops trace through their fake kernels and autograd.
    aot_eager, not inductor: what is tested is the tracing, and inductor's CPU codegen takes minutes here."""
    net = random_siren(2, 32, 1, 1, seed=11, dtype=torch.float32)
    x = random_points(40, 2, seed=11, dtype=torch.float32, scale=1.0)
    target = torch.randn(40, 1)
    eager = _biharmonic_loss(net, x, target)
    eager_grads = torch.autograd.grad(eager, list(net.parameters()))
    compiled = torch.compile(_biharmonic_loss, fullgraph=True, backend="aot_eager")(net, x, target)
    compiled_grads = torch.autograd.grad(compiled, list(net.parameters()))
    assert relative_error(compiled, eager) <= 1e-6
    for a, b in zip(compiled_grads, eager_grads):
        assert relative_error(a, b, -1) <= 1e-5


def test_vmap_over_points_matches_one_call():
    net = random_siren(2, 24, 2, 1, seed=13)
    x = random_points(24, 2, seed=13).reshape(3, 8, 2)
    operators = {"uxxx": {(3, 0): 1.0}, "bih": siren_fused.biharmonic(2)}
    mapped = torch.func.vmap(lambda xi: siren_fused.operator_jet(net, xi, operators).fields["bih"])(x)
    whole = siren_fused.operator_jet(net, x.reshape(24, 2), operators).fields["bih"]
    assert relative_error(mapped.reshape(24, 1), whole) <= 1e-12


@pytest.mark.parametrize("operators,message", [
    ({"u": {(5, 0): 1.0}}, "order at most 4"),
    ({"u": {(1, 0, 0): 1.0}}, "tuple of 2 non-negative ints"),
    ({"u": {(2, -1): 1.0}}, "non-negative"),
    ({"u": {(2, 0): float("nan")}}, "must be finite"),
    ({"u": {(1, 0): 1.0}}, "siren_fused.jet"),
    ({"u": {}}, "non-empty"),
    ({}, "non-empty"),
    ({f"u{k}": {(4, 0): float(k + 1)} for k in range(17)}, "limit of 16"),
])
def test_bad_operators_raise_naming_the_argument_and_limit(operators, message):
    net = random_siren(2, 16, 1, 1, seed=1)
    with pytest.raises((ValueError, TypeError), match=message):
        siren_fused.operator_jet(net, random_points(4, 2, seed=1), operators)


def test_ops_reject_bad_directions_naming_the_limit():
    net = random_siren(2, 16, 1, 1, seed=1)
    x, weights, biases, omegas = op_arguments(net, random_points(4, 2, seed=1), requires_grad=False)
    with pytest.raises(RuntimeError, match="needs order 2 to 4"):
        torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 5, False, True, False, None, [1.0, 0.0], [1.0])
    with pytest.raises(RuntimeError, match="R x D numbers"):
        torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 4, False, True, False, None, [1.0, 0.0, 1.0],
                                          [1.0])
    with pytest.raises(RuntimeError, match="M x R numbers"):
        torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 4, False, True, False, None, [1.0, 0.0],
                                          [1.0] * 17)
    with pytest.raises(RuntimeError, match="orders 3 and 4 need directions"):
        torch.ops.siren_fused.jet_forward(x, weights, biases, omegas, 3, False, True, False)
