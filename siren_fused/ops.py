"""Python side of the torch.library ops: fake (meta) kernels and autograd registration.

The ops themselves (schemas and CPU/CUDA kernels) are declared in ``csrc/ops.cpp``:

* ``siren_fused::jet_forward(x, weights, biases, omegas, order, hessian, outermost_linear, save,
  laplacian_weights=None)`` returns the packed jet ``[components, N, out]`` and, when ``save``, the
  pre-activation jets; with ``laplacian_weights`` (D floats, order 2 without the Hessian) its
  Laplacian component is the weighted sum ``sum_k a_k d2/dx_k^2``;
* ``siren_fused::jet_backward(grad_out, x, weights, biases, omegas, order, hessian,
  outermost_linear, saved, input_grad, laplacian_weights=None)`` returns the gradients of x, the
  weights and the biases.

* ``siren_fused::gradient_forward(x, weights, biases, omegas, outermost_linear, save)`` is the
  reverse-mode alternative for order 1 and one output: value ``[N, 1]``, gradient ``[N, D]`` and,
  when ``save``, what ``siren_fused::gradient_backward(grad_value, grad_grad, x, weights, biases,
  omegas, outermost_linear, saved, input_grad)`` takes back.

In a build without CUDA, ``siren_fused::cuda_emulated_jet_forward`` / ``cuda_emulated_jet_backward``
are the CUDA kernels run by the host emulation on CPU float32 tensors, with the same signatures and the
same registrations here: a test facility (``siren_fused.jet(..., backend="cuda_emulated")``), slow by
design.

``torch.func.vmap`` over the points is supported (the batch folds into N); vmap over the weights
(a batch of networks) raises.

Differentiating either forward op once (any loss on value, gradient, Laplacian or Hessian, with
respect to x and the parameters) is supported; differentiating a backward op again is not.
"""

from __future__ import annotations

from typing import List, Sequence

import torch

from . import _extension

_extension.require()


