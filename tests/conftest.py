"""Fixtures shared by every test package."""
from __future__ import annotations

from pathlib import Path

import shutil

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_REPO = ROOT / "fixtures" / "repo"


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
