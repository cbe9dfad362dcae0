"""index_repository on the fixture repository: what gets indexed, incremental runs, and recovery."""
from __future__ import annotations

import os
import sqlite3
import time

import pytest

from indexer.encoder import FakeEncoder
from indexer.errors import IndexCorrupt, IndexLocked, IndexMissing
from indexer.lock import WriteLock
from indexer.pipeline import IndexOptions, index_repository
from indexer.index import open_index
from indexer.vectors import index_ids
from tests.indexer.conftest import git
from tests.indexer.helpers import chunk_rows, consistency_problems, vectors_by_hash

OPTIONS = IndexOptions(max_file_bytes=4096)


def build(root, encoder=None, **kwargs):
    return index_repository(root, root / ".codesearch", encoder, kwargs.pop("options", OPTIONS), **kwargs)


def distinct_hashes(index_dir) -> int:
    index = open_index(index_dir)
    try:
        return index.conn.execute("SELECT COUNT(DISTINCT content_hash) FROM chunks").fetchone()[0]
    finally:
        index.close()


def test_first_run_indexes_the_project_and_counts_what_it_skipped(any_repo):
    encoder = FakeEncoder()
    summary = build(any_repo, encoder)
    assert summary.skipped["binary"] == 1
    assert summary.skipped["invalid_utf8"] == 1
    assert summary.skipped["minified"] == 1
    assert summary.skipped["too_large"] == 1
    assert ("src/legacy_latin1.py", "not valid UTF-8 at byte 40") in summary.warnings
    assert any(path == "src/broken.py" for path, _ in summary.warnings)
    index = open_index(any_repo / ".codesearch")
    paths = {r[0] for r in index.conn.execute("SELECT path FROM files")}
    assert {"src/geometry.py", "src/queue.go", "README.md"} <= paths
    assert not paths & {"assets/logo.png", "src/legacy_latin1.py", "web/app.min.js", "data/large_seed.sql"}
    assert summary.files_new == len(paths)
    chunk_ids = sorted(r[0] for r in index.conn.execute("SELECT id FROM chunks"))
    assert summary.chunks_total == len(chunk_ids)
    assert sorted(index_ids(index.vectors).tolist()) == chunk_ids
    assert encoder.calls == summary.chunks_embedded == distinct_hashes(any_repo / ".codesearch")
    assert consistency_problems(any_repo / ".codesearch") == []


def test_fts_rows_follow_the_lexical_contract(plain_repo):
    build(plain_repo, FakeEncoder())
    index = open_index(plain_repo / ".codesearch")
    rows = index.conn.execute(
        "SELECT c.symbol FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
        " WHERE chunks_fts MATCH 'symbol:http'"
    ).fetchall()
    assert rows == []  # no symbol contains "http" ...
    symbols = {r[0] for r in index.conn.execute(
        "SELECT c.symbol FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH 'request'"
    )}
    assert "Router.handleRequest" in symbols  # ... but camelCase parts are searchable


def test_noop_reindex_embeds_nothing(any_repo):
    encoder = FakeEncoder()
    first = build(any_repo, encoder)
    calls = encoder.calls
    again = build(any_repo, encoder)
    assert encoder.calls == calls
    assert (again.files_new, again.files_changed, again.files_deleted) == (0, 0, 0)
    assert again.files_unchanged == first.files_new
    assert again.chunks_total == first.chunks_total


def test_editing_one_file_reembeds_only_its_changed_chunks(any_repo):
    encoder = FakeEncoder()
    build(any_repo, encoder)
    before = chunk_rows(any_repo / ".codesearch")
    path = any_repo / "src" / "tokenizer.rs"
    path.write_text(path.read_text() + "\npub fn perimeter(radius: f64) -> f64 {\n    2.0 * 3.14159 * radius\n}\n")
    calls = encoder.calls
    summary = build(any_repo, encoder)
    assert summary.files_changed == 1 and summary.files_unchanged > 0
    # The file chunk and the new function are new texts; the other definitions come from the cache.
    assert encoder.calls - calls == summary.chunks_embedded == 2
    assert summary.chunks_reused == 8
    after = chunk_rows(any_repo / ".codesearch")
    assert {r for r in after if r[0] != "src/tokenizer.rs"} == {r for r in before if r[0] != "src/tokenizer.rs"}
    assert any(r[2] == "perimeter" for r in after)
    assert consistency_problems(any_repo / ".codesearch") == []


