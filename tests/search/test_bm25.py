"""indexer.bm25: the cached per-term path gives the SQL statement's candidates, scores and order exactly,
takes in the `also` chunks, and forgets what another connection's commit changed."""
from __future__ import annotations

import sqlite3

import pytest

from indexer import bm25
from indexer.index import open_index
from indexer.pipeline import IndexOptions, index_repository
from indexer.query import plan_query
from indexer.search import SearchOptions, search
from tests.search.conftest import build_index

QUERIES = ["parse_config", "parse the config file", "HttpClient.send", "retry with backoff", "area of a circle",
           "config config parse", "Shape", "token tokens tokenize", "read the configuration from the directory",
           "function arguments and their length"]


def test_cached_sums_equal_the_sql_statement(index):
    cache = bm25.TermCache(index.conn)
    for query in QUERIES:
        terms = plan_query(query).terms
        for limit in (1, 3, 200):
            expected = bm25.ranked(index.conn, terms, limit)
            assert expected, query
            assert bm25.ranked(index.conn, terms, limit, cache=cache) == expected, (query, limit)


def test_also_adds_matching_chunks_beyond_the_limit_with_their_own_scores(index):
    terms = plan_query("parse the config file").terms
    everything = bm25.ranked(index.conn, terms, 10_000)
    assert len(everything) > 3
    top, (last_id, last_score) = everything[:2], everything[-1]
    unmatched = max(cid for (cid,) in index.conn.execute("SELECT id FROM chunks")) + 1000
    for cache in (None, bm25.TermCache(index.conn)):
        got = bm25.ranked(index.conn, terms, 2, also=[last_id, unmatched, top[0][0]], cache=cache)
        assert got == top + [(last_id, last_score)]


def test_the_cache_is_bounded_and_still_exact(index):
    cache = bm25.TermCache(index.conn, max_postings=5)
    for query in QUERIES:
        terms = plan_query(query).terms
        assert bm25.ranked(index.conn, terms, 50, cache=cache) == bm25.ranked(index.conn, terms, 50)
        assert len(cache._terms) == 1 or cache._postings <= 5


def test_a_commit_by_another_process_drops_the_cache(tmp_path):
    repo = build_index(tmp_path / "repo", None)
    index = open_index(repo / ".codesearch")
    index.keep_term_scores()
    terms = plan_query("zebrafish migration").terms
    before = search(index, "zebrafish migration", None, SearchOptions(mode="lexical"))
    assert not any("zebrafish" in h.text for h in before.hits)
    (repo / "src" / "zoo.py").write_text("def zebrafish_migration():\n    return 'zebrafish swim upstream'\n")
    index_repository(repo, repo / ".codesearch", None, IndexOptions())  # its own connection
    after = search(index, "zebrafish migration", None, SearchOptions(mode="lexical"))
    assert after.hits[0].path == "src/zoo.py"
    assert bm25.ranked(index.conn, terms, 20, cache=index.term_cache) == bm25.ranked(index.conn, terms, 20)
    index.close()


@pytest.mark.parametrize("query", QUERIES)
def test_a_warm_index_answers_as_a_cold_one(index, query):
    cold = search(index, query, None, SearchOptions(mode="lexical"))
    index.keep_term_scores()
    try:
        warm = search(index, query, None, SearchOptions(mode="lexical"))
        warm_files = search(index, query, None, SearchOptions(mode="lexical", files_only=True))
    finally:
        index.term_cache = None
    assert [(h.chunk_id, h.score) for h in warm.hits] == [(h.chunk_id, h.score) for h in cold.hits]
    cold_files = search(index, query, None, SearchOptions(mode="lexical", files_only=True))
    assert [(h.path, h.score) for h in warm_files.hits] == [(h.path, h.score) for h in cold_files.hits]


def test_filtered_searches_take_the_sql_path(index):
    index.term_cache = bm25.TermCache(sqlite3.connect(":memory:"))  # would fail if it were asked
    try:
        hits = search(index, "parse_config", None, SearchOptions(mode="lexical", langs=("python",))).hits
    finally:
        index.term_cache = None
    assert hits and all(h.language == "python" for h in hits)


def test_terms_with_one_stem_share_an_entry_and_warming_takes_only_tokens_a_query_can_name(index):
    cache = bm25.TermCache(index.conn)
    assert cache.stem("configs") == cache.stem("config") == "config" and cache.stem("parse_config") == "parse_config"
    assert bm25.ranked(index.conn, ["configs"], 50, cache=cache) == bm25.ranked(index.conn, ["configs"], 50)
    assert bm25.ranked(index.conn, ["config"], 50, cache=cache) == bm25.ranked(index.conn, ["config"], 50)
    assert len(cache._terms) == 1  # "config" came from the entry "configs" made
    # "response" is stored as "respons", which is stemmed again to "respon": no query term gives "respons"
    assert cache.stem("response") == "respons" != cache.stem("respons")
    assert cache.warm("return") and not cache.warm("respons")
    assert bm25.ranked(index.conn, ["returns", "response"], 50, cache=cache) == bm25.ranked(index.conn, ["returns", "response"], 50)


def test_the_expanded_list_from_one_pass_equals_its_own_statement(index):
    for query in QUERIES:
        plan = plan_query(query)
        if not plan.expansions:
            continue
        named = [cid for cid, in index.conn.execute("SELECT id FROM chunks ORDER BY id DESC LIMIT 3")]
        for cache in (None, bm25.TermCache(index.conn)):
            for limit in (2, 200):
                plain, expanded = bm25.ranked_and_expanded(index.conn, plan.terms, plan.expansions, limit,
                                                           also=named, cache=cache)
                own_plain = bm25.ranked(index.conn, plan.terms, limit, also=named)
                own_expanded = bm25.ranked(index.conn, plan.terms + plan.expansions, limit)
                # each list is its own statement's, then the other's further candidates (see the next test)
                assert plain[:len(own_plain)] == own_plain, query
                assert expanded[:len(own_expanded)] == own_expanded, query


def test_each_list_scores_the_other_lists_candidates_beyond_its_own_top(index):
    """Fusion adds the plain and the expanded list's shares: a candidate one list ranks and the other
    scores but cut at `limit` gets its score from both, and nothing that neither list ranked comes in."""
    filled = 0
    for query in QUERIES:
        plan = plan_query(query)
        if not plan.expansions:
            continue
        every_plain = dict(bm25.ranked(index.conn, plan.terms, 10_000))
        every_expanded = dict(bm25.ranked(index.conn, plan.terms + plan.expansions, 10_000))
        named = [cid for cid, in index.conn.execute("SELECT id FROM chunks ORDER BY id DESC LIMIT 3")]
        for cache in (None, bm25.TermCache(index.conn)):
            plain, expanded = bm25.ranked_and_expanded(index.conn, plan.terms, plan.expansions, 2, also=named,
                                                       cache=cache)
            own = {cid for cid, _ in bm25.ranked(index.conn, plan.terms, 2, also=named)}
            own |= {cid for cid, _ in bm25.ranked(index.conn, plan.terms + plan.expansions, 2)}
            candidates = {cid for cid, _ in plain} | {cid for cid, _ in expanded}
            assert candidates == own, query
            assert dict(plain) == {cid: every_plain[cid] for cid in candidates if cid in every_plain}, query
            assert dict(expanded) == {cid: every_expanded[cid] for cid in candidates}, query
            for ranked in (plain[2:], expanded[2:]):
                assert ranked == sorted(ranked, key=lambda pair: (-pair[1], pair[0])), query
            filled += len(expanded) - 2
    assert filled > 0  # the limit cut something that the other list ranked
