"""Keep freed memory for reuse: the CPU forward pass allocates and frees tens of large buffers per layer.

glibc's malloc serves blocks larger than its mmap threshold (at most 32 MiB) with fresh `mmap`s and
gives them back to the kernel when they are freed. A packed batch of 16k tokens makes activations of
25-100 MiB, so every layer of every batch maps new memory and page-faults it in, zero-filled, page by
page (`python benchmarks/encoder.py --profile` shows the copies and norms that pay for it; with
`CODESEARCH_MALLOC=system` the mixed batch runs at about half the bf16 speed). Telling malloc
never to use `mmap` and never to trim the top of its heap makes it reuse the same memory batch after
batch; the price is that a process keeps its peak heap until it exits (a CLI run, an index job).
A freed block is reused only by a request it fits, and torch's 64-byte-aligned requests need a few
bytes more than an equal-sized block just freed, so the heap can grow past the working set; over 150
batches of varied lengths it grew as much as with malloc left alone (BENCHMARKS.md, memory table).

`keep_freed_memory()` is called by `load_encoder` for CPU models; set CODESEARCH_MALLOC=system to
leave malloc as it is (for a long-lived process that must give memory back).
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
M_MMAP_MAX = -4
OPT_OUT = "CODESEARCH_MALLOC"

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc's malloc once per process (see the module docstring); True if it is now tuned.

    A no-op returning False off Linux, without glibc, or when CODESEARCH_MALLOC=system.
    """
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux") and os.environ.get(OPT_OUT, "").lower() != "system":
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):
                return False
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            # glibc returns 1 on success (musl's stub returns 0: nothing to tune there).
            _done = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _done
