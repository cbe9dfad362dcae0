"""Index a repository: walk -> stat pass -> read, chunk and store changed files -> embed what is missing
-> sync FAISS. Each stage commits its own batches, so a killed run is resumed by the next one.
"""
from __future__ import annotations

import datetime
import os
import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from indexer import confined, store
from indexer.chunking import chunk_file, content_hash, embed_text, estimate_tokens
from indexer.languages import header_language
from indexer.index import check_folder, move_aside, repair_derived, sync_vectors
from indexer.lock import WriteLock
from indexer.state import FileDiff, Identity, diff_files, racy_after
from indexer.vectors import remove_vector_files, resolve_kind
from indexer.walk import WALK_VERSION, SkipFile, git_changed_paths, git_commit, list_files, read_source


DEFAULT_MAX_TOKENS = 8192  # chunk size of a lexical-only index: the context of the default model


@dataclass(frozen=True)
class IndexOptions:
    max_file_bytes: int = 1_000_000  # larger files are skipped ("too_large")
    max_line_length: int = 1_000  # a longer line marks a minified or generated file ("minified")
    # "flat" (exact), "ivf" (approximate), "auto": ivf from 200k vectors. A change rebuilds FAISS only.
    vector_index: str = "auto"
    files_per_commit: int = 200  # chunked files per SQLite transaction
    embed_batch_size: int = 32  # texts per encoder call (and per committed batch of embeddings)
    embed_batch_tokens: int = 65_536  # cap on the tokens of one encoder call

    # The fields that change which files and chunks get indexed; their hash is stored in the meta table.
    CONTENT_FIELDS = ("max_file_bytes", "max_line_length")

    def __post_init__(self) -> None:
        resolve_kind(self.vector_index, 0)  # a bad kind fails here, not after the chunking
        for name in ("max_file_bytes", "max_line_length", "files_per_commit", "embed_batch_size", "embed_batch_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"IndexOptions.{name} must be at least 1, not {getattr(self, name)}")


class Progress(Protocol):
    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int = 1, tokens: int = 0) -> None: ...

    def warn(self, path: str, reason: str) -> None: ...


class _Silent:
    def stage(self, name, total):
        pass

    def advance(self, n=1, tokens=0):
        pass

    def warn(self, path, reason):
        pass


@dataclass
class IndexSummary:
    files_new: int = 0
    files_changed: int = 0
    files_deleted: int = 0
    files_unchanged: int = 0
    chunks_total: int = 0
    chunks_embedded: int = 0  # distinct chunk texts sent to the encoder in this run
    chunks_reused: int = 0  # chunks written in this run whose vector came from the embedding cache
    tokens_embedded: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    lexical_only: bool = False
    rebuilt_reason: str | None = None  # why every file was re-chunked or every vector rebuilt, if so
    repaired: list[str] = field(default_factory=list)  # damage found and repaired by this run


def index_repository(root, index_dir, encoder, options: IndexOptions, *, since=None, full=False, progress=None):
    """Bring the index at `index_dir` up to date with the files under `root`; returns what it did.

    Damaged derived parts (FTS5 table, FAISS files, cached embeddings) are rebuilt by any run; a damaged
    database (or a file where the index folder belongs) raises IndexCorrupt, and with `full` is moved
    aside (kept as `<name>.corrupt-<time>`) and built anew."""
    started = time.monotonic()
    root, index_dir = Path(root).resolve(), Path(index_dir)
    progress = progress or _Silent()
    summary = IndexSummary(lexical_only=encoder is None)
    if full and index_dir.exists() and not index_dir.is_dir():
        summary.repaired.append(f"moved the file named like the index folder into it: {_file_into_folder(index_dir)}")
    check_folder(index_dir)
    confined.refuse_symlinks(index_dir)
    with WriteLock(index_dir, store.LOCK_NAME):
        db_path = index_dir / store.DB_NAME
        if full and store.database_problem(db_path):
            summary.repaired.append(f"moved the damaged database to {move_aside(db_path).name}")
            remove_vector_files(index_dir / store.VECTORS_NAME)  # derived from the database moved aside
        conn = store.open_for_write(index_dir)
        try:
            only = git_changed_paths(root, since) if since else None  # before any write: REV may be bad
            summary.rebuilt_reason = _adopt_identity(conn, index_dir, Identity.of(encoder, options), full, encoder)
            model = (encoder.model_id, encoder.dim) if encoder is not None else (None, None)
            summary.repaired += repair_derived(conn, index_dir, *model, thorough=full)
            stored = store.stored_files(conn)
            meta = store.read_meta(conn)
            if summary.rebuilt_reason or any(f.content_hash is None for f in stored.values()):
                only = None  # files invalidated by this or an interrupted run need the full pass
            if stored and meta.get("walk_version") != str(WALK_VERSION):
                only = None  # files listed by older walk rules may be listed no more
            progress.stage("scan", None)
            scan_started_ns = time.time_ns()
            listing = list_files(root, max_file_bytes=options.max_file_bytes, index_dir=index_dir, only_paths=only)
            progress.advance(len(listing.files))
            summary.skipped.update(listing.skipped)
            for path, reason in listing.warnings:
                _warn(summary, progress, path, reason)
            diff = diff_files(listing.files, stored, only, racy_after(meta.get("scan_started_ns")))
            first_new_chunk = conn.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0]
            _chunk_and_store(conn, diff, stored, encoder, options, summary, progress)
            if encoder is not None:
                summary.chunks_reused = _count_embedded(conn, encoder.model_id, first_new_chunk)
                _embed_missing(conn, encoder, options, summary, progress)
                _sync_vectors(conn, index_dir, encoder, options, summary, progress)
            _finish(conn, root, summary, scan_started_ns)
        except sqlite3.DatabaseError as exc:
            store.raise_as_corrupt(db_path, exc, conn)
        finally:
            conn.close()
    summary.seconds = time.monotonic() - started
    return summary