def test_touching_a_file_without_changing_it_is_not_a_change(plain_repo):
    encoder = FakeEncoder()
    build(plain_repo, encoder)
    target = plain_repo / "src" / "queue.go"
    target.write_bytes(target.read_bytes())
    calls = encoder.calls
    summary = build(plain_repo, encoder)
    assert summary.files_changed == 0 and encoder.calls == calls


def test_same_size_rewrite_within_the_clock_granularity_is_noticed(plain_repo):
    """Regression: a same-size edit right after indexing kept its old mtime_ns on a coarse clock."""
    encoder = FakeEncoder()
    target = plain_repo / "src" / "hashmap.c"
    # Stamped as if written during the index run (a coarse clock makes "just before" look the same).
    just_now = time.time_ns() + 2_000_000_000
    os.utime(target, ns=(just_now, just_now))
    build(plain_repo, encoder)
    target.write_bytes(target.read_bytes().replace(b"5381", b"5387"))
    os.utime(target, ns=(just_now, just_now))  # same size, same mtime: the stat pass cannot tell
    summary = build(plain_repo, encoder)
    assert summary.files_changed == 1


def test_deleting_and_renaming_files_updates_sqlite_and_faiss(any_repo):
    encoder = FakeEncoder()
    build(any_repo, encoder)
    (any_repo / "src" / "mailer.rb").unlink()
    (any_repo / "src" / "queue.go").rename(any_repo / "src" / "work_queue.go")
    summary = build(any_repo, encoder)
    assert summary.files_deleted == 2 and summary.files_new == 1
    rows = chunk_rows(any_repo / ".codesearch")
    assert not any(r[0] in ("src/mailer.rb", "src/queue.go") for r in rows)
    assert any(r[0] == "src/work_queue.go" and r[2] == "Queue.Push" for r in rows)
    vectors_by_hash(any_repo / ".codesearch")  # asserts FAISS ids == chunk ids
    assert consistency_problems(any_repo / ".codesearch") == []


def test_incremental_equals_full_rebuild_on_the_fixture(plain_repo, tmp_path):
    encoder = FakeEncoder()
    build(plain_repo, encoder)
    (plain_repo / "src" / "cache.ts").write_text("export const size = 3;\n")
    (plain_repo / "src" / "deploy.sh").unlink()
    build(plain_repo, encoder)
    fresh = tmp_path / "fresh-index"
    index_repository(plain_repo, fresh, FakeEncoder(), OPTIONS)
    assert chunk_rows(plain_repo / ".codesearch") == chunk_rows(fresh)
    assert vectors_by_hash(plain_repo / ".codesearch") == vectors_by_hash(fresh)


def test_lexical_only_index_then_vectors_are_added(plain_repo):
    summary = build(plain_repo, None)
    assert summary.lexical_only and summary.chunks_embedded == 0
    index = open_index(plain_repo / ".codesearch")
    assert index.vectors is None and index.meta.get("model_id") is None
    assert index.conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0] == summary.chunks_total
    encoder = FakeEncoder()
    with_vectors = build(plain_repo, encoder)
    assert with_vectors.files_new == 0
    assert with_vectors.files_changed == 0  # the chunks are kept, only their token counts are redone
    assert encoder.calls == distinct_hashes(plain_repo / ".codesearch")
    assert open_index(plain_repo / ".codesearch").vectors.ntotal == with_vectors.chunks_total


def test_a_new_tokenizer_recuts_only_the_files_it_sizes_differently(plain_repo, tmp_path):
    build(plain_repo, None)  # sized by the bytes/3 estimate
    strict = FakeEncoder(max_tokens=60)  # a tokenizer for which the biggest files no longer fit
    summary = build(plain_repo, strict)
    assert 0 < summary.files_changed < summary.files_unchanged
    fresh = tmp_path / "fresh"
    index_repository(plain_repo, fresh, FakeEncoder(max_tokens=60), OPTIONS)
    assert chunk_rows(plain_repo / ".codesearch") == chunk_rows(fresh)


