"""BM25 candidates from the FTS5 table: one SQL statement, or, in a long-lived process, sums of cached
per-term scores that come out the same, number for number.

`ranked` returns the best `limit` chunks for an OR of the query's terms, plus the chunks named in
`also` that match at all (the named chunks of indexer.candidates), in one pass: FTS5 computes bm25()
for every matching row whatever the LIMIT, so each further statement over the same terms costs the
whole pass again (a `rowid IN (...)` restriction does not help: FTS5 still counts every row of each term
for its idf).

That pass is what a query costs on a large index: a word found in most of 100k chunks takes ~100 ms
(BENCHMARKS.md, Latency). A server answers many queries with the same words, so `TermCache` keeps, per
term, the rowids that match it and the score a single-term query gives them. FTS5's bm25() of an OR
query is, row by row, 0.0 plus each phrase's contribution in phrase order (idf from that phrase's own
row count, the row's weighted frequency and length; a phrase the row lacks adds exactly 0.0), so adding
the single-term scores in term order in float64 gives the very same doubles, and the same candidates
in the same order (tests/search/test_bm25.py). The cache is dropped as soon as another connection
commits to the database (`PRAGMA data_version`), and is bounded by the number of postings it holds.
Filtered searches (language, kind) take the SQL path.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Iterable, Sequence

import numpy as np

from indexer.lexical import FTS_WEIGHTS, match_expression

Ranked = list[tuple[int, float]]

_WEIGHTS = ", ".join(str(w) for w in FTS_WEIGHTS)
CACHE_POSTINGS = 8_000_000  # (rowid, score) pairs kept at most: 128 MB
COMMON_SHARE = 0.01  # `common_terms`: terms found in at least this share of the chunks ...
COMMON_POSTINGS = CACHE_POSTINGS // 2  # ... and, most common first, this many postings at most
ASKED_KEPT = 512  # query terms remembered, to be computed again after the index changes


def ranked(conn, terms: Sequence[str], limit: int, filters: tuple[str, list] = ("", []),
           also: Iterable[int] = (), cache: "TermCache | None" = None) -> Ranked:
    """(chunk id, BM25 score, higher = better), best first (ties by id): the top `limit` for the OR of
    `terms`, plus those of the `also` chunks that match. `filters`: SQL (" AND ...", params) on chunks `c`."""
    expression = match_expression(terms)
    if expression is None:
        return []
    also = [int(i) for i in dict.fromkeys(also)]
    if cache is not None and not filters[0]:
        return cache.ranked([t for t in terms if t], limit, also)
    where, params = filters
    scored = _scored_sql(where)
    if not also:
        rows = conn.execute(f"{scored} ORDER BY score DESC, id LIMIT ?", (expression, *params, limit))
        return [(int(cid), float(score)) for cid, score in rows]
    # One bm25() pass for both: the matching `also` rows sort first, then the rest by score; the rows
    # returned hold the top `limit` of all, whichever of the two groups they are in.
    rows = conn.execute(
        f"{scored} ORDER BY id IN (SELECT value FROM json_each(?)) DESC, score DESC, id LIMIT ?",
        (expression, *params, json.dumps(also), limit + len(also))).fetchall()
    named = set(also)
    ordered = sorted(((int(cid), float(score)) for cid, score in rows), key=lambda pair: (-pair[1], pair[0]))
    return ordered[:limit] + [pair for pair in ordered[limit:] if pair[0] in named]


def _scored_sql(where: str) -> str:
    """The chunks matching an FTS5 expression (the one parameter before `where`'s) with their BM25.
    Unfiltered, the FTS5 table alone: its rowids are the chunk ids (the store writes both together, and
    TermCache relies on it too), and the join looked up every matching row in `chunks` for nothing."""
    if not where:
        return f"SELECT rowid AS id, -bm25(chunks_fts, {_WEIGHTS}) AS score FROM chunks_fts WHERE chunks_fts MATCH ?"
    return (f"SELECT c.id AS id, -bm25(chunks_fts, {_WEIGHTS}) AS score FROM chunks_fts "
            f"JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ?{where}")


def common_terms(db_path, share: float = COMMON_SHARE, budget: int = COMMON_POSTINGS) -> list[str]:
    """The index's terms (as FTS5 stores them: stemmed) found in at least `share` of its chunks, most
    common first, as many as `budget` postings hold: the terms whose BM25 costs a query most, for
    `TermCache.warm`. Read on a connection of its own, since fts5vocab reads the whole FTS index."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.common_terms USING fts5vocab(main, chunks_fts, 'row')")
        (chunks,) = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()
        rows = conn.execute("SELECT term, doc FROM temp.common_terms WHERE doc >= ? ORDER BY doc DESC, term",
                            (max(1, int(chunks * share)),)).fetchall()
    finally:
        conn.close()
    chosen, total = [], 0
    for term, docs in rows:
        if total + docs > budget:
            break
        chosen.append(term)
        total += docs
    return chosen


