"""Indexed copies of the fixture repository, built once per session (the search tests only read them)."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.encoder import FakeEncoder
from indexer.pipeline import IndexOptions, index_repository
from indexer.index import open_index
from tests.conftest import copy_fixture

# Extra files that give the ranking layer something to demote: a test and a stub of parse_config.
EXTRA_FILES = {
    "tests/test_geometry.py": (
        "from src.geometry import parse_config\n\n\n"
        "def test_parse_config(tmp_path):\n"
        "    path = tmp_path / 'settings.cfg'\n"
        "    path.write_text('parse_config=1')\n"
        "    config = parse_config(path)\n"
        "    assert parse_config(path) == config\n"
    ),
    "typings/geometry.pyi": "def parse_config(path: str) -> dict[str, str]: ...\n",
}


def build_index(dest: Path, encoder) -> Path:
    copy_fixture(dest)
    for rel, text in EXTRA_FILES.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    index_repository(dest, dest / ".codesearch", encoder, IndexOptions())
    return dest


@pytest.fixture(scope="session")
def encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def indexed_repo(tmp_path_factory, encoder) -> Path:
    """The fixture repository (plus EXTRA_FILES) indexed with FakeEncoder vectors."""
    return build_index(tmp_path_factory.mktemp("search") / "repo", encoder)


@pytest.fixture(scope="session")
def lexical_repo(tmp_path_factory) -> Path:
    """The same, indexed without an encoder (no vectors)."""
    return build_index(tmp_path_factory.mktemp("search-lexical") / "repo", None)


@pytest.fixture
def index(indexed_repo):
    opened = open_index(indexed_repo / ".codesearch")
    yield opened
    opened.close()
