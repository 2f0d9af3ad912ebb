"""Loads the compiled extension once; everything else asks here whether it is available."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Optional

import torch

_module: Optional[ModuleType] = None
_error: Optional[BaseException] = None
_emulation: Optional[bool] = None  # whether the emulated CUDA kernels load; None until asked


def load() -> Optional[ModuleType]:
    """The extension module (registering torch.ops.siren_fused), or None when it is not built."""
    global _module, _error
    if _module is None and _error is None:
        try:
            _module = importlib.import_module("siren_fused._C")
        except ImportError as exc:  # not built: the reference backend still works
            _error = exc
        else:
            _tag_compile_caches(_module.__file__)
    return _module


def _tag_compile_caches(library_path: str) -> None:
    """Add this build of the extension to torch.compile's cache key.

    The ops' fake kernels ask the extension for the saved jets' tile shapes, and a compiled graph bakes them in;
    torch's on-disk caches key a graph by its code, not by the library behind it, so after a rebuild that
    changes the tiling they would hand back graphs expecting the old shapes. The file's size and modification
    time identify the build (a rebuild changes them; a needless cache miss is the worst a false change costs).
    The user's own tag is kept.
    """
    stat = os.stat(library_path)
    tag = f"siren_fused-{stat.st_size:x}-{stat.st_mtime_ns:x}"
    current = torch.compiler.config.cache_key_tag
    if tag not in current.split("+"):
        torch.compiler.config.cache_key_tag = f"{current}+{tag}" if current else tag


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
    """Whether the emulated CUDA kernels (a test facility) are built: the separate extension
    siren_fused._C_cuda_emulated, which importing adds to the ops (SIREN_FUSED_CUDA_EMULATION=1 builds it)."""
    global _emulation
    if _emulation is None:
        try:
            _emulation = load() is not None and importlib.import_module("siren_fused._C_cuda_emulated") is not None
        except ImportError:
            _emulation = False
    return _emulation
