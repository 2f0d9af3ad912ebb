"""Which build of the CPU tile kernels runs: the AVX2 + FMA one where the CPU has both, the portable
one otherwise or under SIREN_FUSED_CPU_ISA=generic (CI runs the CPU exactness tests once that way,
so the portable build is tested on AVX2 machines too)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

from siren_fused import _extension


def cpu_has_avx2_fma() -> bool:
    if platform.machine() != "x86_64":
        return False
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    return "avx2" in flags and "fma" in flags


def isa_in_subprocess(value: str) -> subprocess.CompletedProcess:
    code = "import siren_fused, siren_fused._C as C; print(C.cpu_isa())"
    return subprocess.run([sys.executable, "-c", code], env=dict(os.environ, SIREN_FUSED_CPU_ISA=value),
                          capture_output=True, text=True)


def test_this_process_runs_the_build_its_environment_asks_for():
    forced = os.environ.get("SIREN_FUSED_CPU_ISA") == "generic"
    expected = "avx2" if cpu_has_avx2_fma() and not forced else "generic"
    assert _extension.require().cpu_isa() == expected


def test_generic_override():
    result = isa_in_subprocess("generic")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "generic"


def test_unknown_override_names_the_variable():
    result = isa_in_subprocess("avx512")
    assert result.returncode != 0
    assert "SIREN_FUSED_CPU_ISA must be 'generic' or unset, got 'avx512'" in result.stderr
