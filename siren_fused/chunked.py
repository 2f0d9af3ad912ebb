"""Evaluating a network, or its jet, over more points than fit in memory at once.

The points go through the network a chunk at a time and each chunk's results are copied into outputs
allocated once, so peak memory is the outputs plus one chunk's working set, whatever the number of points.
A :class:`Grid` generates its points chunk by chunk too: the full-resolution bikes video (250 x 272 x 640
= 43.5 M points) takes 522 MB as a float32 ``[N, 3]`` tensor, a chunk of it a few hundred KB.

Bounded memory needs autograd off (``torch.no_grad()``, or a net and points that do not require grad):
with autograd on, the chunks' results are concatenated instead, differentiable as one unchunked call's,
and autograd then keeps every chunk's saved tensors, as one call would.
"""

from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch

from .jet import jet
from .jet_types import Jet
from .modules import Siren

Points = Union[torch.Tensor, "Grid"]
ChunkResult = Union[torch.Tensor, Jet]

# What one chunk's jet, one layer wide, may take: the kernels hold a layer's input and output jets and
# scratch of about that size, so a chunk's working set is a few times this (a few hundred MB).
JET_CHUNK_BYTES = 64 * 2 ** 20


class Grid:
    """The points of a regular grid, in row-major order, generated a chunk at a time.

    Axis ``k`` has ``shape[k]`` points evenly spaced from ``low`` to ``high`` (one point sits at ``low``);
    point ``i`` is at the multi-index ``numpy.unravel_index(i, shape)``, so values computed at the points
    reshape to ``shape`` (as ``values.reshape(*shape, -1)``).
    """

    def __init__(self, shape: Sequence[int], low: float = -1.0, high: float = 1.0,
                 dtype: torch.dtype = torch.float32, device: Union[str, torch.device] = "cpu") -> None:
        if len(shape) == 0 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape):
            raise ValueError(f"shape must be a non-empty sequence of positive ints, got {shape!r}")
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"low and high must be finite with low < high, got low={low!r}, high={high!r}")
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
        self.shape = tuple(shape)
        self.low, self.high = float(low), float(high)
        self.dtype = dtype
        self.device = torch.device(device)
        # In float64 first, so a float32 grid's coordinates are the exact ones rounded once.
        self.axes = [torch.linspace(low, high, n, dtype=torch.float64) for n in self.shape]

    def __len__(self) -> int:
        return math.prod(self.shape)

    @property
    def in_features(self) -> int:
        return len(self.shape)

    def points(self, start: int = 0, stop: Optional[int] = None) -> torch.Tensor:
        """Points ``start`` to ``stop`` (default: the last) as ``[stop - start, len(shape)]``."""
        stop = len(self) if stop is None else stop
        if not 0 <= start <= stop <= len(self):
            raise ValueError(f"start and stop must satisfy 0 <= start <= stop <= {len(self)}, got {start}, {stop}")
        flat = torch.arange(start, stop)
        columns = []
        for axis in reversed(self.axes):  # row-major: the last axis varies fastest
            columns.append(axis[flat % len(axis)])
            flat = flat // len(axis)
        return torch.stack(columns[::-1], dim=1).to(dtype=self.dtype, device=self.device)

    def __repr__(self) -> str:
        return f"Grid(shape={self.shape}, low={self.low}, high={self.high}, dtype={self.dtype}, device={self.device})"


def _check_chunking(points: Points, chunk_size: int, progress: bool) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    if isinstance(points, torch.Tensor):
        if points.dim() != 2:
            raise ValueError(f"points must be [N, in_features], got shape {list(points.shape)}")
    elif not isinstance(points, Grid):
        raise TypeError(f"points must be a torch.Tensor or a siren_fused.Grid, got {type(points).__name__}")


def _chunk(points: Points, start: int, stop: int) -> torch.Tensor:
    return points[start:stop] if isinstance(points, torch.Tensor) else points.points(start, stop)


