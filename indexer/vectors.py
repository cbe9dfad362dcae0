"""The FAISS side of an index: vectors with ids equal to chunk ids, derived from SQLite's embeddings.

Inner product over L2-normalised vectors (cosine). A flat index by default; an IVF index (approximate,
trained on the stored vectors) for large repositories. Two files, each written to a temporary name
and renamed: `vectors.faiss`, the base, and `vectors.delta.npz`, the changes since the base was
written (added vectors, removed ids, and the full id list) so that a small update writes kilobytes
instead of rewriting hundreds of megabytes; the delta is folded into the base once it grows. Whenever
the files are missing, unreadable or disagree with SQLite they are rebuilt from the `embeddings`
table, so a crash between the stores costs a rebuild, never a wrong answer.
"""
from __future__ import annotations

import io
import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from indexer.store import embedded_chunk_ids, embedded_chunks, read_meta, write_meta

VECTOR_INDEX_KINDS = ("auto", "flat", "ivf")
IVF_THRESHOLD = 200_000  # below this many vectors an exact flat scan is fast enough
IVF_PROBE_FRACTION = 16  # search nlist / 16 lists: recall close to exact on code embeddings
DELTA_SUFFIX = ".delta.npz"
# Fold the delta into the base when it holds more than this share of the vectors (or 2,000 of them).
COMPACT_FRACTION = 0.05
COMPACT_MINIMUM = 2_000


def resolve_kind(kind: str, count: int) -> str:
    if kind not in VECTOR_INDEX_KINDS:
        raise ValueError(f"vector index kind must be one of {', '.join(VECTOR_INDEX_KINDS)}, not {kind!r}")
    if kind == "auto":
        return "ivf" if count >= IVF_THRESHOLD else "flat"
    return kind