def _file_into_folder(index_dir: Path) -> str:
    """Keep a file found where the index folder belongs inside the new folder (not beside it, where the
    walk would index it as a file of the repository)."""
    aside = move_aside(index_dir)
    index_dir.mkdir()
    os.replace(aside, index_dir / aside.name)
    return aside.name


def _sync_vectors(conn, index_dir: Path, encoder, options: IndexOptions, summary: IndexSummary, progress) -> None:
    changes = sync_vectors(conn, index_dir, encoder.model_id, encoder.dim, options.vector_index)
    if changes["dropped"]:  # damaged cached vectors found while syncing: embed them again
        summary.repaired.append(f"{changes['dropped']} damaged cached embeddings")
        _embed_missing(conn, encoder, options, summary, progress)
        sync_vectors(conn, index_dir, encoder.model_id, encoder.dim, options.vector_index)


def _adopt_identity(conn, index_dir: Path, identity: Identity, full: bool, encoder) -> str | None:
    """Record what this run builds with; invalidate the chunks or vectors that it makes obsolete."""
    meta = store.read_meta(conn)
    chunk_changes = identity.chunk_changes(meta) if meta else []
    # Adding vectors to a lexical-only index changes no model: there was none.
    model_changes = identity.model_changes(meta) if meta.get("model_id") and identity.model_id else []
    reason = "full rebuild requested" if full else None
    conn.execute("BEGIN IMMEDIATE")
    if not full and chunk_changes == ["token_counter"]:
        recut = _recount_tokens(conn, encoder)
        chunk_changes = [] if not recut else chunk_changes
    elif full or chunk_changes:
        store.invalidate_all_files(conn)
    if not reason and (chunk_changes or model_changes):
        reason = f"the {', '.join(chunk_changes + model_changes)} changed"
    if meta.get("lexical_hash") != identity.lexical_hash:
        store.recreate_fts(conn)  # an FTS5 table's tokenizer is fixed when the table is created
        reason = reason or ("the lexical tokenizer changed" if meta else None)
    if identity.model_id and (full or model_changes):
        # Vectors of another model or other weights are useless: drop them and the FAISS file.
        conn.execute("DELETE FROM embeddings WHERE model_id != ? OR ?", (identity.model_id, bool(model_changes)))
        remove_vector_files(index_dir / store.VECTORS_NAME)
    if identity.model_id is None or not meta:
        # A lexical-only index has no vectors; a new database's chunk ids start again at 1, so vector
        # files found beside it belong to another database (one emptied or moved aside).
        remove_vector_files(index_dir / store.VECTORS_NAME)
    store.write_meta(conn, identity.as_meta() | {"indexed_at": None})
    conn.execute("COMMIT")
    return reason


def _recount_tokens(conn, encoder) -> int:
    """Another tokenizer sizes the chunks now (say a lexical-only index gets its model): keep each file
    whose chunks are all whole and still fit, with new token counts; invalidate the others, which a
    fresh build would cut differently. Returns how many files were invalidated."""
    count_tokens = encoder.count_tokens if encoder is not None else estimate_tokens
    max_tokens = encoder.max_tokens if encoder is not None else DEFAULT_MAX_TOKENS
    rows = conn.execute(
        "SELECT id, file_id, kind, symbol, start_byte, end_byte, path, text FROM chunks ORDER BY file_id, start_byte"
    ).fetchall()
    counts = count_tokens([embed_text(path, symbol, text) for _, _, _, symbol, _, _, path, text in rows])
    by_file: dict[int, list[tuple]] = {}
    for row, tokens in zip(rows, counts):
        by_file.setdefault(row[1], []).append((*row[:6], tokens))
    invalidated = 0
    for file_id, chunks in by_file.items():
        if all(c[6] <= max_tokens for c in chunks) and not _has_split_pieces(chunks):
            conn.executemany("UPDATE chunks SET tokens = ? WHERE id = ?", [(c[6], c[0]) for c in chunks])
        else:
            conn.execute("UPDATE files SET size = -1, content_hash = NULL WHERE id = ?", (file_id,))
            invalidated += 1
    return invalidated