def component_count(in_dims: int, order: int, hessian: bool) -> int:
    """Components of a packed jet: value, tangents, then the Laplacian or packed Hessian."""
    second = 0 if order < 2 else (in_dims * (in_dims + 1) // 2 if hessian else 1)
    return 1 + (in_dims if order >= 1 else 0) + second


def saved_shapes(x: torch.Tensor, weights: Sequence[torch.Tensor], order: int, hessian: bool,
                 outermost_linear: bool) -> List[List[int]]:
    """Shapes of the pre-activation jets the forward keeps: [tiles, components, tile_rows, width], with the
    leading B for a batch of networks (x [B, N, D], weights [B, out, in])."""
    components = component_count(x.shape[-1], order, hessian)
    max_width = max([x.shape[-1]] + [d for w in weights for d in w.shape[-2:]])
    rows = _extension.require().jet_tile_rows(components, max_width)
    tiles = (x.shape[-2] + rows - 1) // rows
    sine_layers = weights[:-1] if outermost_linear else weights
    return [list(x.shape[:-2]) + [tiles, components, rows, w.shape[-2]] for w in sine_layers]


# (forward, backward) op pairs of the forward-mode jet: the kernels of the build, and the emulated
# CUDA kernels where the build has them.
JET_OPS = [("jet_forward", "jet_backward")]
if _extension.cuda_emulated():
    JET_OPS.append(("cuda_emulated_jet_forward", "cuda_emulated_jet_backward"))


def _jet_forward_fake(x, weights, biases, omegas, order, hessian, outermost_linear, save, laplacian_weights=None):
    batched = weights[0].dim() == 3  # B networks: x [B, N, D], as the kernels' check_jet_args tells them
    expected = "[B, N, in_features]" if batched else "[N, in_features]"
    torch._check(x.dim() == 2 + batched, lambda: f"x must be {expected}, got {list(x.shape)}")
    torch._check(0 <= order <= 2, lambda: f"order must be 0, 1 or 2, got {order}")
    if laplacian_weights is not None:
        torch._check(order == 2 and not hessian, lambda: "laplacian_weights needs order=2 and hessian=False, got "
                                                          f"order={order} and hessian={hessian}")
        torch._check(len(laplacian_weights) == x.shape[-1],
                     lambda: f"laplacian_weights must have one entry per input dimension ({x.shape[-1]}), "
                             f"got {len(laplacian_weights)}")
    out = x.new_empty(*x.shape[:-2], component_count(x.shape[-1], order, hessian), x.shape[-2],
                      weights[-1].shape[-2])
    saved = [x.new_empty(s) for s in saved_shapes(x, weights, order, hessian, outermost_linear)] if save else []
    return out, saved


def _jet_backward_fake(grad_out, x, weights, biases, omegas, order, hessian, outermost_linear, saved, input_grad,
                       laplacian_weights=None):
    return torch.empty_like(x), [torch.empty_like(w) for w in weights], [torch.empty_like(b) for b in biases]


def gradient_saved_shapes(x: torch.Tensor, weights: Sequence[torch.Tensor], outermost_linear: bool) -> List[List[int]]:
    """Shapes of what gradient_forward keeps: z of each sine layer, then p of each layer below the last."""
    n = x.shape[0]
    sine_layers = weights[:-1] if outermost_linear else weights
    return [[n, w.shape[0]] for w in sine_layers] + [[n, w.shape[0]] for w in weights[:-1]]


@torch.library.register_fake("siren_fused::gradient_forward")
def _gradient_forward_fake(x, weights, biases, omegas, outermost_linear, save):
    torch._check(x.dim() == 2, lambda: f"x must be [N, in_features], got {list(x.shape)}")
    torch._check(weights[-1].shape[0] == 1, lambda: "the reverse-mode gradient takes a net with one output")
    saved = [x.new_empty(s) for s in gradient_saved_shapes(x, weights, outermost_linear)] if save else []
    return x.new_empty(x.shape[0], 1), x.new_empty(x.shape), saved


@torch.library.register_fake("siren_fused::gradient_backward")
def _gradient_backward_fake(grad_value, grad_grad, x, weights, biases, omegas, outermost_linear, saved, input_grad):
    return torch.empty_like(x), [torch.empty_like(w) for w in weights], [torch.empty_like(b) for b in biases]


def _keep_for_backward(ctx, x, weights, biases, saved, save: bool, config: tuple) -> None:
    ctx.layers = len(weights)
    ctx.config = config
    ctx.saved_jet = bool(save)
    # The saved tensors are outputs only so that backward can have them: unmarked, or with
    # materialised gradients, autograd fills a zero gradient for each (hundreds of MB) every time.
    ctx.mark_non_differentiable(*saved)
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(x, *weights, *biases, *saved)


def _kept_for_backward(ctx, op: str):
    """(x, weights, biases, saved) as _keep_for_backward stored them."""
    if not ctx.saved_jet:
        raise RuntimeError(f"siren_fused::{op} ran with save=False, so it cannot be differentiated; "
                           "call it through siren_fused.jet, which saves when autograd needs it")
    tensors = ctx.saved_tensors
    n = ctx.layers
    return tensors[0], list(tensors[1 : 1 + n]), list(tensors[1 + n : 1 + 2 * n]), list(tensors[1 + 2 * n :])


def _jet_forward_setup_context(ctx, inputs, output):
    x, weights, biases, omegas, order, hessian, outermost_linear, save, laplacian_weights = inputs
    _keep_for_backward(ctx, x, weights, biases, output[1], save,
                       (omegas, order, hessian, outermost_linear, laplacian_weights))
    # inputs has every argument, defaults filled in, but backward answers for those the dispatcher passed,
    # which leaves out a trailing argument left at its default (laplacian_weights=None).
    ctx.passed_arguments = len(inputs) - (laplacian_weights is None)


def _jet_forward_backward(forward: str, backward: str):
    """The autograd formula of the jet forward op `forward`, through its backward op."""
    backward_op = getattr(torch.ops.siren_fused, backward)

    def formula(ctx, grad_out, grad_saved):
        x, weights, biases, saved = _kept_for_backward(ctx, forward)
        omegas, order, hessian, outermost_linear, laplacian_weights = ctx.config
        no_gradients = (None,) * (ctx.passed_arguments - 3)  # omegas and the other non-tensor arguments
        if grad_out is None:  # nothing downstream used the jet
            return (None, [None] * ctx.layers, [None] * ctx.layers) + no_gradients
        grad_x, grad_w, grad_b = backward_op(
            grad_out, x, weights, biases, omegas, order, hessian, outermost_linear, saved, ctx.needs_input_grad[0],
            laplacian_weights
        )
        return ((grad_x if ctx.needs_input_grad[0] else None), grad_w, grad_b) + no_gradients

    return formula


def _gradient_forward_setup_context(ctx, inputs, output):
    x, weights, biases, omegas, outermost_linear, save = inputs
    _keep_for_backward(ctx, x, weights, biases, output[2], save, (omegas, outermost_linear))


def _gradient_forward_backward(ctx, grad_value, grad_grad, grad_saved):
    x, weights, biases, saved = _kept_for_backward(ctx, "gradient_forward")
    omegas, outermost_linear = ctx.config
    if grad_value is None and grad_grad is None:  # nothing downstream used the outputs
        return None, [None] * ctx.layers, [None] * ctx.layers, None, None, None
    grad_value = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device) if grad_value is None else grad_value
    grad_grad = torch.zeros_like(x) if grad_grad is None else grad_grad
    grad_x, grad_w, grad_b = torch.ops.siren_fused.gradient_backward(
        grad_value, grad_grad, x, weights, biases, omegas, outermost_linear, saved, ctx.needs_input_grad[0]
    )
    return (grad_x if ctx.needs_input_grad[0] else None), grad_w, grad_b, None, None, None


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


