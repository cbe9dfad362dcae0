"""The SQLite side of an index: schema and numbered migrations, the read handle, and batched writes.

SQLite is the source of truth (files, chunks, the embedding cache, the FTS5 lexical table, meta);
FAISS is derived from it (see vectors.py). The database runs in WAL mode so that searches read a
consistent snapshot while a writer commits batches.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from indexer.errors import IndexCorrupt, IndexMissing
from indexer.chunking import embed_text
from indexer.lexical import FTS_COLUMNS, FTS_TOKENIZE, fts_row
from indexer.types import Chunk, SourceFile

DB_NAME = "index.sqlite"
VECTORS_NAME = "vectors.faiss"
LOCK_NAME = "lock"

# Numbered migrations; the format version of an index is the number of migrations applied to it.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT,
        language TEXT
    );
    -- AUTOINCREMENT: chunk ids are FAISS ids, so a deleted chunk's id must never come back.
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        kind TEXT NOT NULL,
        symbol TEXT,
        parent TEXT,
        language TEXT,
        start_line INTEGER NOT NULL,
        end_line INTEGER NOT NULL,
        start_byte INTEGER NOT NULL,
        end_byte INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX chunks_file_id ON chunks(file_id);
    CREATE INDEX chunks_content_hash ON chunks(content_hash);
    -- A rowid table: WITHOUT ROWID stores rows of kilobyte-sized vectors poorly.
    CREATE TABLE embeddings (
        model_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        UNIQUE (model_id, content_hash)
    );
    CREATE VIRTUAL TABLE chunks_fts USING fts5(path, symbol, body, tokenize="unicode61");
    """,
)
# chunks_fts is recreated (recreate_fts) with the columns and tokenizer of indexer/lexical.py whenever
# they change, which the meta table's lexical_hash records; migration 1 creates a placeholder.
FORMAT_VERSION = len(MIGRATIONS)
REQUIRED_TABLES = ("meta", "files", "chunks", "embeddings", "chunks_fts")


@dataclass
class Index:
    """Read handle on an index: the SQLite connection, the FAISS index (None when lexical-only), meta."""

    conn: sqlite3.Connection
    vectors: Any
    meta: dict[str, str]
    index_dir: Path

    def close(self) -> None:
        self.conn.close()


def connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db_path), timeout=30.0, isolation_level=None, check_same_thread=False)
    # Big pages pack several 3 KB vectors each (one per 4 KB page otherwise); no-op on an existing file.
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_size_limit=67108864")  # truncate the WAL back to 64 MB after checkpoints
    return conn


def open_for_write(index_dir: Path) -> sqlite3.Connection:
    """Create or migrate the database; the caller holds the write lock."""
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        conn = connect(index_dir / DB_NAME)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise IndexCorrupt(f"{index_dir / DB_NAME} is not a readable SQLite database ({exc})") from exc
    if version > FORMAT_VERSION:
        conn.close()
        raise IndexCorrupt(
            f"{index_dir / DB_NAME} has format version {version}; this codesearch reads up to {FORMAT_VERSION}"
        )
    for number in range(version, FORMAT_VERSION):
        # One transaction per migration, the version bump included: a crash leaves the old version.
        conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[number]} PRAGMA user_version={number + 1}; COMMIT;")
    return conn


def open_index(index_dir: Path | str) -> Index:
    """Open an index for searching (safe while a writer runs). Raises IndexMissing / IndexCorrupt."""
    from indexer.vectors import load_vectors

    index_dir = Path(index_dir)
    db_path = index_dir / DB_NAME
    if not db_path.is_file():
        raise IndexMissing(f"no index at {index_dir} (run `codesearch index` first)")
    conn = check_database(db_path)
    meta = read_meta(conn)
    vectors = load_vectors(conn, index_dir / VECTORS_NAME, meta)
    return Index(conn, vectors, meta, index_dir)


def check_database(db_path: Path) -> sqlite3.Connection:
    """A connection to a database that has our tables at a known format version, or IndexCorrupt."""
    try:
        conn = connect(db_path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise IndexCorrupt(f"{db_path} is not a readable SQLite database ({exc})") from exc
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if version != FORMAT_VERSION or missing:
        conn.close()
        detail = f"missing tables {', '.join(missing)}" if missing else f"format version {version}"
        raise IndexCorrupt(f"{db_path}: {detail}, expected format {FORMAT_VERSION}; rebuild with --full")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {key: value for key, value in conn.execute("SELECT key, value FROM meta")}


def write_meta(conn: sqlite3.Connection, values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))


@dataclass(frozen=True)
class StoredFile:
    id: int
    size: int
    mtime_ns: int
    content_hash: str | None


def stored_files(conn: sqlite3.Connection) -> dict[str, StoredFile]:
    rows = conn.execute("SELECT path, id, size, mtime_ns, content_hash FROM files")
    return {path: StoredFile(i, size, mtime, digest) for path, i, size, mtime, digest in rows}


