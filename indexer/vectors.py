"""The FAISS side of an index: vectors with ids equal to chunk ids, derived from SQLite's embeddings.

Inner product over L2-normalised vectors (cosine). A flat index by default; an IVF index (approximate,
trained on the stored vectors) for large repositories. The file is written to a temporary name and
renamed, and whenever it is missing, unreadable or disagrees with SQLite it is rebuilt from the
`embeddings` table, so a crash between the two stores costs a rebuild, never a wrong answer.
"""
from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path

import faiss
import numpy as np

from indexer.store import embedded_chunk_ids, embedded_chunks

VECTOR_INDEX_KINDS = ("auto", "flat", "ivf")
IVF_THRESHOLD = 200_000  # below this many vectors an exact flat scan is fast enough
IVF_PROBE_FRACTION = 16  # search nlist / 16 lists: recall close to exact on code embeddings


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


def write_atomic(index: faiss.Index, path: Path) -> None:
    """Write to a temporary name, flush it to disk, then rename over the old file."""
    tmp = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_index(path: Path, dim: int) -> faiss.Index | None:
    """The stored FAISS index, or None when it is missing, unreadable or of another width."""
    if not path.is_file():
        return None
    try:
        index = faiss.read_index(str(path))
        index_ids(index)  # an index that is not an IndexIDMap2 is not ours
    except (RuntimeError, AttributeError):
        return None
    return index if index.d == dim else None


def sync_vectors(conn: sqlite3.Connection, path: Path, model_id: str, dim: int, kind: str) -> dict[str, int]:
    """Make the FAISS file hold exactly the embedded chunks of SQLite; returns what it changed."""
    expected = embedded_chunk_ids(conn, model_id)
    wanted_kind = resolve_kind(kind, len(expected))
    index = read_index(path, dim)
    if index is not None and _kind_of(index) != wanted_kind:
        index = None
    if index is None:
        ids, vectors = embedded_chunks(conn, model_id, dim)
        write_atomic(build_index(dim, wanted_kind, ids, vectors), path)
        return {"rebuilt": 1, "added": len(ids), "removed": 0}
    current = index_ids(index)
    stale = np.setdiff1d(current, expected, assume_unique=True)
    missing = np.setdiff1d(expected, current, assume_unique=True)
    if len(stale):
        index.remove_ids(stale)
    if len(missing):
        ids, vectors = embedded_chunks(conn, model_id, dim, ids=missing.tolist())
        index.add_with_ids(vectors, ids)
    if len(stale) or len(missing):
        write_atomic(index, path)
    return {"rebuilt": 0, "added": int(len(missing)), "removed": int(len(stale))}


def _kind_of(index: faiss.Index) -> str:
    return "ivf" if faiss.try_extract_index_ivf(index) is not None else "flat"


def load_vectors(conn: sqlite3.Connection, path: Path, meta: dict[str, str]) -> faiss.Index | None:
    """For searching: the FAISS file when it agrees with SQLite, else one rebuilt in memory from the
    stored embeddings (the file is left for the next writer to repair). None for a lexical-only index."""
    model_id, dim = meta.get("model_id"), meta.get("dim")
    if not model_id or not dim:
        return None
    expected = embedded_chunk_ids(conn, model_id)
    index = read_index(path, int(dim))
    if index is not None and index.ntotal == len(expected):
        return index
    ids, vectors = embedded_chunks(conn, model_id, int(dim))
    return build_index(int(dim), resolve_kind(meta.get("vector_index", "auto"), len(ids)), ids, vectors)
