"""Python side of the torch.library ops: fake (meta) kernels and autograd registration.

The ops themselves (schemas and CPU/CUDA kernels) are declared in ``csrc/ops.cpp``:

* ``siren_fused::jet_forward(x, weights, biases, omegas, order, hessian, outermost_linear, save,
  laplacian_weights=None, directions=None, top_weights=None)`` returns the packed jet
  ``[components, N, out]`` and, when ``save``, the pre-activation jets; with ``laplacian_weights``
  (D floats, order 2 without the Hessian) its Laplacian component is the weighted sum
  ``sum_k a_k d2/dx_k^2``; with ``directions`` (R x D floats, flattened) and ``top_weights``
  (M x R) it is a directional jet of order 2 to 4 (``csrc/taylor_jet.h``: the value, the R
  directions' derivatives below the order, then M weighted sums of their derivatives of the order);
* ``siren_fused::jet_backward(grad_out, x, weights, biases, omegas, order, hessian,
  outermost_linear, saved, input_grad, laplacian_weights=None, directions=None, top_weights=None,
  parameter_grads=None)`` returns the gradients of x, the weights and the biases.

* ``siren_fused::gradient_forward(x, weights, biases, omegas, outermost_linear, save)`` is the
  reverse-mode alternative for order 1 and one output: value ``[N, 1]``, gradient ``[N, D]`` and,
  when ``save``, what ``siren_fused::gradient_backward(grad_value, grad_grad, x, weights, biases,
  omegas, outermost_linear, saved, input_grad, parameter_grads=None)`` takes back.

Every backward op computes x's gradient where ``input_grad`` and each weight's, then each bias's, where
``parameter_grads`` (2L flags; None: all) says so: one not asked for (a frozen parameter) comes back as an
empty tensor, and the kernels skip its work, the weight-gradient GEMMs above all. The autograd formulas
pass what ``ctx.needs_input_grad`` says.

The modulated SIRENs' ops are registered in ``film_ops.py``.

Where the separate extension ``siren_fused._C_cuda_emulated`` is built (``SIREN_FUSED_CUDA_EMULATION=1``),
``siren_fused::cuda_emulated_jet_forward`` / ``cuda_emulated_jet_backward`` are the CUDA kernels run by the
host emulation on CPU float32 tensors, with the same signatures and the same registrations here: a test
facility (``siren_fused.jet(..., backend="cuda_emulated")``), slow by design.

Every op also takes a batch of B networks: weights ``[B, out, in]``, biases ``[B, out]`` and x
``[B, N, D]``; then its outputs, saved tensors and gradients gain the leading B (``siren_fused.jet``'s
``params``). ``torch.func.vmap`` over the points folds the batch into N; vmap over the weights or biases
(a batch of networks, e.g. ``functional_call`` under vmap) becomes one batched call.

Differentiating either forward op once (any loss on value, gradient, Laplacian or Hessian, with
respect to x and the parameters) is supported; differentiating a backward op again is not.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch

from . import _extension
from .operator_plan import MAX_DIRECTIONS, MAX_TOP_FIELDS

_extension.require()


def component_count(in_dims: int, order: int, hessian: bool, directions: Optional[Sequence[float]] = None,
                    top_weights: Optional[Sequence[float]] = None) -> int:
    """Components of a packed jet: value, tangents, then the Laplacian or packed Hessian; for a
    directional jet, value, the R directions' derivatives of orders 1 to order - 1, then M top fields."""
    if directions is not None:
        count = len(directions) // in_dims
        return 1 + (order - 1) * count + len(top_weights or ()) // count
    second = 0 if order < 2 else (in_dims * (in_dims + 1) // 2 if hessian else 1)
    return 1 + (in_dims if order >= 1 else 0) + second


def network_batch(weights: Sequence[torch.Tensor]) -> List[int]:
    """[B] for a batch of B networks (weights [B, out, in]), [] for one network: the leading shape of
    every output."""
    return list(weights[0].shape[:1]) if weights[0].dim() == 3 else []


def saved_shapes(x: torch.Tensor, weights: Sequence[torch.Tensor], order: int, hessian: bool,
                 outermost_linear: bool, directions: Optional[Sequence[float]] = None,
                 top_weights: Optional[Sequence[float]] = None) -> List[List[int]]:
    """Shapes of the pre-activation jets the forward keeps: [tiles, components, tile_rows, width]
    (with the leading B of a batch of networks)."""
    components = component_count(x.shape[-1], order, hessian, directions, top_weights)
    max_width = max([x.shape[-1]] + [d for w in weights for d in w.shape[-2:]])
    rows = _extension.require().jet_tile_rows(components, max_width)
    tiles = (x.shape[-2] + rows - 1) // rows
    sine_layers = weights[:-1] if outermost_linear else weights
    return [network_batch(weights) + [tiles, components, rows, w.shape[-2]] for w in sine_layers]


# (forward, backward) op pairs of the forward-mode jet: the kernels of the build, and the emulated
# CUDA kernels where the build has them.
JET_OPS = [("jet_forward", "jet_backward")]
if _extension.cuda_emulated():
    JET_OPS.append(("cuda_emulated_jet_forward", "cuda_emulated_jet_backward"))


def _jet_forward_fake(x, weights, biases, omegas, order, hessian, outermost_linear, save, laplacian_weights=None,
                      directions=None, top_weights=None):
    batch = network_batch(weights)
    torch._check(x.dim() == 2 + len(batch), lambda: f"x must be [{'B, ' * len(batch)}N, in_features], got "
                                                    f"{list(x.shape)}")
    if directions is not None:
        _check_directional(x.shape[-1], order, directions, top_weights)
    else:
        torch._check(0 <= order <= 2, lambda: f"order must be 0, 1 or 2, got {order}")
    if laplacian_weights is not None:
        torch._check(order == 2 and not hessian, lambda: "laplacian_weights needs order=2 and hessian=False, got "
                                                          f"order={order} and hessian={hessian}")
        torch._check(len(laplacian_weights) == x.shape[-1],
                     lambda: f"laplacian_weights must have one entry per input dimension ({x.shape[-1]}), "
                             f"got {len(laplacian_weights)}")
    components = component_count(x.shape[-1], order, hessian, directions, top_weights)
    out = x.new_empty(batch + [components, x.shape[-2], weights[-1].shape[-2]])
    saved = ([x.new_empty(s) for s in saved_shapes(x, weights, order, hessian, outermost_linear, directions,
                                                   top_weights)] if save else [])
    return out, saved


def _check_directional(in_dims: int, order: int, directions: Sequence[float],
                       top_weights: Optional[Sequence[float]]) -> None:
    """The kernels' checks of a directional jet's order, directions and top weights (jet_args.cpp)."""
    torch._check(2 <= order <= 4, lambda: f"a directional jet (directions given) needs order 2 to 4, got order={order}")
    torch._check(len(directions) % in_dims == 0 and 1 <= len(directions) // in_dims <= MAX_DIRECTIONS,
                 lambda: f"directions must hold R x D numbers (D = {in_dims} input dimensions, 1 <= R <= "
                         f"{MAX_DIRECTIONS}), got {len(directions)}")
    count = len(directions) // in_dims
    top = len(top_weights or ())
    torch._check(top % count == 0 and top // count <= MAX_TOP_FIELDS,
                 lambda: f"top_weights must hold M x R numbers (R = {count} directions, 0 <= M <= {MAX_TOP_FIELDS}), "
                         f"got {top}")


def parameter_grads_like(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
                         parameter_grads: Optional[Sequence[bool]]) -> tuple[list, list]:
    """What a backward op returns for the weights and biases: a gradient shaped like each one asked for, an
    empty tensor for each one not (the fake kernels' answer)."""
    parameters = [*weights, *biases]
    wanted = [True] * len(parameters) if parameter_grads is None else parameter_grads
    grads = [torch.empty_like(p) if w else p.new_empty(0) for p, w in zip(parameters, wanted)]
    return grads[: len(weights)], grads[len(weights) :]


def parameter_grads_wanted(ctx) -> List[bool]:
    """The backward op's parameter_grads for an autograd formula: whether each weight, then each bias, of the
    forward needs a gradient (not for a frozen one)."""
    return [*ctx.needs_input_grad[1], *ctx.needs_input_grad[2]]


def parameter_grads_for_autograd(ctx, grad_w: Sequence[torch.Tensor], grad_b: Sequence[torch.Tensor]) -> tuple:
    """A backward op's weight and bias gradients as an autograd formula returns them: None where not asked for
    (the op's empty tensor)."""
    return tuple([g if w else None for g, w in zip(grads, wanted)]
                 for grads, wanted in ((grad_w, ctx.needs_input_grad[1]), (grad_b, ctx.needs_input_grad[2])))


def _jet_backward_fake(grad_out, x, weights, biases, omegas, order, hessian, outermost_linear, saved, input_grad,
                       laplacian_weights=None, directions=None, top_weights=None, parameter_grads=None):
    return (torch.empty_like(x),) + parameter_grads_like(weights, biases, parameter_grads)


def gradient_saved_shapes(x: torch.Tensor, weights: Sequence[torch.Tensor], outermost_linear: bool,
                          scaled: bool = False) -> List[List[int]]:
    """Shapes of what gradient_forward keeps: z of each sine layer, then p of each layer below the last
    (with the leading B of a batch of networks, or of x [B, N, D] for modulated networks); with a modulation's
    scales (modulated_gradient_forward), then the unmodulated z and then p of each layer below the last."""
    rows = list(x.shape[:-1]) if x.dim() == 3 else network_batch(weights) + [x.shape[-2]]
    sine_layers = weights[:-1] if outermost_linear else weights
    below_last = [rows + [w.shape[-2]] for w in weights[:-1]]
    return [rows + [w.shape[-2]] for w in sine_layers] + below_last * (3 if scaled else 1)


@torch.library.register_fake("siren_fused::gradient_forward")
def _gradient_forward_fake(x, weights, biases, omegas, outermost_linear, save):
    batch = network_batch(weights)
    torch._check(x.dim() == 2 + len(batch), lambda: f"x must be [{'B, ' * len(batch)}N, in_features], got "
                                                    f"{list(x.shape)}")
    torch._check(weights[-1].shape[-2] == 1, lambda: "the reverse-mode gradient takes a net with one output")
    saved = [x.new_empty(s) for s in gradient_saved_shapes(x, weights, outermost_linear)] if save else []
    return x.new_empty(list(x.shape[:-1]) + [1]), x.new_empty(x.shape), saved


@torch.library.register_fake("siren_fused::gradient_backward")
def _gradient_backward_fake(grad_value, grad_grad, x, weights, biases, omegas, outermost_linear, saved, input_grad,
                            parameter_grads=None):
    return (torch.empty_like(x),) + parameter_grads_like(weights, biases, parameter_grads)


def _keep_for_backward(ctx, x, weights, biases, saved, save: bool, config: tuple, modulations=()) -> None:
    ctx.layers = len(weights)
    ctx.modulations = len(modulations)
    ctx.config = config
    ctx.saved_jet = bool(save)
    # The saved tensors are outputs only so that backward can have them: unmarked, or with
    # materialised gradients, autograd fills a zero gradient for each (hundreds of MB) every time.
    ctx.mark_non_differentiable(*saved)
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(x, *weights, *biases, *modulations, *saved)


def _kept_for_backward(ctx, op: str):
    """(x, weights, biases, saved) as _keep_for_backward stored them; the modulations, if any, lead saved."""
    if not ctx.saved_jet:
        raise RuntimeError(f"siren_fused::{op} ran with save=False, so it cannot be differentiated; "
                           "call it through siren_fused.jet, which saves when autograd needs it")
    tensors = ctx.saved_tensors
    n = ctx.layers
    return tensors[0], list(tensors[1 : 1 + n]), list(tensors[1 + n : 1 + 2 * n]), list(tensors[1 + 2 * n :])


def _jet_forward_setup_context(ctx, inputs, output):
    x, weights, biases, omegas, order, hessian, outermost_linear, save, *optional = inputs
    _keep_for_backward(ctx, x, weights, biases, output[1], save,
                       (omegas, order, hessian, outermost_linear, *optional))
    # inputs has every argument, defaults filled in, but backward answers for those the dispatcher passed,
    # which leaves out the trailing arguments left at their default (laplacian_weights, directions and
    # top_weights: None).
    defaulted = 0
    while defaulted < len(optional) and optional[len(optional) - 1 - defaulted] is None:
        defaulted += 1
    ctx.passed_arguments = len(inputs) - defaulted


def _jet_forward_backward(forward: str, backward: str):
    """The autograd formula of the jet forward op `forward`, through its backward op."""
    backward_op = getattr(torch.ops.siren_fused, backward)

    def formula(ctx, grad_out, grad_saved):
        x, weights, biases, saved = _kept_for_backward(ctx, forward)
        omegas, order, hessian, outermost_linear, laplacian_weights, directions, top_weights = ctx.config
        no_gradients = (None,) * (ctx.passed_arguments - 3)  # omegas and the other non-tensor arguments
        if grad_out is None:  # nothing downstream used the jet
            return (None, [None] * ctx.layers, [None] * ctx.layers) + no_gradients
        grad_x, grad_w, grad_b = backward_op(
            grad_out, x, weights, biases, omegas, order, hessian, outermost_linear, saved, ctx.needs_input_grad[0],
            laplacian_weights, directions, top_weights, parameter_grads_wanted(ctx)
        )
        return ((grad_x if ctx.needs_input_grad[0] else None),) + parameter_grads_for_autograd(ctx, grad_w, grad_b) + \
            no_gradients

    return formula


def _gradient_forward_setup_context(ctx, inputs, output):
    x, weights, biases, omegas, outermost_linear, save = inputs
    _keep_for_backward(ctx, x, weights, biases, output[2], save, (omegas, outermost_linear))


def upstream_of_value_and_gradient(x: torch.Tensor, grad_value: Optional[torch.Tensor],
                                   grad_grad: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The upstream gradients of a reverse-mode gradient op's value and gradient outputs, zeros for the one
    (of the two) that nothing downstream used: the backward op takes both."""
    grad_value = x.new_zeros(list(x.shape[:-1]) + [1]) if grad_value is None else grad_value
    return grad_value, torch.zeros_like(x) if grad_grad is None else grad_grad


def _gradient_forward_backward(ctx, grad_value, grad_grad, grad_saved):
    x, weights, biases, saved = _kept_for_backward(ctx, "gradient_forward")
    omegas, outermost_linear = ctx.config
    if grad_value is None and grad_grad is None:  # nothing downstream used the outputs
        return None, [None] * ctx.layers, [None] * ctx.layers, None, None, None
    grad_value, grad_grad = upstream_of_value_and_gradient(x, grad_value, grad_grad)
    grad_x, grad_w, grad_b = torch.ops.siren_fused.gradient_backward(
        grad_value, grad_grad, x, weights, biases, omegas, outermost_linear, saved, ctx.needs_input_grad[0],
        parameter_grads_wanted(ctx)
    )
    return ((grad_x if ctx.needs_input_grad[0] else None),) + parameter_grads_for_autograd(ctx, grad_w, grad_b) + \
        (None, None, None)


def _backward_setup_context(ctx, inputs, output):
    pass


def _backward_backward(ctx, *grads):
    raise RuntimeError(
        "siren_fused supports one differentiation of a jet (gradients of a loss on value, gradient, Laplacian "
        "or Hessian with respect to x and the parameters); differentiating that backward again is not "
        "supported. Use backend='reference' for higher-order gradients."
    )


torch.library.register_autograd("siren_fused::gradient_forward", _gradient_forward_backward,
                                setup_context=_gradient_forward_setup_context)
torch.library.register_autograd("siren_fused::gradient_backward", _backward_backward,
                                setup_context=_backward_setup_context)


def _mapped_networks(info, in_dims, x: torch.Tensor, weights, biases):
    """The arguments of one call for vmap's batch: ``(x, weights, biases, unflatten)``.

    vmap over the points only folds the batch into N (``unflatten`` splits an output's N again); vmap
    over any weight or bias makes the batch a batch of networks (``unflatten`` is None), shared
    tensors expanded to it."""
    x_dim, weight_dims, bias_dims = in_dims[0], in_dims[1], in_dims[2]
    if any(t.dim() - (d is not None) == 3 for t, d in zip(weights, weight_dims)):
        raise NotImplementedError("siren_fused: torch.func.vmap over a call that already takes a batch of networks "
                                  "(weights [B, out, in]) is not supported; fold the vmapped dimension into B")
    if all(d is None for d in list(weight_dims) + list(bias_dims)):
        points = x.movedim(x_dim, 0)
        batch, n = points.shape[0], points.shape[1]
        return points.reshape(batch * n, points.shape[2]), weights, biases, (batch, n)

    def batched(t: torch.Tensor, d) -> torch.Tensor:
        return t.expand(info.batch_size, *t.shape) if d is None else t.movedim(d, 0)

    return (batched(x, x_dim), [batched(w, d) for w, d in zip(weights, weight_dims)],
            [batched(b, d) for b, d in zip(biases, bias_dims)], None)


def _save_under_vmap(save: bool, x: torch.Tensor, weights, biases) -> bool:
    """Whether the call under vmap must save for backward. Inside vmap, the caller (siren_fused.jet) sees
    batched wrappers that do not report requires_grad; the rule sees the tensors themselves."""
    return save or (torch.is_grad_enabled() and any(t.requires_grad for t in [x, *weights, *biases]))


def _jet_forward_vmap(forward: str):
    """The vmap rule of the jet forward op `forward` (see _mapped_networks)."""
    forward_op = getattr(torch.ops.siren_fused, forward)

    def rule(info, in_dims, x, weights, biases, omegas, order, hessian, outermost_linear, save,
             laplacian_weights=None, directions=None, top_weights=None):
        x, weights, biases, unflatten = _mapped_networks(info, in_dims, x, weights, biases)
        packed, saved = forward_op(x, weights, biases, omegas, order, hessian, outermost_linear,
                                   _save_under_vmap(save, x, weights, biases), laplacian_weights, directions,
                                   top_weights)
        if unflatten is None:
            return (packed, saved), (0, [0] * len(saved))
        return (packed.unflatten(1, unflatten), saved), (1, [None] * len(saved))

    return rule


def _gradient_forward_vmap(info, in_dims, x, weights, biases, omegas, outermost_linear, save):
    x, weights, biases, unflatten = _mapped_networks(info, in_dims, x, weights, biases)
    value, grad, saved = torch.ops.siren_fused.gradient_forward(x, weights, biases, omegas, outermost_linear,
                                                                _save_under_vmap(save, x, weights, biases))
    if unflatten is None:
        return (value, grad, saved), (0, 0, [0] * len(saved))
    return (value.unflatten(0, unflatten), grad.unflatten(0, unflatten), saved), (0, 0, [None] * len(saved))


torch.library.register_vmap("siren_fused::gradient_forward", _gradient_forward_vmap)

def register_op_pair(forward: str, backward: str, forward_fake, backward_fake, formula, setup_context,
                     vmap_rule) -> None:
    """Registers a (forward, backward) op pair: both ops' fake kernels, the forward's autograd formula and
    vmap rule, and the backward op as not differentiable again."""
    torch.library.register_fake(f"siren_fused::{forward}", forward_fake)
    torch.library.register_fake(f"siren_fused::{backward}", backward_fake)
    torch.library.register_autograd(f"siren_fused::{forward}", formula, setup_context=setup_context)
    torch.library.register_autograd(f"siren_fused::{backward}", _backward_backward,
                                    setup_context=_backward_setup_context)
    torch.library.register_vmap(f"siren_fused::{forward}", vmap_rule)


for _forward, _backward in JET_OPS:
    register_op_pair(_forward, _backward, _jet_forward_fake, _jet_backward_fake,
                     _jet_forward_backward(_forward, _backward), _jet_forward_setup_context,
                     _jet_forward_vmap(_forward))
