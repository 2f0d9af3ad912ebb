"""The ``params`` argument of :func:`siren_fused.jet`: parameters to use in place of a net's own.

Like ``torch.func.functional_call``, ``params`` maps names from ``net.named_parameters()`` to tensors.
Each tensor has its parameter's shape (it replaces that parameter for one network) or one more, leading
dimension B: then it holds B networks' values of that parameter, and the jet is B networks' jets, as a
hypernetwork that predicts B SIRENs' weights needs. Every batched entry has the same B; entries given
unbatched, and parameters not given at all, are shared by the B networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

import torch

from .modules import Siren

Params = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class NetworkParams:
    """A net's parameters with ``params`` applied, checked.

    tensors: every parameter of the net by name, from ``params`` where given, else the net's own.
    batched: the names whose tensors carry the leading B.
    networks: B, or None for one network (no batched entry).
    """

    tensors: Dict[str, torch.Tensor]
    batched: frozenset
    networks: Optional[int]

    def layer_tensors(self, net: Siren) -> tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Each layer's weight and bias, in layer order; with B networks, every one ``[B, ...]`` (shared
        ones expanded, a view: autograd sums their gradients over the networks)."""
        names = {id(p): name for name, p in net.named_parameters()}

        def of(parameter: torch.Tensor) -> torch.Tensor:
            name = names[id(parameter)]
            tensor = self.tensors[name]
            if self.networks is not None and name not in self.batched:
                tensor = tensor.expand(self.networks, *tensor.shape)
            return tensor

        layers = net.layers
        return [of(layer.linear.weight) for layer in layers], [of(layer.linear.bias) for layer in layers]


def checked_params(net: Siren, params: Optional[Params], x: torch.Tensor) -> Optional[NetworkParams]:
    """``params`` checked against the net's parameters and x's dtype and device (a clear error naming
    the entry otherwise); None stays None (the net's own parameters)."""
    if params is None:
        return None
    own = dict(net.named_parameters())
    if not isinstance(params, Mapping):
        raise TypeError(f"params must map parameter names to tensors (like torch.func.functional_call), got "
                        f"{type(params).__name__}")
    tensors = dict(own)
    batched = {}
    for name, tensor in params.items():
        if name not in own:
            raise ValueError(f"params has {name!r}, which is not a parameter of the net; its parameters are "
                             f"{list(own)}")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"params[{name!r}] must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dtype != x.dtype or tensor.device != x.device:
            raise TypeError(f"params[{name!r}] must have x's dtype {x.dtype} on {x.device}, got {tensor.dtype} on "
                            f"{tensor.device}")
        shape = tuple(own[name].shape)
        if tuple(tensor.shape) == shape:
            tensors[name] = tensor
        elif tensor.dim() == len(shape) + 1 and tuple(tensor.shape[1:]) == shape:
            if tensor.shape[0] == 0:
                raise ValueError(f"params[{name!r}] holds B = 0 networks ({list(tensor.shape)}); a batch of "
                                 "networks needs B >= 1")
            tensors[name] = tensor
            batched[name] = tensor.shape[0]
        else:
            raise ValueError(f"params[{name!r}] must be {list(shape)} (one network) or [B, {', '.join(map(str, shape))}] "
                             f"(B networks), got {list(tensor.shape)}")
    sizes = set(batched.values())
    if len(sizes) > 1:
        raise ValueError(f"every batched entry of params must hold the same number of networks B, got "
                         f"{dict(batched)}")
    return NetworkParams(tensors, frozenset(batched), sizes.pop() if sizes else None)
