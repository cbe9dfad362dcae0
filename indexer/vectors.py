"""The FAISS side of an index: vectors with ids equal to chunk ids, derived from SQLite's embeddings.
This module knows files and arrays only; indexer/index.py reads SQLite and hands the vectors down.

Inner product over L2-normalised vectors (cosine). A flat index by default; an IVF index (approximate,
trained on the stored vectors) for large repositories. `score_query` searches either for one query;
a flat one with a single matrix-vector product over FAISS's own storage (see there). Two files, each written to a temporary name
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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

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


def score_query(index: faiss.Index, query: np.ndarray, k: int, also: Sequence[int] = ()) -> tuple[
        list[tuple[int, float]], list[tuple[int, float]]]:
    """For one (1, d) query: its best `k` (id, inner product) pairs, best first (ties by id), and the
    scores of those of the `also` ids that the index holds (None for IVF, whose vectors are not scanned).

    A flat index is scored exactly with one BLAS matrix-vector product over a zero-copy view of FAISS's
    storage and a partial sort: FAISS's flat search of a single query runs on one core through a heap,
    twice as slow at 100k vectors (BENCHMARKS.md, Latency). The views live only during the call, so
    they cannot outlive a change to the index; the id -> row map is kept while the id list is equal.
    """
    total = int(index.ntotal)
    k = min(k, total)
    flat = _flat_storage(index)
    if flat is None:
        scores, ids = index.search(np.ascontiguousarray(query, dtype=np.float32), k) if k else ([[]], [[]])
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0], None
    matrix, ids = flat
    scores = _products(matrix, np.ascontiguousarray(query[0], dtype=np.float32))
    if k <= 0:
        top = np.zeros(0, dtype=np.int64)
    else:
        top = np.arange(total)
        if k < total:  # the k best, and any tied with the k-th, so that ties go by id
            top = np.flatnonzero(scores >= scores[np.argpartition(-scores, k - 1)[k - 1]])
        top = top[np.lexsort((ids[top], -scores[top]))][:k]
    best = [(int(i), float(s)) for i, s in zip(ids[top], scores[top])]
    rows = _rows_of(ids, also)
    return best, [(int(i), float(scores[r])) for i, r in zip(also, rows) if r >= 0]


def _products(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """matrix @ query. In a process that runs torch (a server: its encoder), on torch's thread pool:
    numpy's BLAS would start a second pool, whose threads spin after each product and take the cores
    the next query's embedding needs (a warm hybrid query at 100k chunks: p50 159 ms against 123 with
    BLAS on one thread, BENCHMARKS.md, Latency). Without torch (a CLI search), numpy's BLAS."""
    torch = sys.modules.get("torch")
    if torch is None or not len(matrix):
        return matrix @ query
    with torch.inference_mode():
        return torch.mv(torch.from_numpy(matrix), torch.from_numpy(query)).numpy()


def _flat_storage(index: faiss.Index) -> tuple[np.ndarray, np.ndarray] | None:
    """(vectors (n, d), ids (n,)) viewing an IndexIDMap2 over a flat index's memory, or None (IVF)."""
    if not isinstance(index, faiss.IndexIDMap2):
        return None
    inner = faiss.downcast_index(index.index)
    if not isinstance(inner, faiss.IndexFlat) or inner.metric_type != faiss.METRIC_INNER_PRODUCT:
        return None
    total = int(index.ntotal)
    if not total:
        return np.zeros((0, index.d), dtype=np.float32), np.zeros(0, dtype=np.int64)
    matrix = faiss.rev_swig_ptr(inner.get_xb(), total * index.d).reshape(total, index.d)
    return matrix, faiss.rev_swig_ptr(index.id_map.data(), total)


_row_map: tuple[np.ndarray, np.ndarray] | None = None  # (the id list it was made for, id -> row or -1)


def _rows_of(ids: np.ndarray, wanted: Sequence[int]) -> np.ndarray:
    """The row of each wanted id in `ids` (-1 when absent), through a map kept while `ids` is unchanged."""
    global _row_map
    wanted = np.asarray(wanted, dtype=np.int64)
    if not len(wanted) or not len(ids):
        return np.full(len(wanted), -1, dtype=np.int64)
    kept = _row_map  # one read: another thread may replace it meanwhile
    if kept is None or not np.array_equal(kept[0], ids):
        inverse = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
        inverse[ids] = np.arange(len(ids))
        kept = _row_map = (ids.copy(), inverse)
    inverse = kept[1]
    inside = (wanted >= 0) & (wanted < len(inverse))
    return np.where(inside, inverse[np.where(inside, wanted, 0)], -1)


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
    except Exception:  # noqa: BLE001 - a damaged file raises zipfile's, zlib's or numpy's errors: rebuilt
        return None
    if base_stamp is None or delta.base_stamp != base_stamp:
        return None
    id_arrays = (delta.ids, delta.add_ids, delta.removed_ids)
    if delta.add_vectors.dtype != np.float32 or delta.add_vectors.shape != (len(delta.add_ids), dim) or not all(
        a.ndim == 1 and a.dtype == np.int64 for a in id_arrays
    ):
        return None  # not a delta we wrote: rebuilt like an unreadable one
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


