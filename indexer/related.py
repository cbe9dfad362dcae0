"""The chunks most like the one at a given file and line: by stored vectors, or lexically without them.

    from indexer.related import related_chunks
    hits = related_chunks(open_index(index_dir), "src/cache.py", 42, k=10)

The chunk at the line is the smallest one whose span holds it (a method before its class, a class before
its file). Its neighbours are found by the cosine of its stored embedding against the FAISS index; an
index without vectors falls back to BM25 over the chunk's own identifiers. The chunk itself and the
chunks of the same file that contain it or lie inside it are left out: they are where the caller is.
"""
from __future__ import annotations

from collections import Counter

from indexer.lexical import code_tokens
from indexer.search import SearchOptions, _load_hits, _mark_stale, lexical_candidates, semantic_candidates
from indexer.store import embedded_chunks
from indexer.types import Hit

LEXICAL_TERMS = 40  # identifiers of the chunk used as the lexical query (the longest, most frequent)


class NoChunkAt(LookupError):
    """No indexed chunk covers the given path and line."""


def chunk_at(conn, path: str, line: int) -> tuple[int, int, int, str]:
    """(chunk id, start line, end line, text) of the smallest chunk of `path` whose span holds `line`."""
    row = conn.execute(
        "SELECT id, start_line, end_line, text FROM chunks WHERE path = ? AND start_line <= ? AND end_line >= ?"
        " ORDER BY end_line - start_line, id LIMIT 1",
        (path, line, line),
    ).fetchone()
    if row is None:
        indexed = conn.execute("SELECT 1 FROM files WHERE path = ?", (path,)).fetchone()
        where = f"{path}:{line}" if indexed else path
        raise NoChunkAt(f"no indexed chunk at {where}" + ("" if indexed else " (the file is not in the index)"))
    return row


def related_chunks(index, path: str, line: int, k: int = 10, root: str | None = None) -> list[Hit]:
    """Up to `k` hits most similar to the chunk at `path:line`, best first (see the module docstring)."""
    chunk_id, start, end, text = chunk_at(index.conn, path, line)
    pool = 4 * k + 20  # room for the chunks left out
    vector = _stored_vector(index, chunk_id)
    if vector is not None:
        scored, part = semantic_candidates(index, vector, pool, filtered=False), "semantic"
    else:
        scored, part = lexical_candidates(index.conn, _query_terms(text), pool, SearchOptions()), "lexical"
    hits = {h.chunk_id: h for h in _load_hits(index.conn, [cid for cid, _ in scored], SearchOptions())}
    related: list[Hit] = []
    for cid, score in scored:
        hit = hits.get(cid)
        if hit is None or cid == chunk_id or (hit.path == path and _nested(hit, start, end)):
            continue
        hit.score = score
        hit.explain = {part: round(score, 6), "score": round(score, 6)}
        related.append(hit)
        if len(related) == k:
            break
    _mark_stale(index, related, root)
    return related


def _nested(hit: Hit, start: int, end: int) -> bool:
    inside = start <= hit.start_line and hit.end_line <= end
    around = hit.start_line <= start and end <= hit.end_line
    return inside or around


def _stored_vector(index, chunk_id: int):
    model_id, dim = index.meta.get("model_id"), index.meta.get("dim")
    if index.vectors is None or not model_id or not dim:
        return None
    ids, vectors, _ = embedded_chunks(index.conn, model_id, int(dim), ids=[chunk_id])  # damaged ones left out
    return vectors[:1] if len(ids) else None


def _query_terms(text: str) -> list[str]:
    counts = Counter(t for t in code_tokens(text) if len(t) >= 3 and not t.isdigit())
    return sorted(counts, key=lambda t: (-len(t) * counts[t], t))[:LEXICAL_TERMS]
