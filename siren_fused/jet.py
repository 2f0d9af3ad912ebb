"""The public jet API: value, Jacobian, Laplacian and Hessian of a SIREN at many points."""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Union

import torch

from . import _extension, film, reference
from .film import Modulation
from .jet_types import Jet
from .modules import Siren
from .network_params import NetworkParams, Params, checked_params

if _extension.load() is not None:
    from . import film_ops, ops  # noqa: F401  register the ops' fake kernels and autograd

BACKENDS = ("auto", "fused", "reference", "cuda_emulated")


def _check_arguments(net: torch.nn.Module, x: torch.Tensor, order: int, hessian: bool, backend: str) -> None:
    if not isinstance(net, Siren):
        raise TypeError(f"net must be a siren_fused.Siren, got {type(net).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if isinstance(order, bool) or order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
    if not isinstance(hessian, bool):
        raise TypeError(f"hessian must be a bool, got {type(hessian).__name__}")
    if hessian and order != 2:
        raise ValueError(f"hessian=True needs order=2, got order={order}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    param = net.layers[0].linear.weight
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor with the net's dtype {param.dtype}, got {x.dtype}")
    if x.dtype != param.dtype:
        raise TypeError(f"x has dtype {x.dtype} but the net's parameters are {param.dtype}; convert one of them")
    if x.device != param.device:
        raise ValueError(f"x is on {x.device} but the net's parameters are on {param.device}")


def _check_points(net: Siren, x: torch.Tensor, networks: Optional[int]) -> None:
    """x's shape: [N, in_features], or also [B, N, in_features] for B networks."""
    if networks is None:
        if x.dim() != 2 or x.shape[1] != net.in_features:
            raise ValueError(f"x must be [N, {net.in_features}] (the net's in_features), got shape {list(x.shape)}"
                             + ("; [B, N, in_features] points need batched params" if x.dim() == 3 else ""))
    elif not (x.shape[-1:] == (net.in_features,) and (x.dim() == 2 or (x.dim() == 3 and x.shape[0] == networks))):
        raise ValueError(f"x must be [N, {net.in_features}] (shared by the networks) or [{networks}, N, "
                         f"{net.in_features}] (the B = {networks} networks of params), got shape {list(x.shape)}")


LaplacianWeights = Union[Sequence[float], torch.Tensor]


def checked_laplacian_weights(laplacian_weights: Optional[LaplacianWeights], in_dims: int,
                              order: int) -> Optional[Tuple[float, ...]]:
    """``laplacian_weights`` as a tuple of D finite floats (None stays None), or a clear error."""
    if laplacian_weights is None:
        return None
    if order != 2:
        raise ValueError(f"laplacian_weights needs order=2, got order={order}")
    if isinstance(laplacian_weights, torch.Tensor):
        if laplacian_weights.requires_grad:
            raise TypeError("laplacian_weights are constants of the operator and get no gradient; pass a tensor "
                            "that does not require grad")
        if laplacian_weights.dim() != 1:
            raise ValueError(f"laplacian_weights must be 1-D with {in_dims} entries, got shape "
                             f"{list(laplacian_weights.shape)}")
        laplacian_weights = laplacian_weights.tolist()
    if isinstance(laplacian_weights, (str, bytes)) or not isinstance(laplacian_weights, Sequence):
        raise TypeError(f"laplacian_weights must be a sequence of {in_dims} numbers or a 1-D tensor, got "
                        f"{type(laplacian_weights).__name__}")
    if len(laplacian_weights) != in_dims:
        raise ValueError(f"laplacian_weights must have one entry per input dimension ({in_dims}), got "
                         f"{len(laplacian_weights)}")
    try:
        weights = tuple(float(a) for a in laplacian_weights)
    except (TypeError, ValueError):
        raise TypeError(f"laplacian_weights must hold numbers, got {list(laplacian_weights)!r}") from None
    if not all(math.isfinite(a) for a in weights):
        raise ValueError(f"laplacian_weights must be finite, got {list(weights)}")
    return weights


def fused_supports(x: torch.Tensor) -> bool:
    """Whether the compiled kernels handle x's device and dtype (what backend="auto" picks)."""
    if _extension.load() is None:
        return False
    if x.device.type == "cpu":
        return x.dtype in (torch.float32, torch.float64)
    if x.device.type == "cuda":
        return _extension.cuda_built() and x.dtype == torch.float32
    return False


def _check_cuda_emulated(x: torch.Tensor) -> None:
    """Raises unless backend="cuda_emulated" can take x: the emulated CUDA kernels built, x float32 on the CPU."""
    if not _extension.cuda_emulated():
        _extension.require()
        raise ValueError("backend='cuda_emulated' needs the emulated CUDA kernels, which build when asked: "
                         "SIREN_FUSED_CUDA_EMULATION=1 pip install --no-build-isolation -e .")
    if x.device.type != "cpu" or x.dtype != torch.float32:
        raise ValueError(f"backend='cuda_emulated' takes float32 CPU tensors (the CUDA kernels' dtype), got "
                         f"{x.dtype} on {x.device}")


def _check_fused_supports(x: torch.Tensor) -> None:
    """Raises unless backend="fused" can take x's device and dtype."""
    if not fused_supports(x):
        _extension.require()
        raise ValueError(
            f"backend='fused' supports float32/float64 on CPU and float32 on CUDA (when built with CUDA); "
            f"got {x.dtype} on {x.device}"
        )


def empty_cache() -> None:
    """Free the CPU buffers the fused kernels keep between calls.

    Training steps allocate the same saved jets and scratch every time; the CPU kernels keep up to
    1 GiB of them once autograd lets go, so the next step does not page-fault fresh memory. Like
    ``torch.cuda.empty_cache``, this frees only buffers no tensor is using.
    """
    module = _extension.load()
    if module is not None:
        module.empty_cache()


def _hessian_index(in_dims: int, device: torch.device) -> torch.Tensor:
    """For each (k, l) of a D x D Hessian, its entry in the packed upper triangle."""
    index = torch.empty(in_dims, in_dims, dtype=torch.long)
    entry = 0
    for k in range(in_dims):
        for l in range(k, in_dims):
            index[k, l] = index[l, k] = entry
            entry += 1
    return index.flatten().to(device)


def _unpack(packed: torch.Tensor, in_dims: int, order: int, hessian: bool,
            laplacian_weights: Optional[Tuple[float, ...]]) -> Jet:
    """[components, N, out] -> Jet of [N, out], [N, out, D], [N, out], [N, out, D, D] (a batch of
    networks' [B, components, N, out]: each field with the leading B). With the Hessian, the (weighted)
    Laplacian comes from its diagonal."""
    packed = packed.movedim(-3, 0)
    value = packed[0]
    if order == 0:
        return Jet(value)
    grad = packed[1 : 1 + in_dims].movedim(0, -1)
    if order == 1:
        return Jet(value, grad)
    second = packed[1 + in_dims :]
    if not hessian:
        return Jet(value, grad, second[0])
    full = second.index_select(0, _hessian_index(in_dims, packed.device))
    hess = full.unflatten(0, (in_dims, in_dims)).movedim((0, 1), (-2, -1))
    return Jet(value, grad, reference.weighted_trace(hess, laplacian_weights), hess)


def network_arguments(net: Siren, params: Optional[NetworkParams] = None
                      ) -> tuple[List[torch.Tensor], List[torch.Tensor], List[float]]:
    """The weights, biases and omegas of ``net`` as the ops take them (with ``params`` applied: then,
    for B networks, every weight [B, out, in] and bias [B, out])."""
    layers = net.layers
    omegas = [layer.omega_0 for layer in layers]
    if params is None:
        return [layer.linear.weight for layer in layers], [layer.linear.bias for layer in layers], omegas
    weights, biases = params.layer_tensors(net)
    return weights, biases, omegas


def uses_reverse_gradient(net: Siren, x: torch.Tensor, order: int) -> bool:
    """Whether the fused backend computes an order-1 jet in reverse mode (siren_fused::gradient_forward):
    for one output on the CPU, where it costs 2 GEMMs a layer forward and 4 backward, against
    1 + D and 2 (1 + D) for the forward-mode jet."""
    return order == 1 and net.out_features == 1 and x.device.type == "cpu"


def fused_jet(net: Siren, x: torch.Tensor, order: int = 2, hessian: bool = False, cuda_emulated: bool = False,
              laplacian_weights: Optional[Tuple[float, ...]] = None, params: Optional[NetworkParams] = None) -> Jet:
    """The jet from the compiled kernels, or from the emulated CUDA kernels (no argument checks:
    call :func:`jet`). A weighted Laplacian is one component of the kernels' jet, or, with the Hessian,
    its weighted trace. B networks' kernels take x [B, N, D]: shared points are expanded (a view, copied
    once by the kernels; autograd sums x's gradient over the networks)."""
    weights, biases, omegas = network_arguments(net, params)
    if params is not None and params.networks is not None and x.dim() == 2:
        x = x.expand(params.networks, *x.shape)
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in weights + biases))
    forward = torch.ops.siren_fused.cuda_emulated_jet_forward if cuda_emulated else torch.ops.siren_fused.jet_forward
    if not cuda_emulated and uses_reverse_gradient(net, x, order):
        value, grad, _ = torch.ops.siren_fused.gradient_forward(x, weights, biases, omegas, net.outermost_linear,
                                                                needs_grad)
        return Jet(value, grad.unsqueeze(-2))
    packed, _ = forward(x, weights, biases, omegas, order, hessian, net.outermost_linear, needs_grad,
                        None if hessian else laplacian_weights)
    return _unpack(packed, x.shape[-1], order, hessian, laplacian_weights)


