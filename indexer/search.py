"""Answer one query against an open index: classify, retrieve (FTS5 and FAISS), fuse, rank.

    from indexer.search import SearchOptions, search
    result = search(open_index(index_dir), "parse_config", encoder_or_None, SearchOptions(k=10))
    result.hits       # list[Hit], best first, each with .explain (the score parts) and .stale
    result.mode       # the mode actually used: "hybrid" degrades to "lexical" without an encoder/vectors
    result.query_kind # "symbol" | "keyword" | "mixed" | "natural" (indexer.query)

A search is `retrieve` (classify the query, run FTS5 and FAISS, load the listed chunks) and then `rank`
(fuse the lists, apply the ranking layer); benchmarks/replay.py keeps the first half's `Candidates` to
run the second again under other constants.

`Hit.explain` holds the score parts: "lexical" (BM25, higher = better), "expanded" (the same with the
query's abbreviations), "semantic" (cosine), each with its "<name>_rank"; "fused"; in hybrid mode with
lexical matches, the query's "agreement" between the two sides, the "semantic_weight" it left the
semantic side (indexer.fusion) and the hit's "lexical_share" of "fused"; the ranking layer's
multipliers (indexer.ranking); and the final "score". `Hit.stale` is set when the file on disk is gone
or its content differs from what was indexed, as `codesearch status` decides it (root: `options.root`,
else the index meta's "root").

`mode="semantic"` without an encoder or without vectors raises `SemanticSearchUnavailable` (a
ValueError). Filters: `langs` (language names), `kinds` ("function" also matches methods), `path_globs`
(fnmatch patterns on the repository-relative path; a leading "!" excludes; a pattern also matches the
files under a directory of that name).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer import bm25, confined, vectors
from indexer.chunking import content_hash
from indexer.errors import SemanticSearchUnavailable
from indexer.store import DB_NAME, raise_as_corrupt
from indexer.fusion import agreement, fuse, semantic_trust
from indexer.query import QueryPlan, plan_query
from indexer.candidates import named_chunks
from indexer.ranking import adjust, aggregate_files, diversify
from indexer.types import Hit

MODES = ("hybrid", "semantic", "lexical")
EXPANDED_WEIGHT = 0.5  # weight of the abbreviation-expanded lexical list relative to the plain one
_KIND_ALIASES = {"function": ("function", "method"), "method": ("method",)}


@dataclass(frozen=True)
class SearchOptions:
    mode: str = "hybrid"  # "hybrid" | "semantic" | "lexical"
    k: int = 10  # number of hits (files, with files_only)
    langs: tuple[str, ...] = ()  # keep only these languages
    path_globs: tuple[str, ...] = ()  # fnmatch globs on the relative path; "!glob" excludes
    kinds: tuple[str, ...] = ()  # keep only these chunk kinds ("function" includes methods)
    files_only: bool = False  # one hit per file, chunk scores aggregated
    root: str | None = None  # repository root for the stale check; default: the index's meta "root"
    fusion: str = "scores"  # "scores" | "rrf" (indexer.fusion); scores measured better (BENCHMARKS.md)
    candidates: int = 200  # candidates taken from each retriever before fusion and ranking
    ranking: bool = True  # apply the ranking layer (off: fused order only, for the benchmark's floor)
    rescore: bool = True  # hybrid: score lexical candidates semantically too, beyond FAISS's top ones


@dataclass
class SearchResult:
    hits: list[Hit]
    mode: str
    query_kind: str
    plan: QueryPlan | None = field(default=None, repr=False)


def search(index, query: str, encoder, options: SearchOptions = SearchOptions()) -> SearchResult:
    """Run `query` against `index` (from indexer.index.open_index); see the module docstring."""
    try:
        return _search(index, query, encoder, options)
    except sqlite3.DatabaseError as exc:  # damage found in use: IndexCorrupt naming the repair
        raise_as_corrupt(Path(getattr(index, "index_dir", ".")) / DB_NAME, exc, index.conn)


@dataclass
class Candidates:
    """What retrieval found for one query, before fusion and the ranking layer: each retriever's ranked
    (chunk id, score) list and the listed chunks that pass the filters, loaded. `rank` turns it into
    hits; benchmarks/replay.py keeps it to rank the same candidates again under other constants."""

    plan: QueryPlan
    mode: str  # the mode actually used
    lists: dict[str, list[tuple[int, float]]]
    hits: dict[int, Hit]


def _search(index, query: str, encoder, options: SearchOptions) -> SearchResult:
    candidates = retrieve(index, query, encoder, options)
    ordered = rank(candidates, options)
    _mark_stale(index, ordered, options.root)
    return SearchResult(hits=ordered, mode=candidates.mode, query_kind=candidates.plan.kind, plan=candidates.plan)


def retrieve(index, query: str, encoder, options: SearchOptions) -> Candidates:
    """Classify `query` and run the retrievers its mode uses (see the module docstring for the modes).
    `search` is this, then `rank`, then the stale marks, with damage reported as IndexCorrupt."""
    if options.mode not in MODES:
        raise ValueError(f"unknown search mode {options.mode!r}; expected one of {', '.join(MODES)}")
    if options.k < 1:
        raise ValueError(f"k must be at least 1, got {options.k}")
    plan = plan_query(query)
    semantic_ready = encoder is not None and getattr(index, "vectors", None) is not None
    mode = options.mode
    if mode == "semantic" and not semantic_ready:
        missing = "no encoder was given" if encoder is None else "the index holds no vectors (lexical-only)"
        raise SemanticSearchUnavailable(f"semantic search needs embeddings, but {missing}")
    if mode == "hybrid" and not semantic_ready:
        mode = "lexical"
    lists = _candidate_lists(index, plan, encoder, mode, options)
    listed = list(dict.fromkeys(cid for ranked in lists.values() for cid, _ in ranked))
    hits = {h.chunk_id: h for h in _load_hits(index.conn, listed, options)}
    return Candidates(plan=plan, mode=mode, lists=lists, hits=hits)


def rank(candidates: Candidates, options: SearchOptions) -> list[Hit]:
    """Fuse the candidate lists and apply the ranking layer: the hits to return, best first (the Hit
    objects of `candidates.hits`, their score and explain set in place)."""
    plan, lists = candidates.plan, candidates.lists
    # The semantic side's weight shrinks when its best candidates hardly match the query's words
    # (indexer.fusion.agreement): a weak model must not sink lexical answers.
    agreed = agreement(lists.get("lexical", ()), lists.get("semantic", ()))
    weights = {"lexical": plan.lexical_weight, "expanded": EXPANDED_WEIGHT * plan.lexical_weight,
               "semantic": plan.semantic_weight * semantic_trust(agreed)}
    fused = fuse(lists, weights, method=options.fusion, min_max=("semantic",))
    # Hybrid with lexical evidence: the ranking layer's definition boost multiplies the lexical share.
    lexical_share = agreed is not None

    ordered: list[Hit] = []
    for f in fused:
        hit = candidates.hits.get(f.chunk_id)
        if hit is None:
            continue
        hit.score = f.score
        hit.explain.update(f.parts)  # rounded below, for the hits returned
        hit.explain["fused"] = f.score
        if lexical_share:
            hit.explain["agreement"] = agreed
            hit.explain["semantic_weight"] = weights["semantic"]
            hit.explain["lexical_share"] = f.shares.get("lexical", 0.0) + f.shares.get("expanded", 0.0)
        ordered.append(hit)
    if options.ranking:
        ordered = adjust(ordered, plan)
    if options.files_only:
        ordered = aggregate_files(ordered, options.k, plan)
    elif options.ranking:
        ordered = diversify(ordered, options.k)
    else:
        ordered = ordered[: options.k]
    parts = {part for name in lists for part in (name, f"{name}_rank")} | {"fused", "agreement", "semantic_weight",
                                                                          "lexical_share"}
    for hit in ordered:
        hit.explain.update({name: round(hit.explain[name], 6) for name in parts & hit.explain.keys()})
        hit.explain["score"] = round(hit.score, 6)
    return ordered


def _candidate_lists(index, plan: QueryPlan, encoder, mode: str, options: SearchOptions) -> dict:
    """The ranked (chunk id, score) lists of each retriever the mode uses."""
    filtered = bool(options.langs or options.kinds or options.path_globs)
    pool = options.candidates * (5 if filtered else 1)
    if options.files_only:
        pool *= 2  # files need their supporting chunks, not just the best ones
    lists: dict[str, list[tuple[int, float]]] = {}
    if mode in ("hybrid", "lexical"):
        cache = getattr(index, "term_cache", None)
        named = named_chunks(index.conn, plan, _sql_filters(options))
        if plan.expansions:
            # Abbreviations ("configuration" -> config) as their own, weaker list: mixed into the main
            # query they add as much noise as they find (BENCHMARKS.md).
            lists["lexical"], lists["expanded"] = bm25.ranked_and_expanded(
                index.conn, plan.terms, plan.expansions, pool, _sql_filters(options), also=named, cache=cache)
        else:
            lists["lexical"] = lexical_candidates(index.conn, plan.terms, pool, options, also=named, cache=cache)
    if mode in ("hybrid", "semantic"):
        query_vector = embed_query(index, encoder, plan.text)
        # Hybrid: lexical candidates get the semantic score they have even when outside FAISS's top
        # `pool`, so fusion compares like with like instead of counting a missing score as zero.
        rescored = (dict.fromkeys(cid for name in ("lexical", "expanded") for cid, _ in lists.get(name, ()))
                    if mode == "hybrid" and options.rescore else ())
        lists["semantic"] = semantic_candidates(index, query_vector, pool, filtered, also=list(rescored))
    return lists


def lexical_candidates(conn, terms: Sequence[str], limit: int, options: SearchOptions, also: Sequence[int] = (),
                       cache=None) -> list[tuple[int, float]]:
    """(chunk id, BM25 score with higher = better), best first, SQL-side language/kind filters applied:
    the top `limit`, plus those of the `also` chunks that match (indexer.bm25; `cache`: a TermCache)."""
    return bm25.ranked(conn, terms, limit, _sql_filters(options), also=also, cache=cache)


def embed_query(index, encoder, query: str) -> np.ndarray:
    """The query's (1, dim) float32 vector; SemanticSearchUnavailable when it does not fit the index."""
    query_vector = np.ascontiguousarray(encoder.embed_queries([query]), dtype=np.float32)
    if query_vector.shape[1] != index.vectors.d:
        raise SemanticSearchUnavailable(
            f"the encoder makes {query_vector.shape[1]}-dim vectors but the index holds {index.vectors.d}-dim"
            " ones; reindex with this model"
        )
    return query_vector


