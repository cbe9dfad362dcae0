"""Fixtures of the indexer tests: private copies of the polyglot fixture repository."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import copy_fixture

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout


@pytest.fixture
def plain_repo(tmp_path) -> Path:
    """The fixture repository as a plain directory (no git): the walker reads .gitignore files itself."""
    return copy_fixture(tmp_path / "repo")


@pytest.fixture
def git_repo(tmp_path) -> Path:
    """The fixture repository as a fresh git checkout with one commit: the walker asks git."""
    root = copy_fixture(tmp_path / "repo")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    return root


@pytest.fixture(params=["plain", "git"])
def any_repo(request, tmp_path) -> Path:
    return request.getfixturevalue(f"{request.param}_repo")
