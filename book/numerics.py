"""The arithmetic the book's numbers are computed in: torch's AVX2 kernels and one thread.

A training run adds millions of floats, and the last bit of each sum depends on the order of the additions. torch
picks its kernels by the CPU it finds (AVX2 or AVX-512, whose vectors add 8 or 16 floats at a time), and the MKL
library it calls for matrix products picks its own by the CPU's maker and model; each choice is another order, so the
same seeded run drifts apart on two CPUs within a hundred steps. Chapter 8's first training run prints its loss at
step 100 as 0.629 on the page; measured again on two other machines:

| CPU                                    | torch's own kernels | its AVX2 kernels (``ATEN_CPU_CAPABILITY=avx2``) |
|----------------------------------------|---------------------|-------------------------------------------------|
| AMD EPYC with AVX-512                  | 0.112               | 0.629                                           |
| Intel Xeon (Sapphire Rapids), AVX-512  | 0.124               | not 0.629, nor with any MKL setting tried       |

One thread fixes the order within a process (``torch.set_num_threads(1)``, set where torch is first used);
``ATEN_CPU_CAPABILITY`` makes torch use its AVX2 kernels on every x86 CPU that has them. It is read when torch
starts, so it is set before torch is imported: in ``conftest.py`` for the tests, in ``book.exec_cache`` for the site
build (and ``book.pretrain``, its helper), in ``benchmarks/run.py``, in the notebooks' first cell. On AMD CPUs the
book's numbers then come out to the last digit (every test passes). MKL's Intel kernels cannot be made to add in its
AMD order: its reproducible mode (``MKL_CBWR``) is made to agree across Intel CPUs (Intel's "Conditional Numerical
Reproducibility"), not with the AMD path, and ``MKL_CBWR=COMPATIBLE`` matched neither and made training 2.6 times
slower. So on an Intel CPU, and on ARM, the trained models print other numbers. A page marks each block that prints
what a training run computed with ``<!--pytest.mark.trained-->``; where the arithmetic is not ``REFERENCE``, the
tests still run it, and its other numbers are an expected failure (xfail), not an error.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

PINNED = {"ATEN_CPU_CAPABILITY": "avx2"}
# The arithmetic the pages' numbers were computed in (``arithmetic()``): an AMD CPU, torch's AVX2 kernels, one thread.
REFERENCE = {"cpu": "AVX2", "vendor": "AuthenticAMD", "threads": 1}


def pin() -> None:
    """Set ``PINNED`` in this process's environment (and so in every process it starts), before torch is imported.

    Raises:
        RuntimeError: torch is imported already with other settings: they could no longer take effect.
    """
    if all(os.environ.get(name) == value for name, value in PINNED.items()):
        return
    if "torch" in sys.modules:
        raise RuntimeError(
            f"book.numerics.pin(): torch is already imported, with {', '.join(PINNED)} not set to {PINNED}; "
            "expected pin() before the first `import torch`"
        )
    os.environ.update(PINNED)


def cpu_vendor() -> str:
    """The CPU's maker as Linux reports it (``AuthenticAMD``, ``GenuineIntel``), else the architecture.

    MKL picks its kernels by the maker, so two CPUs with the same torch kernels can still differ in their floats.
    """
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def arithmetic() -> dict[str, str | int]:
    """What a run's floats depend on beyond its code and seeds, for cache keys: the kernels and the threads."""
    import torch

    return {"cpu": torch.backends.cpu.get_cpu_capability(), "vendor": cpu_vendor(), "threads": torch.get_num_threads()}


def reproduces_the_book() -> bool:
    """Whether this process computes in the book's arithmetic, so that trained models print the pages' numbers."""
    return arithmetic() == REFERENCE
