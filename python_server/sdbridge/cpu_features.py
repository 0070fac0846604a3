"""What this CPU offers for bfloat16, read from /proc/cpuinfo (Linux; elsewhere nothing is claimed).

On Intel CPUs with AMX (Sapphire Rapids and later) oneDNN runs bfloat16 convolutions and matrix products
several times faster than float32 (docs/benchmarks.md, "bfloat16 on CPUs with AMX", has the figures and the
commands). AVX512-BF16 alone helps less.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path


class CpuBf16(Enum):
    """The best bfloat16 support the CPU flags show."""

    AMX = "amx_bf16"  # tile matrix units: the large speed-up
    AVX512 = "avx512_bf16"  # vector dot products in bfloat16
    NONE = "none"


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU feature flags (empty when /proc/cpuinfo is unreadable, e.g. not Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def cpu_bf16(cpuinfo: str | None = None) -> CpuBf16:
    """AMX when the CPU has amx_bf16 and amx_tile, else AVX512 with avx512_bf16, else NONE."""
    flags = cpu_flags(cpuinfo)
    if {"amx_bf16", "amx_tile"} <= flags:
        return CpuBf16.AMX
    if "avx512_bf16" in flags:
        return CpuBf16.AVX512
    return CpuBf16.NONE


def bf16_hint(device: str, dtype: str, support: CpuBf16 | None = None) -> str | None:
    """A one-line suggestion when a float32 model runs on a CPU with AMX, else None."""
    if device != "cpu" or dtype != "float32":
        return None
    support = cpu_bf16() if support is None else support
    if support is not CpuBf16.AMX:
        return None
    return ("this CPU has AMX (amx_bf16): --dtype bfloat16 (or [model] dtype = \"bfloat16\") runs the model "
            "about 2x faster here, with slightly different pixels")