def test_changing_the_model_rebuilds_the_vectors(plain_repo):
    build(plain_repo, FakeEncoder(dim=64))
    other = FakeEncoder(dim=32, model_id="other-model")
    summary = build(plain_repo, other)
    assert summary.rebuilt_reason and "model_id" in summary.rebuilt_reason
    index = open_index(plain_repo / ".codesearch")
    assert index.vectors.d == 32 and index.meta["model_id"] == "other-model"
    assert index.conn.execute("SELECT COUNT(*) FROM embeddings WHERE model_id != 'other-model'").fetchone()[0] == 0


def test_changing_content_options_rechunks_without_reembedding(plain_repo):
    encoder = FakeEncoder()
    build(plain_repo, encoder)
    calls = encoder.calls
    summary = build(plain_repo, encoder, options=IndexOptions(max_file_bytes=8192))
    assert summary.rebuilt_reason and "options_hash" in summary.rebuilt_reason
    assert summary.files_new == 1  # the formerly oversized file
    assert encoder.calls - calls == summary.chunks_embedded == distinct_chunks_of(plain_repo, "data/large_seed.sql")


def distinct_chunks_of(root, path) -> int:
    index = open_index(root / ".codesearch")
    return index.conn.execute("SELECT COUNT(DISTINCT content_hash) FROM chunks WHERE path = ?", (path,)).fetchone()[0]


def test_full_rebuild_keeps_the_embedding_cache(plain_repo):
    encoder = FakeEncoder()
    first = build(plain_repo, encoder)
    calls = encoder.calls
    summary = build(plain_repo, encoder, full=True)
    assert summary.rebuilt_reason == "full rebuild requested"
    assert summary.files_changed == first.files_new and encoder.calls == calls


def test_since_restricts_the_pass_to_changed_paths(git_repo):
    encoder = FakeEncoder()
    build(git_repo, encoder)
    head = git(git_repo, "rev-parse", "HEAD").strip()
    (git_repo / "src" / "server.js").write_text("function stopServer() {}\n")
    (git_repo / "src" / "Ledger.scala").unlink()
    (git_repo / "src" / "extra.py").write_text("def extra():\n    return 1\n")
    summary = build(git_repo, encoder, since=head)
    assert (summary.files_new, summary.files_changed, summary.files_deleted) == (1, 1, 1)
    assert summary.files_unchanged == 0  # nothing else was even stat'ed
    paths = {r[0] for r in chunk_rows(git_repo / ".codesearch")}
    assert "src/extra.py" in paths and "src/Ledger.scala" not in paths


def test_since_with_an_unknown_revision_is_a_clear_error(git_repo):
    from indexer.errors import IndexError_

    with pytest.raises(IndexError_, match="no-such-rev"):
        build(git_repo, FakeEncoder(), since="no-such-rev")


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "since"])
def test_a_symlink_added_to_an_indexed_file_is_not_indexed(git_repo, incremental):
    encoder = FakeEncoder()
    build(git_repo, encoder)
    head = git(git_repo, "rev-parse", "HEAD").strip()
    (git_repo / "links" / "queue_alias.go").symlink_to("../src/queue.go")
    summary = build(git_repo, encoder, since=head if incremental else None)
    assert summary.skipped["symlink_duplicate"] == (1 if incremental else 2)  # a full pass sees both links
    assert (summary.files_new, summary.files_changed, summary.files_deleted) == (0, 0, 0)
    paths = {r[0] for r in chunk_rows(git_repo / ".codesearch")}
    assert "src/queue.go" in paths and not any(p.startswith("links/") for p in paths)


