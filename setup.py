"""Builds siren_fused and its C++ extension siren_fused._C (CPU kernels; CUDA kernels where built)."""

import glob
import os

from setuptools import find_packages, setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

ROOT = os.path.dirname(os.path.abspath(__file__))


def cpu_sources():
    return sorted(glob.glob(os.path.join("csrc", "*.cpp")) + glob.glob(os.path.join("csrc", "cpu", "*.cpp")))


setup(
    name="siren_fused",
    version="0.1.0",
    description="Fused forward-mode derivative jets for SIREN networks (CPU and CUDA kernels)",
    packages=find_packages(include=["siren_fused", "siren_fused.*"]),
    ext_modules=[
        CppExtension(
            "siren_fused._C",
            cpu_sources(),
            extra_compile_args={"cxx": ["-O3", "-fno-math-errno"]},
        )
    ],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
    python_requires=">=3.9",
    install_requires=["torch>=2.4", "numpy"],
    extras_require={
        "experiments": ["scikit-image", "matplotlib", "tqdm", "trimesh", "pymeshfix", "scipy"],
        "test": ["pytest", "pytest-benchmark"],
    },
    entry_points={"console_scripts": ["siren-fused=siren_fused.cli:main"]},
)