def replace_file(conn: sqlite3.Connection, source: SourceFile, digest: str, chunks: Sequence[Chunk]) -> None:
    """Store one file with its chunks and FTS rows, replacing what was there (inside the caller's txn)."""
    delete_files(conn, [source.path])
    file_id = conn.execute(
        "INSERT INTO files(path, size, mtime_ns, content_hash, language) VALUES (?, ?, ?, ?, ?)",
        (source.path, source.size, source.mtime_ns, digest, source.language),
    ).lastrowid
    for chunk in chunks:
        chunk_id = conn.execute(
            "INSERT INTO chunks(file_id, path, kind, symbol, parent, language, start_line, end_line,"
            " start_byte, end_byte, content_hash, tokens, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                file_id, chunk.path, chunk.kind, chunk.symbol, chunk.parent, chunk.language, chunk.start_line,
                chunk.end_line, chunk.start_byte, chunk.end_byte, chunk.content_hash, chunk.tokens, chunk.text,
            ),
        ).lastrowid
        conn.execute(
            f"INSERT INTO chunks_fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{', ?' * len(FTS_COLUMNS)})",
            (chunk_id, *fts_row(chunk)),
        )


def update_stat(conn: sqlite3.Connection, source: SourceFile) -> None:
    """The file was touched but its content is unchanged: remember the new stat only."""
    conn.execute(
        "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (source.size, source.mtime_ns, source.path)
    )


def delete_files(conn: sqlite3.Connection, paths: Iterable[str]) -> None:
    for path in paths:
        row = conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            continue
        conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?)", row)
        conn.execute("DELETE FROM chunks WHERE file_id = ?", row)
        conn.execute("DELETE FROM files WHERE id = ?", row)


def recreate_fts(conn: sqlite3.Connection) -> None:
    """Rebuild chunks_fts from the chunks with today's lexical columns, tokenizer and row values
    (inside the caller's transaction)."""
    conn.execute("DROP TABLE IF EXISTS chunks_fts")
    conn.execute(f"CREATE VIRTUAL TABLE chunks_fts USING fts5({', '.join(FTS_COLUMNS)}, tokenize=\"{FTS_TOKENIZE}\")")
    rows = conn.execute(
        "SELECT id, path, kind, symbol, parent, language, start_line, end_line, start_byte, end_byte, text"
        " FROM chunks"
    )
    insert = f"INSERT INTO chunks_fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{', ?' * len(FTS_COLUMNS)})"
    chunks = ((row[0], Chunk(*row[1:], embed_text="", content_hash="")) for row in rows.fetchall())
    conn.executemany(insert, ((chunk_id, *fts_row(chunk)) for chunk_id, chunk in chunks))


def invalidate_all_files(conn: sqlite3.Connection) -> None:
    """Force every file through the chunker on the next pass (the chunker or its tokenizer changed)."""
    conn.execute("UPDATE files SET size = -1, content_hash = NULL")


def chunks_missing_vectors(conn: sqlite3.Connection, model_id: str) -> list[tuple[str, str, int]]:
    """(content_hash, embed text, tokens) of each distinct chunk text that has no embedding yet."""
    rows = conn.execute(
        "SELECT c.content_hash, c.path, c.symbol, c.text, MAX(c.tokens) FROM chunks c"
        " LEFT JOIN embeddings e ON e.model_id = ? AND e.content_hash = c.content_hash"
        " WHERE e.content_hash IS NULL GROUP BY c.content_hash ORDER BY MAX(c.tokens)",
        (model_id,),
    )
    return [(digest, embed_text(path, symbol, text), tokens) for digest, path, symbol, text, tokens in rows]


def store_embeddings(conn: sqlite3.Connection, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO embeddings(model_id, content_hash, vector) VALUES (?, ?, ?)",
        [(model_id, digest, np.asarray(v, dtype=np.float32).tobytes()) for digest, v in zip(hashes, vectors)],
    )


def embedded_chunks(conn: sqlite3.Connection, model_id: str, dim: int, ids: Sequence[int] | None = None):
    """(chunk ids, float32 vectors) of the chunks (all, or those in `ids`) embedded by the model."""
    query = (
        "SELECT c.id, e.vector FROM chunks c JOIN embeddings e"
        " ON e.model_id = ? AND e.content_hash = c.content_hash"
    )
    if ids is None:
        rows = conn.execute(query + " ORDER BY c.id", (model_id,)).fetchall()
    else:
        rows = []
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            batch = list(ids[start : start + 500])
            rows += conn.execute(query + f" WHERE c.id IN ({','.join('?' * len(batch))})", (model_id, *batch))
    chunk_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return chunk_ids, vectors


def embedded_chunk_ids(conn: sqlite3.Connection, model_id: str) -> np.ndarray:
    rows = conn.execute(
        "SELECT c.id FROM chunks c JOIN embeddings e ON e.model_id = ? AND e.content_hash = c.content_hash",
        (model_id,),
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
