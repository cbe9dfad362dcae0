"""What an index was built with, what changed since, and the index's state for the CLI.

`Identity` is the set of facts that, when they change, invalidate stored chunks or vectors (format
version, chunker version, options hash, token counter, model id, weights hash, width). `diff_files`
is the stat pass of an incremental run. `index_status` reports missing / corrupt / stale / current
honestly: it opens the database, checks its tables and the FAISS file, and re-does the stat pass
(hashing the candidates) to list the files changed since the last run.
"""
from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from indexer import store
from indexer.chunking import CHUNKER_VERSION, content_hash
from indexer.errors import REPAIR_FULL, REPAIR_UPDATE, IndexCorrupt, IndexMissing
from indexer.index import check_folder
from indexer.lexical import FTS_COLUMNS, FTS_TOKENIZE, fts_row
from indexer.types import Chunk, SourceFile
from indexer.vectors import stored_vector_ids
from indexer.walk import SkipFile, list_files, read_source


@dataclass(frozen=True)
class Identity:
    """The meta-table facts an index is built with; stored as strings under these key names."""

    format_version: str
    chunker_version: str
    options_hash: str
    token_counter: str  # the model whose tokenizer sized the chunks, or "estimate" (lexical-only)
    model_id: str | None
    weights_hash: str | None
    dim: str | None
    lexical_hash: str = ""  # the FTS5 columns, tokenizer and row values (indexer/lexical.py)

    @classmethod
    def of(cls, encoder, options) -> "Identity":
        return cls(
            format_version=str(store.FORMAT_VERSION),
            chunker_version=str(CHUNKER_VERSION),
            options_hash=options_hash(options),
            token_counter=f"{encoder.model_id}@{encoder.fingerprint}" if encoder is not None else "estimate",
            model_id=encoder.model_id if encoder is not None else None,
            weights_hash=encoder.fingerprint if encoder is not None else None,
            dim=str(encoder.dim) if encoder is not None else None,
            lexical_hash=lexical_hash(),
        )

    def as_meta(self) -> dict[str, str | None]:
        return asdict(self)

    def chunk_changes(self, meta: dict[str, str]) -> list[str]:
        """Which facts that shape the chunks differ from the stored ones."""
        return [k for k in ("chunker_version", "options_hash", "token_counter") if meta.get(k) != getattr(self, k)]

    def model_changes(self, meta: dict[str, str]) -> list[str]:
        return [k for k in ("model_id", "weights_hash", "dim") if meta.get(k) != getattr(self, k)]


def lexical_hash() -> str:
    """Fingerprint of the lexical contract: its columns, tokenizer, and what fts_row makes of a probe."""
    probe = Chunk("src/HttpClient.py", "method", "HttpClient.getHTTPResponse", "HttpClient", "python", 1, 1, 0, 1,
                  "def get_http_response(self, url_v2): return café_42", "", "")
    material = json.dumps([FTS_COLUMNS, FTS_TOKENIZE, fts_row(probe)])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def options_hash(options) -> str:
    """Hash of the options that change what is indexed (not of batch sizes and other pacing)."""
    relevant = {k: getattr(options, k) for k in options.CONTENT_FIELDS}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


# File systems stamp mtimes from a coarse clock (a few ms); stay clear of it.
RACY_MARGIN_NS = 50_000_000


@dataclass
class FileDiff:
    new: list[SourceFile] = field(default_factory=list)
    touched: list[SourceFile] = field(default_factory=list)  # stat differs; content may not
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0


def diff_files(
    listed: list[SourceFile],
    stored: dict[str, store.StoredFile],
    only_paths: set[str] | None = None,
    racy_after_ns: int | None = None,
) -> FileDiff:
    """The stat pass: compare size and mtime_ns of the listed files with what the index stored.

    As in git's "racy" check, a file whose stored mtime is not older than the scan that stored it
    (`racy_after_ns`) may have been rewritten within the clock's granularity, so it is re-hashed.
    """
    diff = FileDiff()
    seen = set()
    for source in listed:
        seen.add(source.path)
        old = stored.get(source.path)
        if old is None:
            diff.new.append(source)
        elif (
            old.size != source.size
            or old.mtime_ns != source.mtime_ns
            or old.content_hash is None
            or (racy_after_ns is not None and old.mtime_ns >= racy_after_ns)
        ):
            diff.touched.append(source)
        else:
            diff.unchanged += 1
    scope = stored.keys() if only_paths is None else (only_paths & stored.keys())
    diff.deleted = sorted(p for p in scope if p not in seen)
    return diff


class IndexState(str, enum.Enum):
    MISSING = "missing"
    CORRUPT = "corrupt"
    STALE = "stale"
    CURRENT = "current"


@dataclass
class IndexStatus:
    state: IndexState
    reason: str
    files: int = 0
    chunks: int = 0
    vectors: int = 0
    model_id: str | None = None
    last_commit: str | None = None
    indexed_at: str | None = None
    changed_files: list[str] = field(default_factory=list)
    repair: str | None = REPAIR_UPDATE  # the one command that makes the index current (None: it is)


