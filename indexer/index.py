"""An index as a whole: the SQLite database (store.py) and the parts derived from it, the FTS5 table and
the FAISS files (vectors.py). Opens it for searching, and keeps the derived parts in agreement with the
database: each check reads SQLite once and hands what it read down to vectors.py, which never reads SQLite.

Damage to a derived part is repaired without asking: a reader rebuilds the vectors in memory, the next
writer rebuilds missing or disagreeing FAISS files and FTS5 table. Damage that only reading everything
finds (inside the FTS5 index, in cached vectors) is found by `status` and repaired by a full rebuild,
which drops damaged cached vectors so they are embedded again. Damage to the database itself is
reported as IndexCorrupt, whose `repair` names the command.
"""
from __future__ import annotations

import datetime
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer import store, vectors
from indexer.errors import REPAIR_FULL, REPAIR_UPDATE, IndexCorrupt, IndexMissing


@dataclass
class Index:
    """Read handle on an index: the SQLite connection, the FAISS index (None when lexical-only), meta."""

    conn: sqlite3.Connection
    vectors: Any
    meta: dict[str, str]
    index_dir: Path
    term_cache: Any = None  # an indexer.bm25.TermCache, which a long-lived process sets (keep_term_scores)

    def keep_term_scores(self) -> None:
        """Keep each query term's BM25 scores for the next queries (indexer.bm25): for a server."""
        from indexer.bm25 import TermCache

        self.term_cache = TermCache(self.conn)

    def close(self) -> None:
        self.conn.close()


def open_index(index_dir: Path | str) -> Index:
    """Open an index for searching (safe while a writer runs). Raises IndexMissing / IndexCorrupt."""
    index_dir = Path(index_dir)
    check_folder(index_dir)
    db_path = index_dir / store.DB_NAME
    if not db_path.is_file():
        raise IndexMissing(f"no index at {index_dir} (run `codesearch index` first)")
    conn = store.check_database(db_path)
    try:
        problem = store.fts_problem(conn)  # cheap; an emptied table would answer nothing, without a word
        if problem:
            conn.close()
            raise IndexCorrupt(f"{db_path}: {problem}", repair=REPAIR_UPDATE)
        meta = store.read_meta(conn)
        found = load_vectors(conn, index_dir, meta)
    except sqlite3.DatabaseError as exc:
        try:
            store.raise_as_corrupt(db_path, exc, conn)
        finally:
            conn.close()
    return Index(conn, found, meta, index_dir)


def indexed_model(index_dir: Path | str) -> tuple[bool, str | None]:
    """Whether the index was built lexical-only, and the model whose vectors it holds, from its meta
    table alone (so that an update repairing a damaged derived part keeps the model); (False, None)
    without an index or a readable meta table."""
    db_path = Path(index_dir) / store.DB_NAME
    if not db_path.is_file():
        return False, None
    try:
        conn = store.connect(db_path)
    except sqlite3.DatabaseError:
        return False, None
    try:
        meta = store.read_meta(conn)
    except sqlite3.DatabaseError:
        return False, None
    finally:
        conn.close()
    if store.meta_problem(meta):
        return False, None
    # Every run records its identity first (indexer.state.Identity): lexical-only runs without model_id.
    built_lexical = "format_version" in meta and not meta.get("model_id")
    return built_lexical, (meta.get("model_id") if meta.get("dim") else None)


def check_folder(index_dir: Path) -> None:
    """IndexCorrupt when the index folder's name is taken by something that is not a folder."""
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexCorrupt(f"{index_dir} is not a folder, so it holds no index", repair=REPAIR_FULL)


def load_vectors(conn: sqlite3.Connection, index_dir: Path, meta: dict[str, str]):
    """For searching: the FAISS files, brought in memory into agreement with SQLite's snapshot (a
    writer may be mid-run), or rebuilt from the stored embeddings when unreadable; the files are left
    for the next writer to repair. None for a lexical-only index."""
    model_id, dim = meta.get("model_id"), meta.get("dim")
    if not model_id or not dim:
        return None
    expected = store.embedded_chunk_ids(conn, model_id)
    plan = vectors.plan_sync(index_dir / store.VECTORS_NAME, int(dim), "flat", expected, writing=False)
    ids, found, _ = store.embedded_chunks(conn, model_id, int(dim), ids=_listed(plan.needed))
    index, _ = vectors.apply_sync(plan, ids, found, write=False)
    return index


