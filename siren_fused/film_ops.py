"""Fake kernels, autograd and vmap of the modulated jet ops (schemas in ``csrc/ops.cpp``).

* ``siren_fused::modulated_jet_forward(x, weights, biases, shifts, scales, omegas, order, hessian,
  outermost_linear, save, laplacian_weights=None)``: the packed jet of a modulated SIREN (``jet_forward``'s
  outputs) with shared weights and biases, modulated per network (x ``[B, N, D]``, each shift ``[B, width]``)
  or per point (x ``[N, D]``, each shift ``[N, width]``); ``scales`` empty or shaped like ``shifts``;
* ``siren_fused::modulated_jet_backward(grad_out, x, weights, biases, shifts, scales, omegas, order, hessian,
  outermost_linear, saved, input_grad, laplacian_weights=None, parameter_grads=None)``: the gradients of x, the
  weights and biases (those parameter_grads asks for, as in ``ops.py``), the shifts and the scales;
* ``siren_fused::modulated_gradient_forward(x, weights, biases, shifts, scales, omegas, outermost_linear, save)``
  and ``siren_fused::modulated_gradient_backward(grad_value, grad_grad, x, weights, biases, shifts, scales,
  omegas, outermost_linear, saved, input_grad, parameter_grads=None)``: the reverse-mode order 1 of a one-output modulated SIREN,
  ``gradient_forward``'s outputs and ``gradient_backward``'s gradients, then the shifts' and scales'.

Where the emulated CUDA kernels are built, ``siren_fused::cuda_emulated_modulated_jet_forward`` / ``_backward`` are
the modulated jet ops run by the CUDA kernels under the host emulation (float32 CPU tensors), with the same
registrations here, as ``ops.py`` does for the plain jet.
"""

from __future__ import annotations

import torch

from . import _extension
from .ops import _kept_for_backward, _keep_for_backward, _save_under_vmap, component_count, gradient_saved_shapes, \
    parameter_grads_for_autograd, parameter_grads_like, parameter_grads_wanted, register_op_pair, saved_shapes, \
    upstream_of_value_and_gradient

# (forward, backward) op pairs of the modulated jet: the kernels of the build, and the emulated CUDA kernels
# where the build has them.
MODULATED_JET_OPS = [("modulated_jet_forward", "modulated_jet_backward")]
if _extension.cuda_emulated():
    MODULATED_JET_OPS.append(("cuda_emulated_modulated_jet_forward", "cuda_emulated_modulated_jet_backward"))


def _points_batch(x: torch.Tensor) -> list:
    """[B] for modulations per network (x [B, N, D]), [] per point."""
    return list(x.shape[:1]) if x.dim() == 3 else []


def _modulated_jet_forward_fake(x, weights, biases, shifts, scales, omegas, order, hessian, outermost_linear, save,
                                laplacian_weights=None):
    torch._check(x.dim() in (2, 3), lambda: f"x must be [N, in_features] or [B, N, in_features], got {list(x.shape)}")
    torch._check(0 <= order <= 2, lambda: f"order must be 0, 1 or 2, got {order}")
    batch = _points_batch(x)
    out = x.new_empty(batch + [component_count(x.shape[-1], order, hessian), x.shape[-2], weights[-1].shape[-2]])
    saved = [x.new_empty(batch + s) for s in saved_shapes(x, weights, order, hessian, outermost_linear)] if save else []
    return out, saved


def _gradients_like(x, weights, biases, shifts, scales, parameter_grads):
    """What a modulated backward op returns: gradients shaped like x, the weights and biases asked for (empty
    for the others), the shifts and the scales."""
    return ((torch.empty_like(x),) + parameter_grads_like(weights, biases, parameter_grads) +
            ([torch.empty_like(s) for s in shifts], [torch.empty_like(s) for s in scales]))


def _modulated_jet_backward_fake(grad_out, x, weights, biases, shifts, scales, omegas, order, hessian,
                                 outermost_linear, saved, input_grad, laplacian_weights=None, parameter_grads=None):
    return _gradients_like(x, weights, biases, shifts, scales, parameter_grads)


def _setup_context(ctx, inputs, output):
    x, weights, biases, shifts, scales, omegas, order, hessian, outermost_linear, save, laplacian_weights = inputs
    _keep_for_backward(ctx, x, weights, biases, output[1], save,
                       (omegas, order, hessian, outermost_linear, laplacian_weights, len(shifts)), [*shifts, *scales])
    # As for jet_forward: backward answers for the arguments the dispatcher passed.
    ctx.passed_arguments = len(inputs) - (laplacian_weights is None)