def _progress_bar(total: int, enabled: bool, description: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as error:
        raise ModuleNotFoundError("progress=True needs tqdm: pip install tqdm") from error
    return tqdm(total=total, desc=description, unit="pt", unit_scale=True, dynamic_ncols=True)


def _fields(result: ChunkResult) -> Tuple[List[Optional[torch.Tensor]], bool]:
    """The result's tensors (a Jet's fields, None where not computed), and whether it is a Jet."""
    return (list(result), True) if isinstance(result, Jet) else ([result], False)


def _assemble(is_jet: bool, fields: List[Optional[torch.Tensor]]) -> ChunkResult:
    return Jet(*fields) if is_jet else fields[0]


def evaluate_in_chunks(function: Callable[[torch.Tensor], ChunkResult], points: Points, chunk_size: int,
                       progress: bool = False, description: str = "evaluating") -> ChunkResult:
    """``function(points)`` computed ``chunk_size`` points at a time, as if called once on all of them.

    ``function`` maps ``[n, D]`` points to a tensor ``[n, ...]`` or a :class:`Jet` of them (any module's
    ``forward``, or a jet). ``points`` is a ``[N, D]`` tensor or a :class:`Grid`. Without autograd, each
    chunk's results are copied into outputs allocated at the first chunk, on its device and in its dtype;
    with autograd (a chunk's result requires grad) they are concatenated, so the result is differentiable.
    ``progress`` shows a tqdm bar counting points.
    """
    _check_chunking(points, chunk_size, progress)
    total = len(points)
    if total == 0:
        return function(_chunk(points, 0, 0))
    bar = _progress_bar(total, progress, description)
    outputs: List[Optional[torch.Tensor]] = []
    differentiable: List[List[Optional[torch.Tensor]]] = []
    is_jet: Optional[bool] = None  # known at the first chunk
    try:
        for start in range(0, total, chunk_size):
            stop = min(start + chunk_size, total)
            fields, chunk_is_jet = _fields(function(_chunk(points, start, stop)))
            if is_jet is None:
                is_jet = chunk_is_jet
                if any(field is not None and field.requires_grad for field in fields):
                    differentiable = [[] for _ in fields]
                else:
                    outputs = [None if field is None else field.new_empty((total, *field.shape[1:]))
                               for field in fields]
            for index in range(len(fields)):
                if fields[index] is None:
                    continue
                if differentiable:
                    differentiable[index].append(fields[index])
                else:
                    outputs[index][start:stop].copy_(fields[index])
            if bar is not None:
                bar.update(stop - start)
            # Without autograd the outputs hold the values now: drop the chunk before computing the next one.
            del fields
    finally:
        if bar is not None:
            bar.close()
    if differentiable:
        outputs = [torch.cat(parts) if parts else None for parts in differentiable]
    return _assemble(is_jet, outputs)


def jet_components(in_features: int, order: int, hessian: bool) -> int:
    """How many numbers the jet carries per output: the value, D first derivatives, and the Laplacian or the
    D (D + 1) / 2 second derivatives of a Hessian's upper triangle."""
    if order == 0:
        return 1
    if order == 1:
        return 1 + in_features
    return 1 + in_features + (in_features * (in_features + 1) // 2 if hessian else 1)


def default_chunk_size(net: Siren, order: int = 2, hessian: bool = False) -> int:
    """Points per chunk such that one layer's jet at the net's widest layer takes about 64 MiB."""
    width = max(layer.out_features for layer in net.layers)
    itemsize = net.layers[0].linear.weight.element_size()
    per_point = jet_components(net.in_features, order, hessian) * width * itemsize
    return max(1, JET_CHUNK_BYTES // per_point)


def jet_chunked(net: Siren, points: Points, order: int = 2, hessian: bool = False, backend: str = "auto",
                chunk_size: Optional[int] = None, progress: bool = False) -> Jet:
    """:func:`siren_fused.jet` over any number of points, ``chunk_size`` at a time (see :func:`evaluate_in_chunks`).

    ``points`` is a ``[N, in_features]`` tensor or a :class:`Grid`, with the net's dtype and device; the outputs
    are on that device. ``chunk_size=None`` picks :func:`default_chunk_size`. Under ``torch.no_grad()``, peak
    memory is the outputs plus one chunk's work; with autograd on, the result is differentiable (with respect to
    the parameters and a tensor ``points``) and autograd keeps every chunk's saved tensors. The results equal
    one unchunked call's up to rounding: a BLAS may order a GEMM row's sums differently for a different number
    of rows (the fused CPU kernels gave bit-identical results in our tests; the reference, through torch's
    GEMMs, did not).
    """
    if chunk_size is None:
        if not isinstance(net, Siren):
            raise TypeError(f"net must be a siren_fused.Siren, got {type(net).__name__}")
        chunk_size = default_chunk_size(net, order, hessian)
    return evaluate_in_chunks(lambda x: jet(net, x, order, hessian, backend), points, chunk_size, progress,
                              description=f"jet order {order}")