def build_with_the_old_walk(root, encoder, monkeypatch) -> None:
    """An index as built before symlink_duplicate: links/geometry_alias.py stored beside its target."""
    import indexer.pipeline
    from indexer import store
    from indexer.languages import language_for_path
    from indexer.types import SourceFile
    from indexer.walk import list_files

    def old_list_files(root, **kwargs):
        listing = list_files(root, **kwargs)
        link = "links/geometry_alias.py"
        st = (root / link).stat()
        listing.files.append(SourceFile(link, str(root / link), st.st_size, st.st_mtime_ns, language_for_path(link)))
        return listing

    with monkeypatch.context() as patch:
        patch.setattr(indexer.pipeline, "list_files", old_list_files)
        build(root, encoder)
    conn = store.connect(root / ".codesearch" / "index.sqlite")
    conn.execute("DELETE FROM meta WHERE key = 'walk_version'")  # which the old pipeline did not write
    conn.close()


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "since"])
def test_an_index_holding_a_duplicate_symlink_drops_it_on_the_next_run(git_repo, monkeypatch, incremental):
    encoder = FakeEncoder()
    build_with_the_old_walk(git_repo, encoder, monkeypatch)
    assert "links/geometry_alias.py" in {r[0] for r in chunk_rows(git_repo / ".codesearch")}
    head = git(git_repo, "rev-parse", "HEAD").strip()
    summary = build(git_repo, encoder, since=head if incremental else None)  # nothing changed since HEAD
    assert (summary.files_new, summary.files_changed, summary.files_deleted) == (0, 0, 1)
    assert summary.skipped["symlink_duplicate"] == 1
    paths = {r[0] for r in chunk_rows(git_repo / ".codesearch")}
    assert "src/geometry.py" in paths and "links/geometry_alias.py" not in paths
    assert consistency_problems(git_repo / ".codesearch") == []
    later = build(git_repo, encoder, since=head)  # the walk version is recorded: --since is narrow again
    assert later.files_unchanged == 0 and later.files_deleted == 0


def test_second_writer_gets_index_locked(plain_repo):
    with WriteLock(plain_repo / ".codesearch"):
        with pytest.raises(IndexLocked, match="is updating the index"):
            build(plain_repo, FakeEncoder())


def test_reader_keeps_its_snapshot_while_a_writer_commits(plain_repo):
    encoder = FakeEncoder()
    build(plain_repo, encoder)
    reader = open_index(plain_repo / ".codesearch")
    reader.conn.execute("BEGIN")
    before = reader.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    (plain_repo / "src" / "new_module.py").write_text("def fresh():\n    return 'new'\n")
    build(plain_repo, encoder)  # WAL: the writer does not wait for the reader
    assert reader.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == before
    reader.conn.execute("COMMIT")
    assert reader.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == before + 1


def test_missing_faiss_file_is_rebuilt_from_stored_embeddings(plain_repo):
    encoder = FakeEncoder()
    build(plain_repo, encoder)
    expected = vectors_by_hash(plain_repo / ".codesearch")
    (plain_repo / ".codesearch" / "vectors.faiss").unlink()
    assert vectors_by_hash(plain_repo / ".codesearch") == expected  # readers rebuild in memory
    calls = encoder.calls
    build(plain_repo, encoder)
    assert encoder.calls == calls and (plain_repo / ".codesearch" / "vectors.faiss").is_file()
    assert vectors_by_hash(plain_repo / ".codesearch") == expected


def test_garbage_faiss_file_is_repaired(plain_repo):
    encoder = FakeEncoder()
    build(plain_repo, encoder)
    expected = vectors_by_hash(plain_repo / ".codesearch")
    (plain_repo / ".codesearch" / "vectors.faiss").write_bytes(b"not a faiss index")
    build(plain_repo, encoder)
    assert vectors_by_hash(plain_repo / ".codesearch") == expected


def test_open_index_errors(tmp_path):
    with pytest.raises(IndexMissing):
        open_index(tmp_path / "nowhere")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(IndexCorrupt):
        open_index(tmp_path / "bad")


