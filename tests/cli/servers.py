"""Helpers for the tests of `codesearch serve`: the environment of server processes and bounded waits."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable

import pytest

from codesearch import client
from tests.conftest import ROOT

WAIT_S = 60.0  # bound of every wait for a server (start, reindex, exit)


def server_env() -> dict[str, str]:
    """The test's environment (offline, see tests/cli/conftest.py) with this worktree importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT_S):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def lexical_paths(index_dir: Path, query: str) -> list[str]:
    """Paths of the hits of a lexical search through the server's socket."""
    result = client.call(index_dir, "search", {"query": query, "mode": "lexical"})
    return [hit["path"] for hit in (result or {}).get("hits", [])]


def kill_daemon(index_dir: Path) -> None:
    """SIGKILL the server recorded in the index's server lock, if one runs (teardown of --daemon tests)."""
    if client.server_lock_free(index_dir):
        return
    pid = int(client.lock_path(index_dir).read_text().strip())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: client.server_lock_free(index_dir), "the killed server's lock to be released")