def semantic_candidates(index, query_vector: np.ndarray, limit: int, filtered: bool,
                        also: Sequence[int] = ()) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity), best first (ties by id): the top `limit` (with filters, every
    vector: the filters are applied later), and the `also` chunks outside them that have a vector."""
    total = int(index.vectors.ntotal)
    if total == 0:
        return []
    best, scored = vectors.score_query(index.vectors, query_vector, total if filtered else limit, also)
    if not also:
        return best
    seen = {cid for cid, _ in best}
    if scored is None:  # an IVF index holds no scores of the rest: from the embeddings in SQLite
        scored = stored_similarities(index, query_vector, [cid for cid in also if cid not in seen])
    return sorted(best + [pair for pair in scored if pair[0] not in seen], key=lambda pair: (-pair[1], pair[0]))


def stored_similarities(index, query_vector: np.ndarray, chunk_ids: Sequence[int]) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) for the given chunks, from the embeddings stored in SQLite."""
    model_id = (index.meta or {}).get("model_id")
    if not chunk_ids or not model_id:
        return []
    pairs: list[tuple[int, float]] = []
    for start in range(0, len(chunk_ids), 500):
        batch = list(chunk_ids[start:start + 500])
        rows = index.conn.execute(
            # CROSS JOIN keeps chunks as the outer loop: a few id lookups, not a scan of every embedding.
            "SELECT c.id, e.vector FROM chunks c CROSS JOIN embeddings e"
            f" ON e.model_id = ? AND e.content_hash = c.content_hash WHERE c.id IN ({', '.join('?' * len(batch))})",
            (model_id, *batch),
        ).fetchall()
        rows = [r for r in rows if len(r[1]) == 4 * query_vector.shape[1]]  # damaged ones: next run re-embeds
        if rows:
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            scores = matrix @ query_vector[0]
            pairs.extend((int(r[0]), float(score)) for r, score in zip(rows, scores) if np.isfinite(score))
    return pairs


