"""Fixtures for the CLI tests: a scratch copy of the fixture repository, an offline Hugging Face setup,
a fake encoder in place of the model loader, and a runner that keeps stdout and stderr apart."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codesearch import encoders
from codesearch.cli import app
from indexer.encoder import FakeEncoder
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