def ranked_and_expanded(conn, terms: Sequence[str], expansions: Sequence[str], limit: int,
                        filters: tuple[str, list] = ("", []), also: Iterable[int] = (),
                        cache: "TermCache | None" = None) -> tuple[Ranked, Ranked]:
    """`ranked(terms, limit, filters, also)` and `ranked(terms + expansions, limit, filters)` with one
    pass over the rows of `terms`: the second is, row by row, the first's score plus each expansion's
    own, added in order (the sum FTS5 computes), and only rows the first ranks in its top `limit` or
    an expansion matches can be in its top `limit`. Each expansion (`cfg`, `ctx`: rarer words, as a
    rule) costs a pass over its own rows.

    Each list then goes on with the other's candidates that it scores but left out of its top `limit`
    (best first, after its own): fusion adds the two lists' shares, and a candidate missing from one of
    them would get nothing from it for a score it has. Without this, a chunk the plain list ranks 308th
    of 400 lost its whole expanded share when chunks matching only the expansion (`obj` for "object")
    pushed it out of the expanded top 400, and fell below chunks scoring less on both lists (gson's
    JsonObject class for "JSON object with named fields"; BENCHMARKS.md, session 9)."""
    named = [int(i) for i in dict.fromkeys(also)]
    extra = [_term_scores(conn, e, filters, cache) for e in expansions]
    touched = list(dict.fromkeys(cid for scores in extra for cid in scores))
    seen = set(named)
    # the top `limit` and then the `also` rows that match, best first
    top = ranked(conn, terms, limit, filters, also=named + [c for c in touched if c not in seen], cache=cache)
    totals = dict(top)
    for cid in touched:
        totals.setdefault(cid, 0.0)
    for cid, score in totals.items():
        for scores in extra:
            if cid in scores:
                score += scores[cid]
        totals[cid] = score
    expanded = _best_first(totals.items())[:limit]
    head = {cid for cid, _ in top[:limit]}
    in_expanded = {cid for cid, _ in expanded}
    plain_tail = [pair for pair in top[limit:] if pair[0] in seen or pair[0] in in_expanded]
    plain = top[:limit] + plain_tail
    expanded += _best_first((cid, totals[cid]) for cid in head.union(c for c, _ in plain_tail) - in_expanded)
    return plain, expanded


def _best_first(pairs: Iterable[tuple[int, float]]) -> Ranked:
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))


def _term_scores(conn, term: str, filters: tuple[str, list], cache: "TermCache | None") -> dict[int, float]:
    """{chunk id: the single-term BM25 score} of every chunk matching `term` (filters applied)."""
    if cache is not None and not filters[0]:
        ids, scores = cache.postings(term)
        return dict(zip(ids.tolist(), scores.tolist()))
    where, params = filters
    return {int(cid): float(score) for cid, score in conn.execute(_scored_sql(where), (match_expression([term]), *params))}