def test_index_from_a_newer_codesearch_is_refused(plain_repo):
    build(plain_repo, FakeEncoder())
    conn = sqlite3.connect(plain_repo / ".codesearch" / "index.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(IndexCorrupt, match="format version 99"):
        build(plain_repo, FakeEncoder())


def test_ivf_index_for_large_repositories(plain_repo):
    build(plain_repo, FakeEncoder(), options=IndexOptions(max_file_bytes=4096, vector_index="ivf"))
    import faiss

    index = open_index(plain_repo / ".codesearch")
    assert faiss.try_extract_index_ivf(index.vectors) is not None
    vectors_by_hash(plain_repo / ".codesearch")


def test_a_new_lexical_tokenizer_rebuilds_the_fts_table_without_reembedding(plain_repo):
    encoder = FakeEncoder()
    first = build(plain_repo, encoder)
    conn = sqlite3.connect(plain_repo / ".codesearch" / "index.sqlite")
    conn.execute("DROP TABLE chunks_fts")  # as an index written by an older lexical contract
    conn.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(path, symbol, body, tokenize='ascii')")
    conn.execute("UPDATE meta SET value = 'older' WHERE key = 'lexical_hash'")
    conn.commit()
    conn.close()
    calls = encoder.calls
    summary = build(plain_repo, encoder)
    assert summary.rebuilt_reason == "the lexical tokenizer changed"
    assert encoder.calls == calls and summary.files_changed == 0
    index = open_index(plain_repo / ".codesearch")
    sql = index.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()[0]
    assert "ascii" not in sql
    assert index.conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0] == first.chunks_total
    assert consistency_problems(plain_repo / ".codesearch") == []


def test_small_updates_write_a_delta_and_large_ones_fold_it_into_the_base(plain_repo, tmp_path, monkeypatch):
    from indexer import vectors

    encoder = FakeEncoder()
    build(plain_repo, encoder)
    base = plain_repo / ".codesearch" / "vectors.faiss"
    delta = plain_repo / ".codesearch" / "vectors.delta.npz"
    before = base.stat()
    (plain_repo / "src" / "queue.go").write_text("package queue\n\nfunc Drain() {}\n")
    build(plain_repo, encoder)
    assert (base.stat().st_mtime_ns, base.stat().st_ino) == (before.st_mtime_ns, before.st_ino)
    assert vectors.read_delta(base, encoder.dim).add_ids.size > 0
    fresh = tmp_path / "fresh"
    index_repository(plain_repo, fresh, FakeEncoder(), OPTIONS)
    assert vectors_by_hash(plain_repo / ".codesearch") == vectors_by_hash(fresh)

    monkeypatch.setattr(vectors, "COMPACT_MINIMUM", 0)
    monkeypatch.setattr(vectors, "COMPACT_FRACTION", 0.0)
    (plain_repo / "src" / "hashmap.c").unlink()
    build(plain_repo, encoder)
    assert base.stat().st_ino != before.st_ino and delta.is_file()
    assert vectors.read_delta(base, encoder.dim).add_ids.size == 0
    fresh2 = tmp_path / "fresh2"
    index_repository(plain_repo, fresh2, FakeEncoder(), OPTIONS)
    assert vectors_by_hash(plain_repo / ".codesearch") == vectors_by_hash(fresh2)


def test_a_delta_of_another_base_is_ignored_and_repaired(plain_repo, tmp_path):
    import shutil

    encoder = FakeEncoder()
    build(plain_repo, encoder)
    base = plain_repo / ".codesearch" / "vectors.faiss"
    old_base = tmp_path / "old.faiss"
    shutil.copy2(base, old_base)
    (plain_repo / "src" / "extra.py").write_text("def extra_helper():\n    return 42\n")
    build(plain_repo, encoder)
    expected = vectors_by_hash(plain_repo / ".codesearch")
    shutil.copy(old_base, base)  # a base from before the delta: the delta no longer belongs to it
    assert vectors_by_hash(plain_repo / ".codesearch") == expected  # readers rebuild in memory
    calls = encoder.calls
    build(plain_repo, encoder)
    assert encoder.calls == calls
    assert vectors_by_hash(plain_repo / ".codesearch") == expected


class RecordingProgress:
    def __init__(self):
        self.events = []

    def stage(self, name, total):
        self.events.append(("stage", name, total))

    def advance(self, n=1, tokens=0):
        self.events.append(("advance", n, tokens))

    def warn(self, path, reason):
        self.events.append(("warn", path, reason))


