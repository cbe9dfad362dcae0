"""Fixtures for the CLI tests: a scratch copy of the fixture repository, an offline Hugging Face setup,
a fake encoder in place of the model loader, a runner that keeps stdout and stderr apart, and
`codesearch serve` processes that are always killed at teardown."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codesearch import encoders
from codesearch.cli import app
from indexer.encoder import FakeEncoder
from codesearch import client
from tests.cli.servers import WAIT_S, server_env, wait_until
from tests.conftest import copy_fixture


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


@pytest.fixture
def offline(monkeypatch, tmp_path) -> Path:
    """No hub access and an empty Hugging Face cache: the default model is unavailable."""
    hf_home = tmp_path / "hf-home"
    hf_home.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(hf_home))
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("MODEL", "DEVICE", "DTYPE", "BATCH_TOKENS", "INDEX_DIR", "MODE", "TOP", "CONTEXT"):
        monkeypatch.delenv(f"CODESEARCH_{name}", raising=False)
    return hf_home


@pytest.fixture
def repo(tmp_path, offline) -> Path:
    """A scratch copy of fixtures/repo (tests may modify it), with the environment offline."""
    return copy_fixture(tmp_path / "repo")


@pytest.fixture
def fake_model(monkeypatch) -> list[str]:
    """Replace the model loader with FakeEncoder; returns the list of model ids asked for."""
    asked: list[str] = []

    def load(model: str, device: str, dtype: str, batch_tokens: int = 0) -> FakeEncoder:
        asked.append(model)
        return FakeEncoder(model_id=model)

    monkeypatch.setattr(encoders, "load", load)
    # Searches load a query encoder: the same fake, through `encoders.load` as a test may replace it.
    monkeypatch.setattr(encoders, "load_query", lambda model: encoders.load(model, "cpu", "float32"))
    return asked


@pytest.fixture
def cli():
    """Invoke the app in-process; returns a Run with stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args: str) -> Run:
        result = runner.invoke(app, [str(a) for a in args])
        return Run(result.exit_code, result.stdout, result.stderr, result.exception)

    return invoke


@pytest.fixture
def indexed(repo, fake_model, cli) -> Path:
    """The scratch repository indexed with the fake encoder."""
    run = cli("index", repo, "--quiet")
    assert run.exit_code == 0, run.stderr
    return repo


@pytest.fixture
def tiny_indexed(repo, cli, tiny_checkpoint) -> Path:
    """The scratch repository indexed with the tiny checkpoint (what a server subprocess can load)."""
    run = cli("index", repo, "--model", tiny_checkpoint, "--quiet")
    assert run.exit_code == 0, run.stderr
    return repo


@pytest.fixture
def lexical_indexed(repo, cli) -> Path:
    """The scratch repository indexed without a model: its servers start without importing torch."""
    run = cli("index", repo, "--lexical-only", "--quiet")
    assert run.exit_code == 0, run.stderr
    return repo


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