def build_index(dim: int, kind: str, ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    """A new FAISS index holding the given vectors under the given ids.

    Flat: an IndexIDMap2 over IndexFlatIP. IVF: an IndexIVFFlat keeping the ids itself, with a hash-table
    direct map so that ids can be removed and vectors reconstructed (IndexIDMap2's removal assumes the
    inner index renumbers like a flat one, which IVF does not).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "ivf" and len(ids) >= 2:
        nlist = max(1, min(int(4 * math.sqrt(len(ids))), len(ids) // 39 or 1))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // IVF_PROBE_FRACTION)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(ids):
        index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
    return index


def index_ids(index: faiss.Index) -> np.ndarray:
    """The ids stored in one of our indexes."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    lists = ivf.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy() for i in range(ivf.nlist) if lists.list_size(i)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _write_file_atomic(path: Path, write) -> None:
    """Write via `write(tmp_path)` to a temporary name, flush it to disk, then rename over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_atomic(index: faiss.Index, path: Path) -> None:
    _write_file_atomic(path, lambda tmp: faiss.write_index(index, str(tmp)))


def read_index(path: Path, dim: int) -> faiss.Index | None:
    """The base FAISS index alone, or None when it is missing, unreadable or of another width."""
    if not path.is_file():
        return None
    try:
        index = faiss.read_index(str(path))
        index_ids(index)  # an index that is neither IndexIDMap2 nor IVF is not ours
    except (RuntimeError, AttributeError):
        return None
    return index if index.d == dim else None


@dataclass
class Delta:
    """Changes since the base file was written; valid only for the base whose stamp it records."""

    base_stamp: str
    kind: str
    ids: np.ndarray  # every id that base + delta hold
    add_ids: np.ndarray
    add_vectors: np.ndarray
    removed_ids: np.ndarray  # ids of the base that no longer count

    def apply(self, index: faiss.Index) -> faiss.Index:
        if len(self.removed_ids):
            index.remove_ids(self.removed_ids)
        if len(self.add_ids):
            index.add_with_ids(self.add_vectors, self.add_ids)
        return index


def _delta_path(path: Path) -> Path:
    return path.with_name(path.stem + DELTA_SUFFIX)


def _file_stamp(path: Path) -> str | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def read_delta(path: Path, dim: int, base_stamp: str | None = None) -> Delta | None:
    """The delta of the base at `path` (as stamped when it was read), or None when none belongs to it."""
    base_stamp = base_stamp or _file_stamp(path)
    try:
        with np.load(_delta_path(path)) as data:
            delta = Delta(str(data["base_stamp"]), str(data["kind"]), data["ids"], data["add_ids"],
                          data["add_vectors"], data["removed_ids"])
    except (OSError, KeyError, ValueError):
        return None
    if base_stamp is None or delta.base_stamp != base_stamp or delta.add_vectors.shape[1:] != (dim,):
        return None
    return delta


def _write_delta(path: Path, delta: Delta) -> None:
    def write(tmp: Path) -> None:
        buffer = io.BytesIO()  # np.savez on a path would append ".npz" to the temporary name
        np.savez(buffer, base_stamp=delta.base_stamp, kind=delta.kind, ids=delta.ids, add_ids=delta.add_ids,
                 add_vectors=delta.add_vectors, removed_ids=delta.removed_ids)
        tmp.write_bytes(buffer.getvalue())

    _write_file_atomic(_delta_path(path), write)


def load_effective(path: Path, dim: int) -> faiss.Index | None:
    """Base with its delta applied: the vectors as the last sync left them (None when unreadable)."""
    base_stamp = _file_stamp(path)  # taken first: a writer may replace the base while we read it
    index = read_index(path, dim)
    if index is None:
        return None
    delta = read_delta(path, dim, base_stamp)
    return delta.apply(index) if delta is not None else index


def stored_vector_count(path: Path, dim: int) -> int:
    """How many vectors the files hold: from the delta's id list when it belongs to the base (cheap),
    else by loading them (0 when missing or unreadable)."""
    delta = read_delta(path, dim)
    if delta is not None:
        return len(delta.ids)
    index = load_effective(path, dim)
    return index.ntotal if index is not None else 0


def sync_vectors(conn: sqlite3.Connection, path: Path, model_id: str, dim: int, kind: str) -> dict[str, int]:
    """Make the FAISS files hold exactly the embedded chunks of SQLite; returns what it changed.

    A stamp in the meta table (the kind asked for, SQLite's chunk and embedding counters and both
    files' stats, recorded after the last sync) lets a run that changed nothing skip reading the files at all.
    """
    stamp = _sync_stamp(conn, path, model_id, kind)
    if stamp is not None and stamp == read_meta(conn).get("vectors_stamp"):
        return {"rebuilt": 0, "added": 0, "removed": 0}
    changes = _sync(conn, path, model_id, dim, kind)
    conn.execute("BEGIN IMMEDIATE")
    write_meta(conn, {"vectors_stamp": _sync_stamp(conn, path, model_id, kind)})
    conn.execute("COMMIT")
    return changes


def _sync_stamp(conn: sqlite3.Connection, path: Path, model_id: str, kind: str) -> str | None:
    files = (_file_stamp(path), _file_stamp(_delta_path(path)))
    if None in files:
        return None
    # Chunk ids are never reused, so (max id, count) changes with every insert or delete.
    max_id, count = conn.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM chunks").fetchone()
    embedded = conn.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0]
    return f"{kind}:{max_id}:{count}:{embedded}:{files[0]}:{files[1]}"


def _sync(conn: sqlite3.Connection, path: Path, model_id: str, dim: int, kind: str) -> dict[str, int]:
    expected = embedded_chunk_ids(conn, model_id)
    wanted_kind = resolve_kind(kind, len(expected))
    delta = read_delta(path, dim)
    if delta is not None and delta.kind == wanted_kind:
        stale = np.setdiff1d(delta.ids, expected, assume_unique=True)
        missing = np.setdiff1d(expected, delta.ids, assume_unique=True)
        if not len(stale) and not len(missing):
            return {"rebuilt": 0, "added": 0, "removed": 0}
        kept = ~np.isin(delta.add_ids, stale)
        ids, vectors = embedded_chunks(conn, model_id, dim, ids=missing.tolist())
        grown = Delta(
            delta.base_stamp, wanted_kind, expected,
            np.concatenate([delta.add_ids[kept], ids]),
            np.concatenate([delta.add_vectors[kept], vectors]),
            np.union1d(delta.removed_ids, stale[~np.isin(stale, delta.add_ids)]),
        )
        if len(grown.add_ids) + len(grown.removed_ids) <= max(COMPACT_MINIMUM, COMPACT_FRACTION * len(expected)):
            _write_delta(path, grown)
            return {"rebuilt": 0, "added": int(len(missing)), "removed": int(len(stale))}
    index = load_effective(path, dim)
    if index is not None and _kind_of(index) != wanted_kind:
        index = None
    if index is None:
        ids, vectors = embedded_chunks(conn, model_id, dim)
        changes = {"rebuilt": 1, "added": len(ids), "removed": 0}
        index = build_index(dim, wanted_kind, ids, vectors)
    else:
        changes = _reconcile(index, conn, model_id, dim, expected)
    write_atomic(index, path)
    empty = np.zeros(0, dtype=np.int64)
    _write_delta(path, Delta(_file_stamp(path), wanted_kind, np.sort(index_ids(index)), empty,
                             np.zeros((0, dim), dtype=np.float32), empty))
    return changes


def _reconcile(index: faiss.Index, conn: sqlite3.Connection, model_id: str, dim: int, expected: np.ndarray):
    """Remove the ids SQLite no longer has and add the embedded chunks the index lacks, in memory."""
    current = index_ids(index)
    stale = np.setdiff1d(current, expected, assume_unique=True)
    missing = np.setdiff1d(expected, current, assume_unique=True)
    if len(stale):
        index.remove_ids(stale)
    if len(missing):
        ids, vectors = embedded_chunks(conn, model_id, dim, ids=missing.tolist())
        index.add_with_ids(vectors, ids)
    return {"rebuilt": 0, "added": int(len(missing)), "removed": int(len(stale))}


def remove_vector_files(path: Path) -> None:
    path.unlink(missing_ok=True)
    _delta_path(path).unlink(missing_ok=True)


def _kind_of(index: faiss.Index) -> str:
    return "ivf" if faiss.try_extract_index_ivf(index) is not None else "flat"


def load_vectors(conn: sqlite3.Connection, path: Path, meta: dict[str, str]) -> faiss.Index | None:
    """For searching: the FAISS files, brought in memory into agreement with SQLite's snapshot (a
    writer may be mid-run), or rebuilt from the stored embeddings when unreadable; the files are left
    for the next writer to repair. None for a lexical-only index."""
    model_id, dim = meta.get("model_id"), meta.get("dim")
    if not model_id or not dim:
        return None
    expected = embedded_chunk_ids(conn, model_id)
    index = load_effective(path, int(dim))
    if index is None:
        ids, vectors = embedded_chunks(conn, model_id, int(dim))
        return build_index(int(dim), "flat", ids, vectors)  # exact, and no training for a temporary index
    _reconcile(index, conn, model_id, int(dim), expected)
    return index


def refresh_loaded(conn: sqlite3.Connection, index: faiss.Index, meta: dict[str, str]) -> bool:
    """For a long-lived reader: bring a FAISS index loaded earlier by load_vectors into agreement with
    SQLite's current snapshot, in memory and without reading the files again. False when it cannot
    (another model or width now): then the reader opens the index anew."""
    model_id, dim = meta.get("model_id"), meta.get("dim")
    if index is None or not model_id or not dim or index.d != int(dim):
        return False
    _reconcile(index, conn, model_id, int(dim), embedded_chunk_ids(conn, model_id))
    return True
