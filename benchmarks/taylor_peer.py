"""Collapsed Taylor mode (`jet-for-pytorch`, Dangel et al., NeurIPS 2025), the outside peer of the benchmarks.

It carries the same forward Laplacian as the fused kernels (value, D tangents, one summed second-order
component) in plain tensor ops, so it runs the same GEMMs: what separates the two is the elementwise work
and how each holds up beside other processes.

An optional benchmark dependency. Version 1.0.0 declares Python >= 3.12 for one statement, the ``type
PyTree[...] = ...`` alias in ``jet/utils.py``; on Python 3.11 it installs with

    pip download --python-version 3.12 --only-binary=:all: --no-deps jet-for-pytorch==1.0.0 -d WHEELS
    pip install --no-deps --ignore-requires-python WHEELS/jet_for_pytorch-1.0.0-py3-none-any.whl

and :func:`load` compiles that module's source with the statement replaced by the equivalent
``typing`` alias, registered in ``sys.modules`` before the rest of ``jet`` imports it. The installed files
are never edited.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from types import ModuleType
from typing import Callable, Optional, Tuple

import torch

# The 3.12 statement, and the alias 3.11 reads the same way (a generic union over a type variable).
_TYPE_STATEMENT = re.compile(r"^type PyTree\[Leaf\] = \((.*?)\n\)\n", re.MULTILINE | re.DOTALL)
_ALIAS_311 = ('Leaf = TypeVar("Leaf")\n'
              'PyTree = Union[Leaf, tuple["PyTree[Leaf]", ...], list["PyTree[Leaf]"], dict[str, "PyTree[Leaf]"]]\n')


def _load_utils_for_311(spec) -> None:
    """Puts ``jet.utils`` in sys.modules, compiled from its source with the 3.12 alias rewritten."""
    with open(spec.origin) as f:
        source = f.read()
    rewritten, count = _TYPE_STATEMENT.subn(_ALIAS_311, source)
    if count != 1:
        raise ImportError("jet-for-pytorch's jet/utils.py no longer has the one `type PyTree[...]` statement "
                          "this loader rewrites for Python 3.11; use Python >= 3.12")
    rewritten = "from typing import TypeVar, Union\n" + rewritten
    module = importlib.util.module_from_spec(spec)
    sys.modules["jet.utils"] = module
    exec(compile(rewritten, spec.origin, "exec"), module.__dict__)


def load() -> Optional[ModuleType]:
    """The ``jet`` package of jet-for-pytorch, or None where it is not installed."""
    if importlib.util.find_spec("jet") is None:
        return None
    if sys.version_info < (3, 12) and "jet.utils" not in sys.modules:
        # Importing jet.utils runs jet/__init__.py first, which imports jet.utils: load the parent's spec by
        # hand, without executing it, to reach the submodule's file.
        package_spec = importlib.util.find_spec("jet")
        package = importlib.util.module_from_spec(package_spec)
        sys.modules["jet"] = package
        try:
            _load_utils_for_311(importlib.util.find_spec("jet.utils"))
        finally:
            del sys.modules["jet"]
    return importlib.import_module("jet")


def missing_message() -> str:
    return ("collapsed Taylor mode (jet-for-pytorch) is not installed: its routes are left out "
            "(benchmarks/taylor_peer.py says how to install it on Python 3.11)")


def forward_laplacian(jet: ModuleType, net: torch.nn.Module, in_features: int
                      ) -> Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]:
    """x [N, D] -> (value [N, out], Laplacian [N, out]) by collapsed Taylor mode, one point's jet vmapped over
    the points (the peer's Laplacian takes every element of its input as a variable)."""
    def point(p: torch.Tensor) -> torch.Tensor:
        return net(p.unsqueeze(0)).squeeze(0)

    laplacian = torch.func.vmap(jet.laplacian(point, (torch.zeros(in_features),)))

    def run(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return net(x), laplacian(x)
    return run
