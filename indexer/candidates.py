"""Candidates the ranking layer must see although BM25 ranks them below the pool: the named chunks.

BM25 weighs a term by its rarity, so a name used all over a repository (`Visitor` in serde, `SqlMapper`
in Dapper) scores almost nothing, and the chunk that defines it, or the file named after it, can fall
outside the top `candidates` before the ranking layer gets to lift it (indexer.ranking:
definition_boost, file_name_boost). `named_chunks` finds those chunks; the lexical list takes them in
(indexer.bm25: `also`), each scored by the same BM25 query as the rest, in the same pass, so fusion
treats them like any other lexical candidate.
(The same for files whose names a prose query spells out measured no gain: BENCHMARKS.md.)
"""
from __future__ import annotations

from indexer.query import QueryPlan
from indexer.ranking import names_file, symbol_name

NAMED_POOL = 100  # chunks whose symbol or file name is the queried symbol, at most
NAMED_SCAN = 5000  # ... found among this many chunks whose symbol or path has the name as a word


def named_chunks(conn, plan: QueryPlan, filters: tuple[str, list]) -> list[int]:
    """The chunks named after a symbol query's name (see the module docstring), for the lexical list.
    `filters` is the SQL (" AND ...", params) that restricts chunks `c` by language and kind."""
    if not plan.symbol:
        return []
    where, params = filters
    rows = conn.execute(
        f"SELECT c.id, c.symbol, c.path FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
        f"WHERE chunks_fts MATCH ?{where} LIMIT ?", (f'{{symbol path}} : "{plan.symbol}"', *params, NAMED_SCAN),
    ).fetchall()
    return [cid for cid, symbol, path in rows
            if (symbol and symbol_name(symbol).lower() == plan.symbol) or names_file(path, plan.symbol)][:NAMED_POOL]
