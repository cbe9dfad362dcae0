"""An index kept open for a long-lived server: the query encoder loaded once, the index reopened when
another process rebuilt it, and the operations the socket and the MCP tools offer.

Every query first compares a cheap generation stamp of the index (the database file's inode and the meta
rows a writer changes) with the one it has open: after another process's update the loaded FAISS index
is brought up to date in memory; after a rebuild under a new model or file, the index is opened anew.
Reads go on while a writer runs (SQLite WAL); one lock serialises queries on the shared connection.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from codesearch import core, encoders
from codesearch.errors import UsageProblem
from codesearch.settings import Settings
from indexer.types import Hit

_GENERATION_KEYS = ("indexed_at", "scan_started_ns", "vectors_stamp", "model_id", "dim")
_TORCH_THREADS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
QUERY_THREADS = min(2, _TORCH_THREADS)  # a query's ~300 small operations gain little from more


def quiet_openmp() -> None:
    """Let idle OpenMP threads sleep rather than spin (unless the user chose): torch's and FAISS's
    runtimes each keep a pool, and on a busy machine a spinning thread takes the core its partner
    needs: warm queries at 100k chunks took 0.75 s p50 with the default policy against 0.48-0.58 s
    with this one beside two busy processes on 2 cores, and about the same on a quiet machine
    (BENCHMARKS.md, Latency). Read when a runtime starts: call before torch loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _threads_for_torch(count: int) -> None:
    """torch's intra-op threads for the calling thread (and the threads it starts): QUERY_THREADS for a
    query, every core for a reindex, which embeds batches."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)


class IndexService:
    """One repository's index with its query encoder; thread-safe."""

    def __init__(self, root: Path, settings: Settings, model_chosen: bool):
        from indexer.index import open_index

        self.root, self.settings, self.model_chosen = root, settings, model_chosen
        self.index_dir = settings.index_path(root)
        self._lock = threading.Lock()  # queries and refreshes share one SQLite connection and FAISS index
        self._reindexing = threading.Lock()
        self.index = open_index(self.index_dir)
        self.index.keep_term_scores()
        self.warmed_terms: int | None = None  # common terms whose BM25 is kept (None while warming)
        self._warming = 0  # the warm-up in progress: a later one (after a change) stops the earlier
        self._closed = False
        self._generation = self._read_generation()
        # The torch Encoder in float32 (unless another precision is configured): the CLI's query vectors
        # within 1e-5, so the same answers, in half the time of its torch-free one.
        self.encoder, self.unavailable = core.load_query_encoder(self.index, settings, model_chosen, queries=True)
        self._documents = None  # the torch encoder for reindexing, loaded at the first reindex that needs it
        self.started_at = time.time()
        self.last_reindex: dict | None = None
        self.watching = False  # set by the server when a file watcher feeds reindex()

    def warm_up(self, asked_only: bool = False) -> threading.Thread:
        """Compute, in a thread, the BM25 of the index's common terms (indexer.bm25.common_terms), the
        costliest part of a query that meets them for the first time; one term at a time under the
        query lock, so queries wait for one term at most. After the index changed (`asked_only`), only
        the terms queries have asked for: a reindex on every save must not cost a whole warm-up."""
        self._warming += 1
        self.warmed_terms = None
        thread = threading.Thread(target=self._warm, args=(self._warming, asked_only), name="warm-up", daemon=True)
        thread.start()
        return thread

    def _warm(self, run: int, asked_only: bool) -> None:
        import sqlite3

        from indexer.bm25 import common_terms
        from indexer.store import DB_NAME

        try:
            with self._lock:
                cache = self.index.term_cache
                asked = list(reversed(cache.asked)) if cache is not None else []  # latest first
            terms = [(term, False) for term in asked]
            if not asked_only:
                terms += [(term, True) for term in common_terms(self.index_dir / DB_NAME)]
            warmed = 0
            for term, token in terms:
                with self._lock:
                    if self._closed or run != self._warming or self.index.term_cache is None:
                        return
                    warmed += self.index.term_cache.warm(term, token=token)
        except sqlite3.Error:  # a damaged or vanished index: the next query reports it
            return
        if run == self._warming:
            self.warmed_terms = warmed

    @property
    def model_id(self) -> str | None:
        return self.encoder.model_id if self.encoder is not None else None

    def _document_encoder(self):
        """Documents are embedded at the configured precision (`auto`: bfloat16 where the checkpoint
        and the CPU allow it): the query encoder when it already runs at that precision, else a second
        Encoder of the same model, loaded when a reindex first has something to embed."""
        if self.settings.dtype == getattr(self.encoder, "dtype", None):
            return self.encoder
        if self._documents is None or self._documents.model_id != self.encoder.model_id:
            self._documents, unavailable = encoders.load_if_available(
                self.encoder.model_id, self.settings.device, self.settings.dtype, self.settings.batch_tokens)
            if self._documents is None:
                raise UsageProblem(f"the index holds vectors and the model is not available: {unavailable}")
            if (self._documents.dtype, self._documents.device) == (getattr(self.encoder, "dtype", None),
                                                                   getattr(self.encoder, "device", None)):
                self._documents = self.encoder  # `auto` chose float32 here: one model in memory
        return self._documents

    def search(self, request: core.SearchRequest) -> core.Answer:
        with self._lock:
            self._refresh()
            _threads_for_torch(QUERY_THREADS)
            return core.search(self.index, request, self.encoder, self.unavailable, self.root)

    def related(self, path: str, line: int, k: int) -> list[Hit]:
        from indexer.related import related_chunks

        with self._lock:
            self._refresh()
            return related_chunks(self.index, path, line, k, root=str(self.root))

    def status(self):
        from indexer.state import index_status

        return index_status(self.root, self.index_dir)

    def reindex(self, since: str | None = None):
        """An incremental update with the loaded encoder (IndexSummary); one at a time. Raises IndexLocked
        when another process is writing the index."""
        from indexer.pipeline import IndexOptions, index_repository

        with self._reindexing:
            with self._lock:
                self._refresh()
                holds_vectors = self.index.vectors is not None
            if holds_vectors and self.encoder is None:
                raise UsageProblem(f"the index holds vectors and the model is not available: {self.unavailable}")
            _threads_for_torch(_TORCH_THREADS)
            batch = {"embed_batch_tokens": self.settings.batch_tokens} if self.settings.batch_tokens else {}
            summary = index_repository(self.root, self.index_dir, self._document_encoder() if holds_vectors else None,
                                       IndexOptions(**batch), since=since)
            with self._lock:
                self._refresh()
            self.last_reindex = {"at": time.time(), "seconds": round(summary.seconds, 3),
                                 "files_changed": summary.files_new + summary.files_changed + summary.files_deleted}
            return summary

    def indexed_paths(self, paths: set[str]) -> set[str]:
        """Those of the repository-relative paths that the index holds a file for."""
        found: set[str] = set()
        batch = sorted(paths)
        with self._lock:
            for start in range(0, len(batch), 500):
                part = batch[start:start + 500]
                found.update(r[0] for r in self.index.conn.execute(
                    f"SELECT path FROM files WHERE path IN ({', '.join('?' * len(part))})", part))
        return found

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.index.close()

    # --- keeping the open index current ---------------------------------------------------------------

    def _read_generation(self) -> tuple:
        try:
            st = os.stat(self.index_dir / "index.sqlite")
            inode = (st.st_dev, st.st_ino)
        except OSError:
            inode = None
        marks = self.index.conn.execute(
            f"SELECT key, value FROM meta WHERE key IN ({', '.join('?' * len(_GENERATION_KEYS))})", _GENERATION_KEYS
        ).fetchall()
        return inode, tuple(sorted(marks))

    def _refresh(self) -> None:
        """Follow what another writer did since the last query (the caller holds the lock)."""
        from indexer.index import open_index
        from indexer.store import read_meta
        from indexer.index import refresh_loaded

        generation = self._read_generation()
        if generation == self._generation:
            return
        same_file = generation[0] == self._generation[0] and generation[0] is not None
        meta = read_meta(self.index.conn)
        if same_file and meta.get("model_id") == self.index.meta.get("model_id") and (
            self.index.vectors is None and not meta.get("model_id")
            or refresh_loaded(self.index.conn, self.index.vectors, meta)
        ):
            self.index.meta = meta
        else:
            fresh = open_index(self.index_dir)  # raises IndexMissing/IndexCorrupt: the query reports it
            fresh.keep_term_scores()
            if self.index.term_cache is not None:
                fresh.term_cache.asked = self.index.term_cache.asked  # what to warm up again
            self.index.close()
            self.index = fresh
            generation = self._read_generation()
        self._generation = generation  # read before catching up: a later write shows at the next query
        if self._warming:
            self.warm_up(asked_only=True)  # the kept scores were dropped with the change
        wanted = core.query_model(self.index, self.settings, self.model_chosen)
        if core.has_vectors(self.index) and (self.encoder is None or self.encoder.model_id != wanted):
            self.encoder, self.unavailable = encoders.load_if_available(
                wanted, self.settings.device, self.settings.dtype, self.settings.batch_tokens, queries=True)