def sync_vectors(conn: sqlite3.Connection, index_dir: Path, model_id: str, dim: int, kind: str) -> dict[str, int]:
    """Make the FAISS files hold exactly the embedded chunks of SQLite; returns what it changed, with
    "dropped": the damaged cached vectors it found and deleted (their chunks need embedding again).

    A stamp in the meta table (the kind asked for, SQLite's chunk and embedding counters and both files'
    stats, recorded after the last sync) lets a run that changed nothing skip reading the files at all.
    """
    path = index_dir / store.VECTORS_NAME
    stamp = _sync_stamp(conn, path, model_id, kind)
    if stamp is not None and stamp == store.read_meta(conn).get("vectors_stamp"):
        return {"rebuilt": 0, "added": 0, "removed": 0, "dropped": 0}
    expected = store.embedded_chunk_ids(conn, model_id)
    plan = vectors.plan_sync(path, dim, kind, expected)
    # Damaged vectors (non-finite values) are left out of `ids`, so the files will not hold them.
    ids, found, damaged = store.embedded_chunks(conn, model_id, dim, ids=_listed(plan.needed))
    _, changes = vectors.apply_sync(plan, ids, found)
    conn.execute("BEGIN IMMEDIATE")
    store.drop_embeddings(conn, model_id, damaged)
    store.write_meta(conn, {"vectors_stamp": None if damaged else _sync_stamp(conn, path, model_id, kind)})
    conn.execute("COMMIT")
    return changes | {"dropped": len(damaged)}


def repair_derived(conn: sqlite3.Connection, index_dir: Path, model_id: str | None, dim: int | None,
                   *, thorough: bool) -> list[str]:
    """Before a writer's run: rebuild a missing or incomplete FTS5 table. `thorough` (a full rebuild,
    which reads everything anyway) also reads the FTS5 index and every cached vector, rebuilds a
    damaged table and drops damaged vectors (embedded again), with the FAISS files that hold their old
    values. An update keeps to the cheap checks: they cost nothing on a run that changes nothing.
    Returns what it repaired, for the summary."""
    repaired = []
    if store.fts_problem(conn, thorough=thorough):
        conn.execute("BEGIN IMMEDIATE")
        store.recreate_fts(conn)
        conn.execute("COMMIT")
        repaired.append("the damaged lexical table")
    if model_id and dim and thorough:
        damaged = store.damaged_embeddings(conn, model_id, dim, thorough=True)
        if damaged:
            conn.execute("BEGIN IMMEDIATE")
            store.drop_embeddings(conn, model_id, damaged)
            conn.execute("COMMIT")
            vectors.remove_vector_files(index_dir / store.VECTORS_NAME)
            repaired.append(f"{len(damaged)} damaged cached embeddings")
    return repaired


def move_aside(path: Path) -> Path:
    """Rename a damaged database (with its WAL files) or index folder to `<name>.corrupt-<UTC time>`:
    kept for inspection, out of the way of a rebuild. Returns the new path."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for side in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + side)
        if sidecar.exists():
            os.replace(sidecar, target.with_name(target.name + side))
    os.replace(path, target)
    return target


def _listed(needed: np.ndarray | None) -> list[int] | None:
    return None if needed is None else needed.tolist()


def _sync_stamp(conn: sqlite3.Connection, path: Path, model_id: str, kind: str) -> str | None:
    files = vectors.files_stamp(path)
    if files is None:
        return None
    # Chunk ids are never reused, so (max id, count) changes with every insert or delete.
    max_id, count = conn.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM chunks").fetchone()
    embedded = conn.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0]
    return f"{kind}:{max_id}:{count}:{embedded}:{files}"


def refresh_loaded(conn: sqlite3.Connection, index, meta: dict[str, str]) -> bool:
    """For a long-lived reader: bring a FAISS index loaded earlier by load_vectors into agreement with
    SQLite's current snapshot, in memory and without reading the files again. False when it cannot
    (another model or width now): then the reader opens the index anew."""
    model_id, dim = meta.get("model_id"), meta.get("dim")
    if index is None or not model_id or not dim or index.d != int(dim):
        return False
    expected = store.embedded_chunk_ids(conn, model_id)
    have = vectors.index_ids(index)
    gone, new = np.setdiff1d(have, expected), np.setdiff1d(expected, have)
    if len(gone):
        index.remove_ids(gone.astype(np.int64))
    if len(new):
        ids, found, _ = store.embedded_chunks(conn, model_id, int(dim), ids=new.tolist())
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(found, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    return True
