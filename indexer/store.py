"""The SQLite side of an index: schema and numbered migrations, checks of the file's health, and
batched reads and writes.

SQLite is the source of truth (files, chunks, the embedding cache, meta); the FTS5 lexical table is
derived from the chunks and rebuilt here when damaged, FAISS is derived from the embeddings (vectors.py,
wired by index.py). The database runs in WAL mode so that searches read a consistent snapshot while a
writer commits batches.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, NoReturn, Sequence

import numpy as np

from indexer.errors import REPAIR_FULL, REPAIR_UPDATE, IndexCorrupt, IndexError_, IndexMissing
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
    """Create or migrate the database; the caller holds the write lock. A missing FTS5 table is
    recreated (it is derived from the chunks); any other damage raises IndexCorrupt."""
    index_dir.mkdir(parents=True, exist_ok=True)
    db_path = index_dir / DB_NAME
    try:
        conn = connect(db_path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise IndexCorrupt(f"{db_path} is not a readable SQLite database ({exc})") from exc
    if version > FORMAT_VERSION:
        conn.close()
        raise IndexCorrupt(f"{db_path} has format version {version}; this codesearch reads up to {FORMAT_VERSION}")
    try:
        if version == 0 and _tables(conn):  # never add our tables to another program's database
            raise IndexCorrupt(f"{db_path} is not a codesearch index (it holds other tables)")
        for number in range(version, FORMAT_VERSION):
            # One transaction per migration, the version bump included: a crash leaves the old version.
            conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[number]} PRAGMA user_version={number + 1}; COMMIT;")
        if "chunks_fts" not in _tables(conn):
            conn.execute("BEGIN IMMEDIATE")
            recreate_fts(conn)
            conn.execute("COMMIT")
        _check_tables(conn, db_path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise_as_corrupt(db_path, exc)
    except IndexError_:
        conn.close()
        raise
    return conn


def check_database(db_path: Path) -> sqlite3.Connection:
    """A connection to a database that has our tables at a known format version and a readable meta
    table, or IndexCorrupt naming the command that repairs it."""
    try:
        conn = connect(db_path)
    except sqlite3.DatabaseError as exc:
        raise IndexCorrupt(f"{db_path} is not a readable SQLite database ({exc})") from exc
    try:
        _check_tables(conn, db_path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise IndexCorrupt(f"{db_path} is not a readable SQLite database ({exc})") from exc
    except IndexError_:
        conn.close()
        raise
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _check_tables(conn: sqlite3.Connection, db_path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = _tables(conn)
    if version == 0 and not tables:
        raise IndexMissing(f"no index at {db_path.parent} yet (the first `codesearch index` did not finish)")
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if version != FORMAT_VERSION or [t for t in missing if t != "chunks_fts"]:
        detail = f"missing tables {', '.join(missing)}" if missing else f"format version {version}"
        raise IndexCorrupt(f"{db_path}: {detail}, expected format {FORMAT_VERSION}")
    if missing:
        raise IndexCorrupt(f"{db_path}: the lexical table chunks_fts is missing", repair=REPAIR_UPDATE)
    problem = meta_problem(read_meta(conn))
    if problem:
        raise IndexCorrupt(f"{db_path}: {problem}")


# Meta values that are numbers: a garbled one would fail later, far from its cause. (Hashes and ids
# are only compared: a garbled one reads as "built with other settings", and the run rebuilds.)
_META_FORMS = {
    "format_version": r"\d+", "chunker_version": r"\d+", "walk_version": r"\d+", "dim": r"[1-9]\d*",
    "scan_started_ns": r"\d+",
}


def meta_problem(meta: dict[str, str]) -> str | None:
    """What is wrong with the meta table's values, or None."""
    for key, form in _META_FORMS.items():
        value = meta.get(key)
        if value is not None and not (isinstance(value, str) and re.fullmatch(form, value)):
            return f"the meta table's {key} is garbled ({str(value)[:40]!r})"
    if meta.get("format_version", str(FORMAT_VERSION)) != str(FORMAT_VERSION):
        return f"the meta table says format {meta['format_version']}, the file format {FORMAT_VERSION}"
    if bool(meta.get("dim")) != bool(meta.get("model_id")):
        return "the meta table has a model without a width, or a width without a model"
    return None


def raise_as_corrupt(db_path: Path, exc: sqlite3.DatabaseError, conn: sqlite3.Connection | None = None) -> NoReturn:
    """Raise the IndexCorrupt that a database error found in use stands for; errors that are not damage
    (a busy database, a full disk, no permission) are raised as they are. With `conn`, a missing or
    incomplete FTS5 table (which any update rebuilds) is told apart from other damage."""
    name = getattr(exc, "sqlite_errorname", "")  # Python 3.11+; extended names like SQLITE_CORRUPT_VTAB
    damaged = name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_MISMATCH")) or name == "SQLITE_ERROR" or (
        not name and any(word in str(exc) for word in ("malformed", "not a database", "no such", "corrupt"))
    )
    if not damaged:
        raise exc
    try:  # damage that the next update sees (and so repairs), or damage only a full rebuild reads
        lexical = conn is not None and fts_problem(conn) is not None
    except sqlite3.DatabaseError:
        lexical = False
    raise IndexCorrupt(f"{db_path} is damaged ({exc})", repair=REPAIR_UPDATE if lexical else REPAIR_FULL) from exc


