"""Fixtures shared by every test package."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_REPO = ROOT / "fixtures" / "repo"


@pytest.fixture(scope="session", autouse=True)
def checkpoint_cache(tmp_path_factory):
    """Keep the model's checkpoint cache (model/cache.py) out of the user's home: one folder per run,
    inherited by the subprocesses that tests start."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("checkpoint-cache")
        patch.setenv("CODESEARCH_CACHE_DIR", str(folder))
        yield folder


def copy_fixture(dest: Path) -> Path:
    """A private copy of the fixture repository, without the index that the README's Quick start
    leaves in it (`codesearch index fixtures/repo`), so tests see the repository as committed."""
    shutil.copytree(FIXTURE_REPO, dest, symlinks=True, ignore=shutil.ignore_patterns(".codesearch"))
    return dest


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random ModernBERT checkpoint folder (config, safetensors, tokenizer, pooling, prompts)."""
    from tests.tinymodel import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-modernbert"))
