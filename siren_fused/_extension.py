"""Loads the compiled extension once; everything else asks here whether it is available."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Optional

_module: Optional[ModuleType] = None
_error: Optional[BaseException] = None


def load() -> Optional[ModuleType]:
    """The extension module (registering torch.ops.siren_fused), or None when it is not built."""
    global _module, _error
    if _module is None and _error is None:
        try:
            _module = importlib.import_module("siren_fused._C")
        except ImportError as exc:  # not built: the reference backend still works
            _error = exc
    return _module


def require() -> ModuleType:
    module = load()
    if module is None:
        raise RuntimeError(
            "siren_fused's compiled extension is not available (" + str(_error) + "). Build it with "
            "`pip install --no-build-isolation -e .`, or pass backend='reference'."
        )
    return module


def cuda_built() -> bool:
    module = load()
    return bool(module is not None and getattr(module, "cuda_built", False))


def cuda_emulated() -> bool:
    """Whether the build has the CUDA kernels compiled for the host emulation (a test facility)."""
    module = load()
    return bool(module is not None and getattr(module, "cuda_emulated", False))
