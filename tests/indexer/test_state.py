"""index_status: missing, corrupt, stale and current, with honest counts and changed files."""
from __future__ import annotations

import sqlite3

from indexer.encoder import FakeEncoder
from indexer.pipeline import IndexOptions, index_repository
from indexer.state import IndexState, index_status

OPTIONS = IndexOptions(max_file_bytes=4096)


def status(root, **kwargs):
    return index_status(root, root / ".codesearch", **kwargs)


def test_missing(plain_repo):
    assert status(plain_repo).state is IndexState.MISSING


def test_current_after_indexing_with_counts(any_repo):
    summary = index_repository(any_repo, any_repo / ".codesearch", FakeEncoder(), OPTIONS)
    result = status(any_repo, options=OPTIONS, encoder=FakeEncoder())
    assert result.state is IndexState.CURRENT, result.reason
    assert result.files == summary.files_new and result.chunks == result.vectors == summary.chunks_total
    assert result.model_id == "fake-encoder" and result.indexed_at
    assert result.changed_files == []


def test_last_commit_is_recorded_in_git(git_repo):
    from tests.indexer.conftest import git

    index_repository(git_repo, git_repo / ".codesearch", None, OPTIONS)
    assert status(git_repo).last_commit == git(git_repo, "rev-parse", "HEAD").strip()


def test_stale_lists_changed_files_by_content(plain_repo):
    index_repository(plain_repo, plain_repo / ".codesearch", FakeEncoder(), OPTIONS)
    (plain_repo / "src" / "queue.go").write_text("package queue\n")
    (plain_repo / "src" / "mailer.rb").unlink()
    (plain_repo / "src" / "new.py").write_text("x = 1\n")
    same = plain_repo / "src" / "hashmap.c"
    same.write_bytes(same.read_bytes())  # touched, not changed
    (plain_repo / "assets" / "other.bin").write_bytes(b"\0\1\2")  # new but never indexable
    result = status(plain_repo, options=OPTIONS)
    assert result.state is IndexState.STALE
    assert result.changed_files == ["src/mailer.rb", "src/new.py", "src/queue.go"]
    assert "3 files changed" in result.reason


def test_stale_when_the_model_differs(plain_repo):
    index_repository(plain_repo, plain_repo / ".codesearch", FakeEncoder(), OPTIONS)
    result = status(plain_repo, encoder=FakeEncoder(model_id="another"), options=OPTIONS)
    assert result.state is IndexState.STALE and "model_id" in result.reason


def test_stale_when_options_differ(plain_repo):
    index_repository(plain_repo, plain_repo / ".codesearch", None, OPTIONS)
    result = status(plain_repo, options=IndexOptions(max_line_length=80))
    assert result.state is IndexState.STALE and "options_hash" in result.reason


def test_stale_when_vectors_are_missing(plain_repo):
    index_repository(plain_repo, plain_repo / ".codesearch", FakeEncoder(), OPTIONS)
    (plain_repo / ".codesearch" / "vectors.faiss").unlink()
    result = status(plain_repo, options=OPTIONS)
    assert result.state is IndexState.STALE and result.vectors == 0


def test_stale_when_a_run_did_not_finish(plain_repo):
    index_repository(plain_repo, plain_repo / ".codesearch", None, OPTIONS)
    conn = sqlite3.connect(plain_repo / ".codesearch" / "index.sqlite")
    conn.execute("DELETE FROM meta WHERE key = 'indexed_at'")
    conn.commit()
    conn.close()
    assert status(plain_repo, options=OPTIONS).state is IndexState.STALE


def test_corrupt_database(plain_repo):
    (plain_repo / ".codesearch").mkdir()
    (plain_repo / ".codesearch" / "index.sqlite").write_bytes(b"garbage" * 1000)
    assert status(plain_repo).state is IndexState.CORRUPT


def test_corrupt_when_tables_are_missing(plain_repo):
    index_repository(plain_repo, plain_repo / ".codesearch", None, OPTIONS)
    conn = sqlite3.connect(plain_repo / ".codesearch" / "index.sqlite")
    conn.execute("DROP TABLE chunks_fts")
    conn.close()
    result = status(plain_repo)
    assert result.state is IndexState.CORRUPT and "chunks_fts" in result.reason