def _modulated_backward(forward: str, backward: str):
    """The autograd formula of the modulated jet forward op `forward`, through its backward op."""
    backward_op = getattr(torch.ops.siren_fused, backward)

    def formula(ctx, grad_out, grad_saved):
        x, weights, biases, rest = _kept_for_backward(ctx, forward)
        omegas, order, hessian, outermost_linear, laplacian_weights, hidden = ctx.config
        shifts, scales, saved = rest[:hidden], rest[hidden : ctx.modulations], rest[ctx.modulations :]
        no_gradients = (None,) * (ctx.passed_arguments - 5)  # omegas and the other non-tensor arguments
        if grad_out is None:  # nothing downstream used the jet
            return (None, [None] * ctx.layers, [None] * ctx.layers, [None] * len(shifts), [None] * len(scales)) + \
                no_gradients
        grad_x, grad_w, grad_b, grad_shifts, grad_scales = backward_op(
            grad_out, x, weights, biases, shifts, scales, omegas, order, hessian, outermost_linear, saved,
            ctx.needs_input_grad[0], laplacian_weights, parameter_grads_wanted(ctx))
        return ((grad_x if ctx.needs_input_grad[0] else None),) + parameter_grads_for_autograd(ctx, grad_w, grad_b) + \
            (grad_shifts, grad_scales) + no_gradients

    return formula


def _modulated_gradient_forward_fake(x, weights, biases, shifts, scales, omegas, outermost_linear, save):
    torch._check(x.dim() in (2, 3), lambda: f"x must be [N, in_features] or [B, N, in_features], got {list(x.shape)}")
    torch._check(weights[-1].shape[-2] == 1, lambda: "the reverse-mode gradient takes a net with one output")
    saved = [x.new_empty(s) for s in gradient_saved_shapes(x, weights, outermost_linear, bool(scales))] if save else []
    return x.new_empty(list(x.shape[:-1]) + [1]), x.new_empty(x.shape), saved


def _modulated_gradient_backward_fake(grad_value, grad_grad, x, weights, biases, shifts, scales, omegas,
                                      outermost_linear, saved, input_grad, parameter_grads=None):
    return _gradients_like(x, weights, biases, shifts, scales, parameter_grads)


def _gradient_setup_context(ctx, inputs, output):
    x, weights, biases, shifts, scales, omegas, outermost_linear, save = inputs
    _keep_for_backward(ctx, x, weights, biases, output[2], save, (omegas, outermost_linear, len(shifts)),
                       [*shifts, *scales])


def _gradient_backward(ctx, grad_value, grad_grad, grad_saved):
    x, weights, biases, rest = _kept_for_backward(ctx, "modulated_gradient_forward")
    omegas, outermost_linear, hidden = ctx.config
    shifts, scales, saved = rest[:hidden], rest[hidden : ctx.modulations], rest[ctx.modulations :]
    no_gradients = (None,) * 3  # omegas, outermost_linear, save
    if grad_value is None and grad_grad is None:  # nothing downstream used the outputs
        return (None, [None] * ctx.layers, [None] * ctx.layers, [None] * len(shifts), [None] * len(scales)) + \
            no_gradients
    grad_value, grad_grad = upstream_of_value_and_gradient(x, grad_value, grad_grad)
    grad_x, grad_w, grad_b, grad_shifts, grad_scales = torch.ops.siren_fused.modulated_gradient_backward(
        grad_value, grad_grad, x, weights, biases, shifts, scales, omegas, outermost_linear, saved,
        ctx.needs_input_grad[0], parameter_grads_wanted(ctx))
    return ((grad_x if ctx.needs_input_grad[0] else None),) + parameter_grads_for_autograd(ctx, grad_w, grad_b) + \
        (grad_shifts, grad_scales) + no_gradients


def _looped_vmap(forward: str, save_position: int):
    """The vmap rule of the modulated forward op `forward` (its arguments x, weights, biases, shifts, scales,
    then the rest, `save` at save_position of the rest): a loop over the mapped dimension, one op call per index,
    every output stacked. Correct for any mapped argument; a batch of modulated networks is the op's own B
    (x [B, N, D]), which is what to use for speed."""
    forward_op = getattr(torch.ops.siren_fused, forward)

    def rule(info, in_dims, x, weights, biases, shifts, scales, *rest):
        groups = (x, weights, biases, shifts, scales)
        rest = list(rest)
        rest[save_position] = _save_under_vmap(rest[save_position], x, weights, [*biases, *shifts, *scales])

        def at(t, d, i):
            return t if d is None else t.select(d, i)

        def arguments(i):
            return [at(x, in_dims[0], i)] + [[at(t, d, i) for t, d in zip(group, dims)]
                                             for group, dims in zip(groups[1:], in_dims[1:5])]

        results = [forward_op(*arguments(i), *rest) for i in range(info.batch_size)]
        outputs, out_dims = [], []
        for k, first in enumerate(results[0]):
            if isinstance(first, torch.Tensor):
                outputs.append(torch.stack([r[k] for r in results]))
                out_dims.append(0)
            else:  # a list of tensors (the saved ones)
                outputs.append([torch.stack([r[k][j] for r in results]) for j in range(len(first))])
                out_dims.append([0] * len(first))
        return tuple(outputs), tuple(out_dims)

    return rule


for _forward, _backward in MODULATED_JET_OPS:
    register_op_pair(_forward, _backward, _modulated_jet_forward_fake, _modulated_jet_backward_fake,
                     _modulated_backward(_forward, _backward), _setup_context, _looped_vmap(_forward, 4))

register_op_pair("modulated_gradient_forward", "modulated_gradient_backward", _modulated_gradient_forward_fake,
                 _modulated_gradient_backward_fake, _gradient_backward, _gradient_setup_context,
                 _looped_vmap("modulated_gradient_forward", 2))