def fused_modulated_jet(net: Siren, x: torch.Tensor, modulation: Modulation, order: int, hessian: bool,
                        laplacian_weights: Optional[Tuple[float, ...]], cuda_emulated: bool = False) -> Jet:
    """The modulated SIREN's jet from the compiled kernels, or from the emulated CUDA kernels (no argument
    checks: call :func:`jet`); order 1 of one output in reverse mode, as :func:`uses_reverse_gradient` decides
    for the plain net. Points shared by the networks are expanded (a view, copied once by the kernels)."""
    shifts, scales = modulation.tensors()
    if not modulation.per_point and x.dim() == 2:
        x = x.expand(modulation.networks, *x.shape)
    weights, biases, omegas = network_arguments(net)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in [x, *weights, *biases, *shifts, *scales])
    if not cuda_emulated and uses_reverse_gradient(net, x, order):
        value, grad, _ = torch.ops.siren_fused.modulated_gradient_forward(x, weights, biases, shifts, scales, omegas,
                                                                          net.outermost_linear, needs_grad)
        return Jet(value, grad.unsqueeze(-2))
    forward = (torch.ops.siren_fused.cuda_emulated_modulated_jet_forward if cuda_emulated
               else torch.ops.siren_fused.modulated_jet_forward)
    packed, _ = forward(x, weights, biases, shifts, scales, omegas, order, hessian, net.outermost_linear, needs_grad,
                        None if hessian else laplacian_weights)
    return _unpack(packed, x.shape[-1], order, hessian, laplacian_weights)