def stored_vector_ids(path: Path, dim: int) -> np.ndarray:
    """The ids the files hold: the delta's id list when it belongs to the base (cheap), else by loading
    them (none when missing or unreadable)."""
    delta = read_delta(path, dim)
    if delta is not None:
        return np.asarray(delta.ids, dtype=np.int64)
    index = load_effective(path, dim)
    return index_ids(index) if index is not None else np.zeros(0, dtype=np.int64)


@dataclass
class SyncPlan:
    """What bringing the files into agreement with SQLite's ids takes, decided from one read of them.

    `needed`: the ids whose vectors the caller reads from SQLite and hands to `apply_sync`
    (None: all of them, for a rebuild)."""

    path: Path
    dim: int
    kind: str
    needed: np.ndarray | None
    stale: np.ndarray
    delta: Delta | None = None  # grow this delta (a small change)...
    index: faiss.Index | None = None  # ...or reconcile this loaded index; neither: rebuild

    @property
    def noop(self) -> bool:
        return self.needed is not None and not len(self.needed) and not len(self.stale)


def plan_sync(path: Path, dim: int, kind: str, expected: np.ndarray, *, writing: bool = True) -> SyncPlan:
    """Read the FAISS files once and plan how they come to hold exactly the `expected` ids.

    Writing: a small change grows the delta; a larger one reconciles the loaded index (written back whole);
    missing, unreadable or other-kind files are rebuilt. Reading (`writing=False`): the files are loaded,
    and reconciled or rebuilt in memory only."""
    empty = np.zeros(0, dtype=np.int64)
    wanted_kind = resolve_kind(kind, len(expected))
    if writing:
        delta = read_delta(path, dim)
        if delta is not None and delta.kind == wanted_kind:
            stale = np.setdiff1d(delta.ids, expected, assume_unique=True)
            missing = np.setdiff1d(expected, delta.ids, assume_unique=True)
            grown = (np.count_nonzero(~np.isin(delta.add_ids, stale)) + len(missing)
                     + len(np.union1d(delta.removed_ids, stale[~np.isin(stale, delta.add_ids)])))
            if grown <= max(COMPACT_MINIMUM, COMPACT_FRACTION * len(expected)) or not (len(stale) or len(missing)):
                return SyncPlan(path, dim, wanted_kind, missing, stale, delta=delta)
    index = load_effective(path, dim)
    if index is not None and writing and _kind_of(index) != wanted_kind:
        index = None
    if index is None:
        return SyncPlan(path, dim, wanted_kind if writing else "flat", None, empty)
    current = index_ids(index)
    stale = np.setdiff1d(current, expected, assume_unique=True)
    return SyncPlan(path, dim, wanted_kind, np.setdiff1d(expected, current, assume_unique=True), stale, index=index)


def apply_sync(plan: SyncPlan, ids: np.ndarray, vectors: np.ndarray, *, write: bool = True) -> tuple[faiss.Index | None, dict[str, int]]:
    """Carry out `plan` with the vectors of the needed ids (some may be missing: damaged in SQLite).
    Returns the resulting index (None when only the delta was written) and what changed."""
    changes = {"rebuilt": int(plan.delta is None and plan.index is None), "added": int(len(ids)),
               "removed": int(len(plan.stale))}
    if plan.delta is not None:
        if plan.noop:
            return None, changes
        delta = plan.delta
        kept = ~np.isin(delta.add_ids, plan.stale)
        held = np.union1d(np.setdiff1d(delta.ids, plan.stale, assume_unique=True), ids)
        _write_delta(plan.path, Delta(
            delta.base_stamp, plan.kind, held,
            np.concatenate([delta.add_ids[kept], ids]),
            np.concatenate([delta.add_vectors[kept], vectors]),
            np.union1d(delta.removed_ids, plan.stale[~np.isin(plan.stale, delta.add_ids)]),
        ))
        return None, changes
    if plan.index is None:
        index = build_index(plan.dim, plan.kind, ids, vectors)
    else:
        index = plan.index
        if len(plan.stale):
            index.remove_ids(plan.stale)
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    if write:
        write_atomic(index, plan.path)
        empty = np.zeros(0, dtype=np.int64)
        _write_delta(plan.path, Delta(_file_stamp(plan.path), plan.kind, np.sort(index_ids(index)), empty,
                                      np.zeros((0, plan.dim), dtype=np.float32), empty))
    return index, changes


def files_stamp(path: Path) -> str | None:
    """The stats of both files (None when one is missing): unchanged stats mean unchanged contents."""
    files = (_file_stamp(path), _file_stamp(_delta_path(path)))
    return None if None in files else f"{files[0]}:{files[1]}"


def remove_vector_files(path: Path) -> None:
    path.unlink(missing_ok=True)
    _delta_path(path).unlink(missing_ok=True)


def _kind_of(index: faiss.Index) -> str:
    return "ivf" if faiss.try_extract_index_ivf(index) is not None else "flat"
