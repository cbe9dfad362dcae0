"""Hostile repositories for the security tests: a small git checkout, a folder outside it holding a
secret, and the CLI fixtures (runner, offline hub, fake encoder) of tests/cli."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from indexer.pipeline import IndexOptions, index_repository
from tests.cli.conftest import cli, fake_model, offline  # noqa: F401 - fixtures used by these tests
from tests.indexer.conftest import git

SECRET = "OUTSIDE_SECRET_TOKEN"

REPO_FILES = {
    "src/app.py": "def greet(name):\n    return f'hello {name}'\n",
    "sub/secret.py": "INSIDE_VALUE = 1\n",
    "a/b/c/deep.py": "DEEP_INSIDE = 2\n",
}


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder next to the repository, with a file whose content must never reach the index."""
    folder = tmp_path / "outside"
    folder.mkdir()
    for name in ("secret.py", "deep.py"):
        (folder / name).write_text(f"{SECRET} = 'leaked'\n")
    return folder


@pytest.fixture
def repo(tmp_path, offline) -> Path:  # noqa: F811 - offline is the imported fixture
    """A git checkout of REPO_FILES with one commit."""
    root = tmp_path / "repo"
    for rel, text in REPO_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def index_lexically(root: Path, progress=None):
    """A lexical-only index of `root` in its default folder; returns the run's summary."""
    return index_repository(root, root / ".codesearch", None, IndexOptions(), progress=progress)


def indexed_texts(root: Path) -> dict[str, str]:
    """path -> the text of the file's chunks, as stored in the index."""
    conn = sqlite3.connect(root / ".codesearch" / "index.sqlite")
    try:
        texts: dict[str, str] = {}
        for path, text in conn.execute("SELECT path, text FROM chunks ORDER BY id"):
            texts[path] = texts.get(path, "") + text
        return texts
    finally:
        conn.close()