def jet(net: Siren, x: torch.Tensor, order: int = 2, hessian: bool = False, backend: str = "auto",
        laplacian_weights: Optional[LaplacianWeights] = None, params: Optional[Params] = None,
        modulation: Optional[Modulation] = None) -> Jet:
    """Value and derivatives of a SIREN at N points, in one forward pass; or of B SIRENs at once.

    Args:
        net: a :class:`siren_fused.Siren`.
        x: points ``[N, in_features]`` with the net's dtype and device (any strides); with B networks
            (batched ``params``) also ``[B, N, in_features]``, network b taking points ``x[b]``.
        order: 0 (value), 1 (value and Jacobian) or 2 (also the Laplacian).
        hessian: with ``order=2``, also return the full Hessian ``[N, out, in, in]``.
        backend: ``"fused"`` (the compiled kernels), ``"reference"`` (nested autograd),
            ``"auto"`` (fused where the extension supports x's device and dtype), or
            ``"cuda_emulated"``: the CUDA kernels run on the CPU by the emulation, a separate
            extension built when asked (``SIREN_FUSED_CUDA_EMULATION=1``; float32 CPU tensors). A test
            facility that checks the CUDA kernels without a GPU, far slower than ``"fused"``; never
            chosen by ``"auto"``.
        laplacian_weights: with ``order=2``, D finite numbers a_k (a sequence or a 1-D tensor, any
            signs) that make the ``laplacian`` field the weighted sum ``sum_k a_k d2f/dx_k^2``: the
            wave operator u_tt - c^2 (u_xx + u_yy) on inputs (t, x, y) is ``(1, -c**2, -c**2)``. It
            costs what the Laplacian costs (one jet component). With ``hessian=True`` the field is
            the Hessian's weighted trace. The weights are constants: they get no gradient.
        params: tensors to use in place of the net's parameters, by name from ``net.named_parameters()``
            (as ``torch.func.functional_call`` takes them; any subset). Each has its parameter's shape, or
            one more leading dimension B for B networks (every batched entry the same B >= 1; the others
            are shared): a hypernetwork's predicted weights, evaluated in one kernel call, no Python loop.
        modulation: a :class:`siren_fused.Modulation`: the net as a modulated SIREN (functa's FiLM shifts and
            scales of the hidden layers, see :mod:`siren_fused.film`), per network (each shift ``[B, width]``,
            x ``[N, in_features]`` shared or ``[B, N, in_features]``; every field gains the leading B) or per
            point (each shift ``[N, width]``). The networks share the net's parameters; gradients flow into them
            and into the modulation's tensors. Not with ``params``. The fused kernels take it wherever they take
            x (CPU, float32 CUDA, ``"cuda_emulated"``).

    Returns:
        :class:`Jet` ``(value, grad, laplacian, hessian)``; fields that were not asked for are None.
        With B networks every field has a leading B (``value`` ``[B, N, out]``, ...). Every field is
        differentiable with respect to the net's parameters (or the ``params`` tensors) and to ``x``
        when autograd is on. The fused backward computes only the gradients autograd needs: a frozen
        parameter (``requires_grad=False`` when the jet is computed) costs no gradient work, and nothing
        runs below the lowest layer anything is asked of (x frozen too): with every parameter frozen, a loss
        differentiated with respect to ``x`` skips every weight-gradient GEMM; with only the last layer
        trainable, the backward is that layer's alone.

    Example, eight SIRENs predicted by a hypernetwork, with their gradients and Laplacians at shared points::

        theta = {name: hyper(z, name) for name, _ in net.named_parameters()}  # each [8, *shape]
        j = siren_fused.jet(net, coords, order=2, params=theta)               # j.laplacian: [8, N, out]
    """
    _check_arguments(net, x, order, hessian, backend)
    if modulation is not None:
        return _modulated_jet(net, x, order, hessian, backend, laplacian_weights, params, modulation)
    network_params = checked_params(net, params, x)
    _check_points(net, x, None if network_params is None else network_params.networks)
    weights = checked_laplacian_weights(laplacian_weights, x.shape[-1], order)
    if backend == "cuda_emulated":
        _check_cuda_emulated(x)
        return fused_jet(net, x, order, hessian, cuda_emulated=True, laplacian_weights=weights, params=network_params)
    if backend == "reference" or (backend == "auto" and not fused_supports(x)):
        if network_params is not None:
            return reference.functional_jet(net, network_params.tensors, network_params.batched, x, order, hessian,
                                            weights)
        return reference.jet(net, x, order, hessian, weights)
    _check_fused_supports(x)
    return fused_jet(net, x, order, hessian, laplacian_weights=weights, params=network_params)


def _modulated_jet(net: Siren, x: torch.Tensor, order: int, hessian: bool, backend: str,
                   laplacian_weights: Optional[LaplacianWeights], params: Optional[Params],
                   modulation: Modulation) -> Jet:
    """:func:`jet` with a modulation, its arguments but the modulation's checked."""
    if params is not None:
        raise ValueError("params and modulation cannot be combined: a modulated SIREN's networks share the net's "
                         "parameters")
    film.check_modulation(net, modulation, x)
    weights = checked_laplacian_weights(laplacian_weights, x.shape[-1], order)
    if backend == "cuda_emulated":
        _check_cuda_emulated(x)
        return fused_modulated_jet(net, x, modulation, order, hessian, weights, cuda_emulated=True)
    if backend == "reference" or (backend == "auto" and not fused_supports(x)):
        return film.reference_jet(net, x, modulation, order, hessian, weights)
    _check_fused_supports(x)
    return fused_modulated_jet(net, x, modulation, order, hessian, weights)
