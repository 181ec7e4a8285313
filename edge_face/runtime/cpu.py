"""What machine a figure was measured on: every benchmark's JSON and `edge-face tune` carry it, because the fastest
model variant depends on the CPU's SIMD features (int8 wins only with VNNI-class dot products)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

_SIMD = ("avx", "fma", "sse4", "asimd", "sve", "i8mm", "dotprod")


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def cpu_flags() -> list[str]:
    """The SIMD flags of the first CPU (avx2, fma, avx512_vnni, avx_vnni on x86; asimd, dotprod, i8mm on Arm)."""
    for line in _cpuinfo():
        if line.startswith(("flags", "Features")):
            return sorted(f for f in line.split(":", 1)[1].split() if f.startswith(_SIMD))
    return []


def cpu_model() -> str:
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def describe() -> dict:
    """Architecture, cores, Python, processor and SIMD flags."""
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "processor": cpu_model(), "cpu_flags": cpu_flags()}
