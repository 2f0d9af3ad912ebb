"""Builds the C++ extension siren_fused._C (CPU kernels; CUDA kernels where built).

The package's metadata, dependencies and entry points are in pyproject.toml.
"""

import glob
import os

from setuptools import setup

try:
    import torch
    from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension
except ModuleNotFoundError as error:
    # pyproject.toml does not list torch as a build requirement: an isolated build would build against a
    # freshly downloaded torch, not the one the extension will run with.
    raise SystemExit(f"siren_fused builds against the installed torch, but {error}. Install torch first, then "
                     "build without isolation: pip install --no-build-isolation -e .") from error


def cpu_sources():
    return sorted(glob.glob(os.path.join("csrc", "*.cpp")) + glob.glob(os.path.join("csrc", "cpu", "*.cpp")))


def cuda_sources():
    return sorted(glob.glob(os.path.join("csrc", "cuda", "*.cpp")) + glob.glob(os.path.join("csrc", "cuda", "*.cu")))


def build_cuda():
    """Whether to build the CUDA kernels: SIREN_FUSED_CUDA=1/0 forces it either way; otherwise yes
    when nvcc is found and torch is a CUDA build. Not from a visible GPU: build machines have none."""
    nvcc_found = CUDA_HOME is not None and os.path.exists(os.path.join(CUDA_HOME, "bin", "nvcc"))
    possible = nvcc_found and torch.version.cuda is not None
    choice = os.environ.get("SIREN_FUSED_CUDA", "")
    if choice not in ("", "0", "1"):
        raise RuntimeError(f"SIREN_FUSED_CUDA must be 0, 1 or unset, got {choice!r}")
    if choice == "1" and not possible:
        raise RuntimeError(
            f"SIREN_FUSED_CUDA=1 but CUDA cannot be built: nvcc {'found' if nvcc_found else 'not found'} "
            f"(CUDA_HOME={CUDA_HOME}), torch {torch.__version__} CUDA version {torch.version.cuda}"
        )
    return possible if choice == "" else choice == "1"


def jet_extension():
    cxx_flags = ["-O3", "-fno-math-errno"]
    if build_cuda():
        print(f"siren_fused: building the CUDA extension (CPU + CUDA kernels, torch CUDA {torch.version.cuda})")
        return CUDAExtension(
            "siren_fused._C",
            cpu_sources() + cuda_sources(),
            define_macros=[("SIREN_FUSED_WITH_CUDA", "1")],
            # No --use_fast_math: the sine jet needs accurate sincos for large arguments.
            extra_compile_args={"cxx": cxx_flags, "nvcc": ["-O3", "-std=c++17"]},
        )
    print("siren_fused: building the CPU-only extension (no CUDA kernels)")
    return CppExtension(
        "siren_fused._C",
        cpu_sources(),
        define_macros=[("SIREN_FUSED_WITH_CUDA", "0")],
        extra_compile_args={"cxx": cxx_flags},
    )


setup(
    ext_modules=[jet_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