def _has_split_pieces(chunks: list[tuple]) -> bool:
    """Whether a file was cut into pieces: several file chunks, or a definition continued by the next
    chunk of the same kind and symbol. Rows: (id, file_id, kind, symbol, start_byte, end_byte, tokens)."""
    if sum(c[2] == "file" for c in chunks) > 1:
        return True
    ends = {(c[2], c[3], c[5]) for c in chunks}
    return any((c[2], c[3], c[4]) in ends for c in chunks)


# Skips worth a line each; the others (binary, too_large, ...) are expected and only counted. A refused
# symlink reaches here only when a file or folder was swapped for one after the walk listed it.
_WARNED_SKIPS = ("unreadable", "invalid_utf8", "vanished", "symlinked_directory", "symlink_outside_root",
                 "not_regular_file")


def _chunk_and_store(conn, diff: FileDiff, stored, encoder, options: IndexOptions, summary, progress) -> None:
    """Read, hash and chunk each new or touched file; store it with its chunks, in batched transactions."""
    count_tokens = encoder.count_tokens if encoder is not None else estimate_tokens
    max_tokens = encoder.max_tokens if encoder is not None else DEFAULT_MAX_TOKENS
    candidates = diff.new + diff.touched
    progress.stage("chunk", len(candidates))
    summary.files_unchanged = diff.unchanged
    conn.execute("BEGIN IMMEDIATE")
    store.delete_files(conn, diff.deleted)
    summary.files_deleted = len(diff.deleted)
    for done, source in enumerate(candidates, 1):
        old = stored.get(source.path)
        try:
            data, _ = read_source(
                source, max_file_bytes=options.max_file_bytes, max_line_length=options.max_line_length
            )
        except SkipFile as skip:
            summary.skipped[skip.reason] = summary.skipped.get(skip.reason, 0) + 1
            if skip.reason in _WARNED_SKIPS:
                _warn(summary, progress, source.path, skip.detail)
            if old is not None:  # indexed before, not indexable now
                store.delete_files(conn, [source.path])
                summary.files_deleted += 1
            data = None
        if data is not None:
            digest = content_hash(data)
            if old is not None and old.content_hash == digest:
                store.update_stat(conn, source)
                summary.files_unchanged += 1
            else:
                language = header_language(source.path, source.language, data)
                if language != source.language:
                    source = replace(source, language=language)
                chunked = chunk_file(source, data, count_tokens, max_tokens)
                if chunked.parse_failed:
                    _warn(summary, progress, source.path, "syntax errors; chunked by lines")
                store.replace_file(conn, source, digest, chunked.chunks)
                if old is None:
                    summary.files_new += 1
                else:
                    summary.files_changed += 1
        progress.advance(1)
        if done % options.files_per_commit == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
    conn.execute("COMMIT")


def _count_embedded(conn, model_id: str, first_new_chunk: int) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM chunks c JOIN embeddings e ON e.model_id = ? AND e.content_hash = c.content_hash"
        " WHERE c.id > ?",
        (model_id, first_new_chunk),
    ).fetchone()[0]


def _embed_missing(conn, encoder, options: IndexOptions, summary: IndexSummary, progress) -> None:
    """Embed each chunk text that has no vector yet, committing one encoder batch at a time."""
    missing = store.chunks_missing_vectors(conn, encoder.model_id)
    progress.stage("embed", len(missing))
    start = 0
    while start < len(missing):
        end, tokens = start, 0
        while end < len(missing) and end - start < options.embed_batch_size and (
            end == start or tokens + missing[end][2] <= options.embed_batch_tokens
        ):
            tokens += missing[end][2]
            end += 1
        batch = missing[start:end]
        vectors = encoder.embed_documents([text for _, text, _ in batch])
        conn.execute("BEGIN IMMEDIATE")
        store.store_embeddings(conn, encoder.model_id, [digest for digest, _, _ in batch], vectors)
        conn.execute("COMMIT")
        summary.chunks_embedded += len(batch)
        summary.tokens_embedded += tokens
        progress.advance(len(batch), tokens)
        start = end


def _finish(conn, root: Path, summary: IndexSummary, scan_started_ns: int) -> None:
    summary.chunks_total = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    last_commit = git_commit(root, "HEAD")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    conn.execute("BEGIN IMMEDIATE")
    store.write_meta(
        conn,
        {
            "indexed_at": now,
            "last_commit": last_commit,
            "scan_started_ns": str(scan_started_ns),
            "root": str(root),
            "walk_version": str(WALK_VERSION),
        },
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # fold the run's writes into the main file


def _warn(summary: IndexSummary, progress, path: str, reason: str) -> None:
    summary.warnings.append((path, reason))
    progress.warn(path, reason)
