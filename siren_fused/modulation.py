"""siren-pytorch's modulation (``SirenNet.forward(x, mods)``) as ``params`` for :func:`siren_fused.jet`.

siren-pytorch multiplies hidden layer k's sine output by a per-feature factor m_k. The next layer then
computes ``W (m_k * h) + b = (W diag(m_k)) h + b``: the same network with that layer's weight columns scaled.
So the modulated network's jet is the plain jet with those weights passed as ``params``, through the fused
kernels (or the reference), and differentiable with respect to the factors and the weights alike.

This is not the FiLM modulation of :mod:`siren_fused.film` (functa's, a shift and scale of the pre-activation inside
the sine): a factor on the sine's output cannot be moved inside the sine, so it stays a change of the next weights.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Union

import torch

from .modules import Siren

Mods = Union[torch.Tensor, Sequence[Optional[torch.Tensor]]]


def modulated_params(net: Siren, mods: Mods) -> Dict[str, torch.Tensor]:
    """``params`` that make ``siren_fused.jet(net, x, params=...)`` the jet of siren-pytorch's
    ``SirenNet.forward(x, mods)``, for ``net = Siren.from_module(siren_net)``.

    Args:
        net: the :class:`siren_fused.Siren`.
        mods: one factor per hidden (sine) layer, in order, each ``[hidden_features]``, or ``[B, hidden_features]``
            for B networks (say B latents through siren-pytorch's ``SirenWrapper`` modulator), or None for a
            layer left as it is; or one tensor for every such layer, as siren-pytorch takes it.

    Returns:
        The weights of the layers after the modulated ones, by name as ``params`` takes them; a batched factor
        makes its weight batched ``[B, out, in]``.

    Example, siren-pytorch's ``net(x, mods)`` with its gradient and Laplacian::

        fused = siren_fused.Siren.from_module(siren_net)
        j = siren_fused.jet(fused, x, order=2, params=siren_fused.modulated_params(fused, mods))
    """
    sine_layers = len(net.layers) - 1
    if isinstance(mods, torch.Tensor):
        mods = [mods] * sine_layers
    if isinstance(mods, (str, bytes)) or not isinstance(mods, Sequence):
        raise TypeError(f"mods must be a tensor or a sequence of tensors or None, got {type(mods).__name__}")
    if len(mods) != sine_layers:
        raise ValueError(f"mods must have one entry per hidden layer ({sine_layers}), got {len(mods)}")
    params = {}
    for index, mod in enumerate(mods):
        if mod is None:
            continue
        weight = net.layers[index + 1].linear.weight
        hidden = weight.shape[1]
        if not isinstance(mod, torch.Tensor):
            raise TypeError(f"mods[{index}] must be a tensor or None, got {type(mod).__name__}")
        if mod.dim() not in (1, 2) or mod.shape[-1] != hidden:
            raise ValueError(f"mods[{index}] must be [{hidden}] or [B, {hidden}] (the net's hidden_features), got "
                             f"shape {list(mod.shape)}")
        if (mod.dtype, mod.device) != (weight.dtype, weight.device):
            raise ValueError(f"mods[{index}] is {mod.dtype} on {mod.device} but the net's weights are {weight.dtype} "
                             f"on {weight.device}")
        params[f"net.{index + 1}.linear.weight"] = weight * mod.unsqueeze(-2)
    return params
