"""model/allocator.py: once tuned, a freed large buffer is reused instead of being page-faulted in anew."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Touch and free a 200 MB tensor, then a 160 MB one; report the minor page faults of the second. (The
# second is smaller because glibc serves torch's 64-byte-aligned blocks from a free chunk only if it
# is a little larger than the request: an equal size does not fit the chunk just freed.)
SCRIPT = """
import json, resource, sys, torch
from model.allocator import keep_freed_memory
tuned = keep_freed_memory()
def round_trip(floats):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = torch.empty(floats).fill_(1.0)
    del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
round_trip(50_000_000)
print(json.dumps({"tuned": tuned, "faults": round_trip(40_000_000)}))
"""


def second_round(env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CODESEARCH_MALLOC"}
    if env_value is not None:
        env["CODESEARCH_MALLOC"] = env_value
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux only")
def test_tuned_malloc_reuses_freed_memory_and_the_opt_out_leaves_it_alone():
    pages = 160_000_000 // os.sysconf("SC_PAGE_SIZE")
    tuned = second_round(None)
    assert tuned["tuned"] is True
    assert tuned["faults"] < pages // 10  # the 160 MB came from the freed 200 MB, already mapped
    untouched = second_round("system")
    assert untouched["tuned"] is False
    assert untouched["faults"] > pages // 2  # glibc mapped it anew: every page faulted in again
