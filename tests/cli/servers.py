"""Helpers for the tests of `codesearch serve`: the environment of server processes, bounded waits, and a
fixture that starts servers and always kills them at teardown."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
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


@pytest.fixture
def servers():
    """start(repo, *args) runs `codesearch serve repo --detached *args` and waits until it answers;
    every server started is killed at teardown, even when the test failed."""
    started: list[subprocess.Popen] = []

    def start(repo: Path, *args: str, stdin=subprocess.DEVNULL, wait: bool = True) -> subprocess.Popen:
        detached = () if stdin is not subprocess.DEVNULL else ("--detached",)
        process = subprocess.Popen([sys.executable, "-m", "codesearch", "serve", str(repo), *detached, *args],
                                   env=server_env(), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append(process)
        if wait:
            wait_until(lambda: process.poll() is not None or client.server_info(repo / ".codesearch"),
                       "the server to answer")
            assert process.poll() is None, process.communicate(timeout=WAIT_S)[1].decode()
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=WAIT_S)


def kill_daemon(index_dir: Path) -> None:
    """SIGKILL the server recorded in the index's server lock, if one runs (teardown of --daemon tests)."""
    if client.server_lock_free(index_dir):
        return
    pid = int(client.lock_path(index_dir).read_text().strip())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: client.server_lock_free(index_dir), "the killed server's lock to be released")