def test_progress_reports_stages_advances_and_warnings(plain_repo):
    progress = RecordingProgress()
    summary = build(plain_repo, FakeEncoder(), progress=progress)
    stages = [(e[1], e[2]) for e in progress.events if e[0] == "stage"]
    assert [name for name, _ in stages] == ["scan", "chunk", "embed"]
    embed_at = progress.events.index(("stage", "embed", summary.chunks_embedded))
    chunk_at = progress.events.index(next(e for e in progress.events if e[:2] == ("stage", "chunk")))
    chunk_advances = [e for e in progress.events[chunk_at:embed_at] if e[0] == "advance"]
    assert sum(e[1] for e in chunk_advances) == stages[1][1]
    embed_advances = [e for e in progress.events[embed_at:] if e[0] == "advance"]
    assert sum(e[1] for e in embed_advances) == summary.chunks_embedded
    assert sum(e[2] for e in embed_advances) == summary.tokens_embedded > 0
    assert [(e[1], e[2]) for e in progress.events if e[0] == "warn"] == summary.warnings


def test_changing_the_vector_index_kind_rebuilds_faiss_only(plain_repo):
    import faiss

    encoder = FakeEncoder()
    build(plain_repo, encoder)
    calls = encoder.calls
    summary = build(plain_repo, encoder, options=IndexOptions(max_file_bytes=4096, vector_index="ivf"))
    assert summary.rebuilt_reason is None and summary.files_changed == 0 and encoder.calls == calls
    assert faiss.try_extract_index_ivf(open_index(plain_repo / ".codesearch").vectors) is not None


def test_since_after_an_interrupted_rebuild_still_processes_every_invalidated_file(git_repo):
    from indexer import store

    encoder = FakeEncoder()
    build(git_repo, encoder)
    head = git(git_repo, "rev-parse", "HEAD").strip()
    conn = store.connect(git_repo / ".codesearch" / "index.sqlite")
    store.invalidate_all_files(conn)  # as left by a rebuild that was killed before re-chunking
    conn.close()
    summary = build(git_repo, encoder, since=head)
    assert summary.files_changed > 1  # every invalidated file, not just the (no) paths changed since HEAD
    index = open_index(git_repo / ".codesearch")
    assert index.conn.execute("SELECT COUNT(*) FROM files WHERE content_hash IS NULL").fetchone()[0] == 0


def test_a_reader_mid_run_gets_vectors_matching_its_sqlite_snapshot(plain_repo):
    from indexer import store

    build(plain_repo, FakeEncoder())
    conn = store.connect(plain_repo / ".codesearch" / "index.sqlite")
    store.delete_files(conn, ["src/queue.go"])  # as a writer does, before it syncs FAISS
    conn.close()
    index = open_index(plain_repo / ".codesearch")
    chunk_ids = {r[0] for r in index.conn.execute("SELECT id FROM chunks")}
    assert set(index_ids(index.vectors).tolist()) == chunk_ids


@pytest.mark.parametrize("bad", [{"vector_index": "hnsw-ish"}, {"max_file_bytes": 0}, {"embed_batch_size": -1}])
def test_bad_options_fail_before_anything_is_written(bad):
    with pytest.raises(ValueError):
        IndexOptions(**bad)


def test_a_cpp_header_is_parsed_as_cpp_and_a_c_header_as_c(tmp_path):
    # fmtlib writes its C++ in .h files: parsed as C, its class templates came out as syntax errors.
    root = tmp_path / "repo"
    (root / "include").mkdir(parents=True)
    (root / "include" / "args.h").write_text(
        "#pragma once\nnamespace fmt {\ntemplate <typename Context> class basic_format_args {\n public:\n"
        "  int size() const { return size_; }\n private:\n  int size_;\n};\n}  // namespace fmt\n")
    (root / "include" / "uv.h").write_text(
        '#ifdef __cplusplus\nextern "C" {\n#endif\nstruct uv_loop_s {\n  int active;\n};\n'
        "int uv_run(struct uv_loop_s *loop);\n#ifdef __cplusplus\n}\n#endif\n")
    build(root)
    index = open_index(root / ".codesearch")
    try:
        languages = dict(index.conn.execute("SELECT path, language FROM files"))
        symbols = {r[0] for r in index.conn.execute("SELECT symbol FROM chunks WHERE path = 'include/args.h'")}
        chunk_languages = {r[0] for r in index.conn.execute("SELECT language FROM chunks WHERE path = 'include/args.h'")}
    finally:
        index.close()
    assert languages == {"include/args.h": "cpp", "include/uv.h": "c"}
    assert chunk_languages == {"cpp"}
    assert {"fmt.basic_format_args", "fmt.basic_format_args.size"} <= symbols