class TermCache:
    """Per-term FTS5 scores of one connection's database, kept while nobody else writes to it.

    Entries are keyed by the token FTS5's tokenizer makes of the term (`stem`: "refreshed" and
    "refresh" are one entry, as they are one term to FTS5), found by tokenizing it in a temporary FTS5
    table with the index's own tokenizer, so that `warm` can fill the cache from the index's
    vocabulary, which holds the tokens."""

    def __init__(self, conn, max_postings: int = CACHE_POSTINGS):
        self.conn, self.max_postings = conn, max_postings
        self._terms: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._postings = 0
        self._version = None
        self._stems: dict[str, str | None] = {}
        self.asked: OrderedDict[str, None] = OrderedDict()  # query terms, latest last (kept across changes)

    def warm(self, term: str, token: bool = True) -> bool:
        """Compute and keep the scores of an index token (from `common_terms`), or with `token=False` of
        any query term; False for a token no query term can name (one that is not its own stem:
        "respons", which "response" is stemmed to)."""
        self._check_version()
        if token and self.stem(term) != term:
            return False
        self._term(term)
        return True

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rowids matching `term` and their single-term scores (kept, as for `ranked`)."""
        self._check_version()
        self._note(term)
        return self._term(term)

    def _note(self, term: str) -> None:
        self.asked[term] = None
        self.asked.move_to_end(term)
        while len(self.asked) > ASKED_KEPT:
            self.asked.popitem(last=False)

    def stem(self, term: str) -> str | None:
        """The one token FTS5 makes of `term` (None when it makes none or several)."""
        if term not in self._stems:
            if not self._stems:  # the first: the temporary tables (kept for the connection's life)
                from indexer.lexical import FTS_TOKENIZE

                self.conn.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.bm25_stems USING fts5(t, tokenize=\"{FTS_TOKENIZE}\")")
                self.conn.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.bm25_tokens USING fts5vocab(temp, bm25_stems, 'row')")
            self.conn.execute("INSERT INTO temp.bm25_stems(t) VALUES (?)", (term,))
            tokens = self.conn.execute("SELECT term FROM temp.bm25_tokens").fetchall()
            self.conn.execute("DELETE FROM temp.bm25_stems")
            self._stems[term] = tokens[0][0] if len(tokens) == 1 else None
        return self._stems[term]

    def ranked(self, terms: Sequence[str], limit: int, also: Sequence[int] = ()) -> Ranked:
        self._check_version()
        for term in terms:
            self._note(term)
        postings = [self._term(t) for t in terms]
        size = max((int(ids[-1]) + 1 for ids, _ in postings if len(ids)), default=0)
        size = max([size, *(int(i) + 1 for i in also)])
        total = np.zeros(size, dtype=np.float64)
        matched = np.zeros(size, dtype=bool)
        for ids, scores in postings:  # in term order: the sum FTS5 itself computes
            total[ids] += scores
            matched[ids] = True
        candidates = np.flatnonzero(matched)
        if len(candidates) > limit:
            kth = np.partition(total[candidates], len(candidates) - limit)[len(candidates) - limit]
            keep = candidates[total[candidates] >= kth]
        else:
            keep = candidates
        order = np.lexsort((keep, -total[keep]))[:limit]
        chosen = [(int(i), float(total[i])) for i in keep[order]]
        seen = {cid for cid, _ in chosen}
        extra = [(int(i), float(total[i])) for i in also if matched[i] and int(i) not in seen]
        if not extra:
            return chosen
        return sorted(chosen + extra, key=lambda pair: (-pair[1], pair[0]))

    def _check_version(self) -> None:
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._terms.clear()
            self._postings = 0
            self._version = version

    def _term(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        token = self.stem(term)
        key = token if token is not None else "=" + term  # tokens are letters, digits and "_": no clash
        found = self._terms.get(key)
        if found is not None:
            self._terms.move_to_end(key)
            return found
        rows = self.conn.execute(f"{_scored_sql('')} ORDER BY id", (match_expression([term]),)).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        self._terms[key] = (ids, scores)
        self._postings += len(ids)
        while self._postings > self.max_postings and len(self._terms) > 1:
            _, (old, _) = self._terms.popitem(last=False)
            self._postings -= len(old)
        return ids, scores