def database_problem(db_path: Path) -> str | None:
    """A thorough check (SQLite's quick_check, our tables, the meta values) of the database at
    `db_path`; what is wrong with it, or None when it is sound or absent. For a full rebuild."""
    if not db_path.exists():
        return None
    try:
        conn = check_database(db_path)
    except IndexMissing:  # an empty file: the interrupted first run's, which a run simply fills
        return None
    except IndexCorrupt as exc:
        return str(exc)
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
        return None if result == "ok" else f"{db_path} fails SQLite's quick_check ({result})"
    except sqlite3.DatabaseError as exc:
        return f"{db_path} is damaged ({exc})"
    finally:
        conn.close()


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
    """(chunk ids, float32 vectors, damaged content hashes) of the chunks (all, or those in `ids`)
    embedded by the model. Stored vectors of another width or with non-finite values are damaged: they
    are left out of the ids and vectors, and their hashes listed so that a writer can drop them."""
    query = (
        "SELECT c.id, e.content_hash, e.vector FROM chunks c JOIN embeddings e"
        " ON e.model_id = ? AND e.content_hash = c.content_hash"
    )
    if ids is None:
        rows = conn.execute(query + " ORDER BY c.id", (model_id,)).fetchall()
    else:
        rows = []
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            batch = list(ids[start : start + 500])
            rows += conn.execute(query + f" WHERE c.id IN ({','.join('?' * len(batch))})", (model_id, *batch))
    width = dim * 4
    damaged = sorted({r[1] for r in rows if len(r[2]) != width})
    rows = [r for r in rows if len(r[2]) == width]
    chunk_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        damaged = sorted(set(damaged) | {rows[i][1] for i in np.flatnonzero(~finite)})
        chunk_ids, vectors = chunk_ids[finite], vectors[finite]
    return chunk_ids, vectors, damaged


def embedded_chunk_ids(conn: sqlite3.Connection, model_id: str) -> np.ndarray:
    """Ids of the chunks that have a stored vector of the model (damaged ones included: telling them
    apart reads every vector, which embedded_chunks does for the ones it is asked for)."""
    rows = conn.execute(
        "SELECT c.id FROM chunks c JOIN embeddings e ON e.model_id = ? AND e.content_hash = c.content_hash",
        (model_id,),
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def damaged_embeddings(conn: sqlite3.Connection, model_id: str, dim: int, *, thorough: bool = False) -> list[str]:
    """Content hashes of the model's cached vectors that are damaged: of another width (a cheap check on
    the blobs' lengths) and, when `thorough`, with non-finite values (which reads every vector)."""
    damaged = [r[0] for r in conn.execute(
        "SELECT content_hash FROM embeddings WHERE model_id = ? AND length(vector) != ?", (model_id, dim * 4)
    )]
    if thorough:
        rows = conn.execute(
            "SELECT content_hash, vector FROM embeddings WHERE model_id = ? AND length(vector) = ?", (model_id, dim * 4)
        )
        while batch := rows.fetchmany(4096):
            vectors = np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(len(batch), dim)
            damaged += [batch[i][0] for i in np.flatnonzero(~np.isfinite(vectors).all(axis=1))]
    return damaged


def drop_embeddings(conn: sqlite3.Connection, model_id: str, hashes: Sequence[str]) -> None:
    """Forget cached vectors (damaged ones): their chunks are embedded again (inside the caller's txn)."""
    conn.executemany("DELETE FROM embeddings WHERE model_id = ? AND content_hash = ?",
                     [(model_id, digest) for digest in hashes])


def fts_problem(conn: sqlite3.Connection, *, thorough: bool = False) -> str | None:
    """What is wrong with the FTS5 table, or None. Cheap: whether it exists with a row per chunk.
    `thorough` also matches rows to chunks and reads the whole index through a temporary fts5vocab
    table (read-only, so a reader can check while a writer runs), which finds damage inside it."""
    if "chunks_fts" not in _tables(conn):
        return "the lexical table chunks_fts is missing"
    try:
        # The docsize shadow table holds one row per FTS5 row: a count without reading the documents.
        fts, chunks = (conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("chunks_fts_docsize", "chunks"))
        if fts != chunks:
            return f"the lexical table holds {fts} rows for {chunks} chunks"
        if thorough:
            unmatched = conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE id NOT IN (SELECT rowid FROM chunks_fts)"
            ).fetchone()[0]
            if unmatched:
                return f"the lexical table lacks the rows of {unmatched} chunks"
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_fts_terms USING fts5vocab(main, chunks_fts, 'row')")
            conn.execute("SELECT COUNT(*), SUM(cnt) FROM temp.chunks_fts_terms").fetchone()
    except sqlite3.DatabaseError as exc:
        return f"the lexical table is damaged ({exc})"
    return None
