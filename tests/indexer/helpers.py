"""Readers of a built index that the indexer tests compare against each other."""
from __future__ import annotations

import numpy as np

from indexer.index import open_index
from indexer.vectors import index_ids


def chunk_rows(index_dir) -> list[tuple]:
    """Every chunk as comparable values (no ids: two builds number their chunks differently)."""
    index = open_index(index_dir)
    try:
        return sorted(
            index.conn.execute(
                "SELECT path, kind, symbol, parent, language, start_line, end_line, start_byte, end_byte,"
                " content_hash, tokens, text FROM chunks"
            ).fetchall(),
            key=repr,
        )
    finally:
        index.close()


def vectors_by_hash(index_dir) -> dict[str, bytes]:
    """The FAISS vector of each chunk, keyed by the chunk's content hash."""
    index = open_index(index_dir)
    try:
        ids = index_ids(index.vectors)
        hashes = dict(index.conn.execute("SELECT id, content_hash FROM chunks").fetchall())
        assert set(ids.tolist()) == set(hashes), "FAISS ids must be exactly the chunk ids"
        return {hashes[int(i)]: index.vectors.reconstruct(int(i)).astype(np.float32).tobytes() for i in ids}
    finally:
        index.close()


def consistency_problems(index_dir) -> list[str]:
    """What is wrong between the tables of an index (empty when it is consistent)."""
    index = open_index(index_dir)
    conn = index.conn
    try:
        problems = []
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check failed")
        orphans = conn.execute("SELECT COUNT(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)").fetchone()
        if orphans[0]:
            problems.append(f"{orphans[0]} chunks without a file")
        fts = conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        if fts != chunks:
            problems.append(f"{fts} FTS rows for {chunks} chunks")
        unmatched = conn.execute(
            "SELECT COUNT(*) FROM chunks_fts WHERE rowid NOT IN (SELECT id FROM chunks)"
        ).fetchone()[0]
        if unmatched:
            problems.append(f"{unmatched} FTS rows without a chunk")
        hashed_without_chunks = conn.execute(
            "SELECT COUNT(*) FROM files f WHERE content_hash IS NOT NULL AND size > 0 AND NOT EXISTS"
            " (SELECT 1 FROM chunks c WHERE c.file_id = f.id) AND language IS NOT NULL AND size > 2"
        ).fetchone()[0]
        if hashed_without_chunks:
            problems.append(f"{hashed_without_chunks} files stored without their chunks")
        return problems
    finally:
        index.close()
