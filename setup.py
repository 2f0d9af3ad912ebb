"""Builds siren_fused and its C++ extension siren_fused._C (CPU kernels; CUDA kernels where built)."""

import glob
import os

from setuptools import find_packages, setup
import torch
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

ROOT = os.path.dirname(os.path.abspath(__file__))


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
    name="siren_fused",
    version="0.1.0",
    description="Fused forward-mode derivative jets for SIREN networks (CPU and CUDA kernels)",
    packages=find_packages(include=["siren_fused", "siren_fused.*"]),
    ext_modules=[jet_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
    python_requires=">=3.9",
    install_requires=["torch>=2.4", "numpy"],
    extras_require={
        "experiments": ["scikit-image", "matplotlib", "tqdm", "trimesh", "pymeshfix", "scipy"],
        "test": ["pytest", "pytest-benchmark"],
    },
    entry_points={"console_scripts": ["siren-fused=siren_fused.cli:main"]},
)