def index_status(root, index_dir, encoder=None, *, options=None) -> IndexStatus:
    """The index's state and the one command that repairs it. With `encoder` (and `options`), also
    whether they match what built it."""
    from indexer.pipeline import IndexOptions

    root, index_dir = Path(root).resolve(), Path(index_dir)
    db_path = index_dir / store.DB_NAME
    try:
        check_folder(index_dir)
        if not db_path.is_file():
            return IndexStatus(IndexState.MISSING, f"no index at {index_dir}")
        conn = store.check_database(db_path)
    except IndexMissing as exc:
        return IndexStatus(IndexState.MISSING, str(exc))
    except IndexCorrupt as exc:
        return IndexStatus(IndexState.CORRUPT, str(exc), repair=exc.repair)
    try:
        meta = store.read_meta(conn)
        status = IndexStatus(
            IndexState.CURRENT,
            "up to date",
            files=conn.execute("SELECT COUNT(*) FROM files").fetchone()[0],
            chunks=conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            model_id=meta.get("model_id"),
            last_commit=meta.get("last_commit"),
            indexed_at=meta.get("indexed_at"),
            repair=None,
        )
        if store.fts_problem(conn):  # missing or incomplete: the next update rebuilds it
            return IndexStatus(IndexState.CORRUPT, f"{db_path}: {store.fts_problem(conn)}", repair=REPAIR_UPDATE)
        problem = store.fts_problem(conn, thorough=True)
        if problem:  # damaged inside: found only by reading it whole, as a full rebuild does
            return IndexStatus(IndexState.CORRUPT, f"{db_path}: {problem}", repair=REPAIR_FULL)
        if "indexed_at" not in meta:
            _stale(status, "the last indexing run did not finish")
        if meta.get("model_id") and meta.get("dim"):
            _check_vectors(status, conn, index_dir, meta["model_id"], int(meta["dim"]))
        stored_options = options if options is not None else IndexOptions()
        if encoder is not None or options is not None:
            identity = Identity.of(encoder, stored_options)
            changes = identity.chunk_changes(meta) if options is not None else []
            if encoder is None:  # without an encoder we cannot tell which tokenizer a run would use
                changes = [c for c in changes if c != "token_counter"]
            changes += identity.model_changes(meta) if encoder is not None else []
            if changes:
                _stale(status, f"built with another {', '.join(changes)}; the next run rebuilds it", force=True)
        status.changed_files = _changed_files(conn, root, index_dir, meta, stored_options)
        if status.changed_files:
            _stale(status, f"{len(status.changed_files)} files changed since the last run")
        return status
    except sqlite3.DatabaseError as exc:
        try:
            store.raise_as_corrupt(db_path, exc, conn)
        except IndexCorrupt as corrupt:
            return IndexStatus(IndexState.CORRUPT, str(corrupt), repair=corrupt.repair)
    finally:
        conn.close()


def _stale(status: IndexStatus, reason: str, *, repair: str = REPAIR_UPDATE, force: bool = False) -> None:
    """Mark the index stale for `reason`, unless an earlier reason already did (or `force`); the
    command that repairs it is the stronger of the reasons' commands."""
    if status.state is IndexState.CURRENT or force:
        status.state, status.reason = IndexState.STALE, reason
    if status.repair != REPAIR_FULL:
        status.repair = repair


def _check_vectors(status: IndexStatus, conn, index_dir: Path, model_id: str, dim: int) -> None:
    """Stale when the FAISS files hold other ids than SQLite's embedded chunks (the next update repairs
    them), or cached embeddings are damaged (cut short or non-finite: found by reading them all, as a
    full rebuild does)."""
    damaged = store.damaged_embeddings(conn, model_id, dim, thorough=True)
    if damaged:
        _stale(status, f"{len(damaged)} cached embeddings are damaged", repair=REPAIR_FULL, force=True)
    held = stored_vector_ids(index_dir / store.VECTORS_NAME, dim)
    expected = store.embedded_chunk_ids(conn, model_id)
    status.vectors = len(held)
    if len(expected) < status.chunks or not np.array_equal(np.sort(held), np.sort(expected)):
        _stale(status, f"the vector files hold {status.vectors} vectors, not those of the {status.chunks} chunks;"
                       " the next run repairs them")


def _changed_files(conn, root: Path, index_dir: Path, meta: dict[str, str], options) -> list[str]:
    """Paths added, deleted or modified (by content, not just mtime) since the last run."""
    listing = list_files(root, max_file_bytes=options.max_file_bytes, index_dir=index_dir)
    stored = store.stored_files(conn)
    diff = diff_files(listing.files, stored, racy_after_ns=racy_after(meta.get("scan_started_ns")))
    changed = [s.path for s in diff.new] + diff.deleted
    for source in diff.touched:
        try:
            data, _ = read_source(
                source, max_file_bytes=options.max_file_bytes, max_line_length=options.max_line_length
            )
        except SkipFile:
            changed.append(source.path)
            continue
        if content_hash(data) != stored[source.path].content_hash:
            changed.append(source.path)
    # New files that the indexer would skip (binary, invalid UTF-8...) are not changes to the index.
    return sorted(p for p in changed if p in stored or _indexable(root, p, options))


def racy_after(scan_started_ns: str | None) -> int | None:
    """Files stored with an mtime at or after this instant must be re-hashed (see diff_files)."""
    return int(scan_started_ns) - RACY_MARGIN_NS if scan_started_ns else None


def _indexable(root: Path, path: str, options) -> bool:
    source = SourceFile(path, f"{root}/{path}", 0, 0, None)
    try:
        read_source(source, max_file_bytes=options.max_file_bytes, max_line_length=options.max_line_length)
    except SkipFile:
        return False
    return True