def _folded_points(in_dims, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """x with vmap's batch folded into the points: ([batch * N, D], batch, N). Raises if vmap
    also maps the weights or biases."""
    x_dim, weight_dims, bias_dims = in_dims[0], in_dims[1], in_dims[2]
    if any(d is not None for d in list(weight_dims) + list(bias_dims)):
        raise NotImplementedError(
            "siren_fused: torch.func.vmap over the network's weights or biases (a batch of networks) is not "
            "supported; vmap over the points x only, or call siren_fused.jet once per network"
        )
    points = x.movedim(x_dim, 0)
    batch, n = points.shape[0], points.shape[1]
    return points.reshape(batch * n, points.shape[2]), batch, n


def _jet_forward_vmap(forward: str):
    """The vmap rule of the jet forward op `forward`: the batch folds into the points."""
    forward_op = getattr(torch.ops.siren_fused, forward)

    def rule(info, in_dims, x, weights, biases, omegas, order, hessian, outermost_linear, save,
             laplacian_weights=None):
        points, batch, n = _folded_points(in_dims, x)
        packed, saved = forward_op(points, weights, biases, omegas, order, hessian, outermost_linear, save,
                                   laplacian_weights)
        return (packed.unflatten(1, (batch, n)), saved), (1, [None] * len(saved))

    return rule


def _gradient_forward_vmap(info, in_dims, x, weights, biases, omegas, outermost_linear, save):
    points, batch, n = _folded_points(in_dims, x)
    value, grad, saved = torch.ops.siren_fused.gradient_forward(points, weights, biases, omegas, outermost_linear,
                                                                save)
    return (value.unflatten(0, (batch, n)), grad.unflatten(0, (batch, n)), saved), (0, 0, [None] * len(saved))


torch.library.register_vmap("siren_fused::gradient_forward", _gradient_forward_vmap)

for _forward, _backward in JET_OPS:
    torch.library.register_fake(f"siren_fused::{_forward}", _jet_forward_fake)
    torch.library.register_fake(f"siren_fused::{_backward}", _jet_backward_fake)
    torch.library.register_autograd(f"siren_fused::{_forward}", _jet_forward_backward(_forward, _backward),
                                    setup_context=_jet_forward_setup_context)
    torch.library.register_autograd(f"siren_fused::{_backward}", _backward_backward,
                                    setup_context=_backward_setup_context)
    torch.library.register_vmap(f"siren_fused::{_forward}", _jet_forward_vmap(_forward))