def _sql_filters(options: SearchOptions) -> tuple[str, list]:
    clauses, params = [], []
    if options.langs:
        clauses.append(f"c.language IN ({', '.join('?' * len(options.langs))})")
        params.extend(options.langs)
    if options.kinds:
        kinds = sorted({k for kind in options.kinds for k in _KIND_ALIASES.get(kind, (kind,))})
        clauses.append(f"c.kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    return "".join(f" AND {c}" for c in clauses), params


def path_matches(path: str, globs: Sequence[str]) -> bool:
    """Whether `path` passes the include/exclude globs (no include globs = everything included)."""
    includes = [g for g in globs if not g.startswith("!")]
    excludes = [g[1:] for g in globs if g.startswith("!")]

    def hit(pattern: str) -> bool:
        pattern = pattern[2:] if pattern.startswith("./") else pattern
        return fnmatchcase(path, pattern) or fnmatchcase(path, pattern.rstrip("/") + "/*")

    if includes and not any(hit(g) for g in includes):
        return False
    return not any(hit(g) for g in excludes)


def _load_hits(conn, chunk_ids: list[int], options: SearchOptions) -> list[Hit]:
    """Hits for the given chunk ids that pass every filter (order not kept)."""
    hits: list[Hit] = []
    where, params = _sql_filters(options)
    for start in range(0, len(chunk_ids), 500):
        batch = chunk_ids[start:start + 500]
        rows = conn.execute(
            "SELECT c.id, c.path, c.kind, c.symbol, c.parent, c.language, c.start_line, c.end_line, c.text "
            f"FROM chunks c WHERE c.id IN ({', '.join('?' * len(batch))}){where}",
            (*batch, *params),
        )
        for cid, path, kind, symbol, parent, language, start_line, end_line, text in rows:
            if options.path_globs and not path_matches(path, options.path_globs):
                continue
            hits.append(Hit(chunk_id=cid, path=path, kind=kind, symbol=symbol, parent=parent,
                            language=language, start_line=start_line, end_line=end_line, score=0.0,
                            text=text))
    return hits


def _mark_stale(index, hits: list[Hit], root: str | None) -> None:
    """Set Hit.stale where the file on disk is gone or its content is not what was indexed.

    The same test as `codesearch status` (indexer.state): a file whose size and mtime match the `files`
    row is unchanged, unless its mtime is too close to the indexing run's start to be trusted; any other
    file is hashed and compared with the stored content hash, so a copied repository or a fresh checkout
    (every mtime new, no content changed) has no stale hits. Only the hits' files are looked at.
    """
    from indexer.state import racy_after

    meta = getattr(index, "meta", None) or {}
    root = root or meta.get("root")
    if not root or not hits:
        return
    paths = sorted({h.path for h in hits})
    rows = index.conn.execute(
        f"SELECT path, size, mtime_ns, content_hash FROM files WHERE path IN ({', '.join('?' * len(paths))})",
        paths,
    )
    recorded = {path: (size, mtime, digest) for path, size, mtime, digest in rows}
    racy = racy_after(meta.get("scan_started_ns"))
    stale: set[str] = set()
    for path in paths:
        size, mtime, digest = recorded.get(path, (None, None, None))
        try:
            # A link out of the root counts as changed, not followed.
            st = confined.stat_file(root, path)
            if (st.st_size, st.st_mtime_ns) == (size, mtime) and (racy is None or mtime < racy):
                continue
            if st.st_size == size and digest is not None and content_hash(confined.read_file(root, path)) == digest:
                continue
        except (OSError, confined.Refused):
            pass
        stale.add(path)
    for hit in hits:
        hit.stale = hit.path in stale

