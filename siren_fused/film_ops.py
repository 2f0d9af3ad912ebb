"""Fake kernels, autograd and vmap of the modulated jet ops (schemas in ``csrc/ops.cpp``).

* ``siren_fused::modulated_jet_forward(x, weights, biases, shifts, scales, omegas, order, hessian,
  outermost_linear, save, laplacian_weights=None)``: the packed jet of a modulated SIREN (``jet_forward``'s
  outputs) with shared weights and biases, modulated per network (x ``[B, N, D]``, each shift ``[B, width]``)
  or per point (x ``[N, D]``, each shift ``[N, width]``); ``scales`` empty or shaped like ``shifts``;
* ``siren_fused::modulated_jet_backward(grad_out, x, weights, biases, shifts, scales, omegas, order, hessian,
  outermost_linear, saved, input_grad, laplacian_weights=None)``: the gradients of x, the weights, the biases,
  the shifts and the scales.

Where the emulated CUDA kernels are built, ``siren_fused::cuda_emulated_modulated_jet_forward`` / ``_backward`` are
the same ops run by the CUDA kernels under the host emulation (float32 CPU tensors), with the same registrations
here, as ``ops.py`` does for the plain jet.
"""

from __future__ import annotations

import torch

from . import _extension
from .ops import _kept_for_backward, _keep_for_backward, _save_under_vmap, component_count, register_op_pair, \
    saved_shapes

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


def _modulated_jet_backward_fake(grad_out, x, weights, biases, shifts, scales, omegas, order, hessian,
                                 outermost_linear, saved, input_grad, laplacian_weights=None):
    return (torch.empty_like(x), [torch.empty_like(w) for w in weights], [torch.empty_like(b) for b in biases],
            [torch.empty_like(s) for s in shifts], [torch.empty_like(s) for s in scales])


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
            ctx.needs_input_grad[0], laplacian_weights)
        return ((grad_x if ctx.needs_input_grad[0] else None), grad_w, grad_b, grad_shifts, grad_scales) + \
            no_gradients

    return formula


def _modulated_vmap(forward: str):
    """The vmap rule of the modulated jet forward op `forward`: a loop over the mapped dimension, one op call per
    index, stacked, correct for any mapped argument. A batch of modulated networks is the op's own B
    (x [B, N, D]), which is what to use for speed."""
    forward_op = getattr(torch.ops.siren_fused, forward)

    def rule(info, in_dims, x, weights, biases, shifts, scales, omegas, order, hessian, outermost_linear, save,
             laplacian_weights=None):
        groups = (x, weights, biases, shifts, scales)
        save = _save_under_vmap(save, x, weights, [*biases, *shifts, *scales])

        def at(t, d, i):
            return t if d is None else t.select(d, i)

        def arguments(i):
            return [at(x, in_dims[0], i)] + [[at(t, d, i) for t, d in zip(group, dims)]
                                             for group, dims in zip(groups[1:], in_dims[1:5])]

        results = [forward_op(*arguments(i), omegas, order, hessian, outermost_linear, save, laplacian_weights)
                   for i in range(info.batch_size)]
        packed = torch.stack([r[0] for r in results])
        saved = [torch.stack([r[1][k] for r in results]) for k in range(len(results[0][1]))]
        return (packed, saved), (0, [0] * len(saved))

    return rule


for _forward, _backward in MODULATED_JET_OPS:
    register_op_pair(_forward, _backward, _modulated_jet_forward_fake, _modulated_jet_backward_fake,
                     _modulated_backward(_forward, _backward), _setup_context, _modulated_vmap(_forward))
