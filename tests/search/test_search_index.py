"""search() against a real index (SQLite FTS5 + FAISS) of the fixture repository."""
import os

import pytest

from indexer import fusion
from indexer import query as query_module
from indexer.encoder import FakeEncoder
from indexer.errors import SemanticSearchUnavailable
from indexer.query import plan_query
from indexer.search import SearchOptions, path_matches, search
from indexer.index import open_index


def lexical(**kw) -> SearchOptions:
    return SearchOptions(mode="lexical", **kw)


def test_symbol_query_finds_the_definition_first_with_its_score_parts(index):
    result = search(index, "parse_config", None, lexical())
    top = result.hits[0]
    assert result.query_kind == "symbol"
    assert (top.symbol, top.path) == ("parse_config", "src/geometry.py")
    assert (top.start_line, top.end_line) == (15, 22)
    assert top.explain["definition_boost"] > 1.0
    assert {"lexical", "lexical_rank", "fused", "score"} <= top.explain.keys()
    assert top.score == pytest.approx(top.explain["score"], abs=1e-6)


def test_the_test_and_the_stub_are_demoted_below_the_definition(index):
    hits = search(index, "parse_config", None, lexical(k=20)).hits
    paths = [h.path for h in hits]
    test_hit = next(h for h in hits if h.path == "tests/test_geometry.py")
    stub_hit = next(h for h in hits if h.path == "typings/geometry.pyi")
    assert paths.index("src/geometry.py") < paths.index("tests/test_geometry.py")
    assert test_hit.explain["demote_tests"] < 1.0
    assert stub_hit.explain["demote_stubs"] < 1.0


def test_asking_for_tests_lifts_the_demotion(index):
    hits = search(index, "tests for parse_config", None, lexical()).hits
    test_hit = next(h for h in hits if h.path == "tests/test_geometry.py")
    assert "demote_tests" not in test_hit.explain


def test_vendored_code_is_demoted(index):
    hits = search(index, "clamp a value between low and high", None, lexical()).hits
    vendored = next(h for h in hits if h.path == "vendor/helpers.py")
    assert vendored.explain["demote_vendored"] < 1.0


def test_qualified_symbol_prefers_the_right_class(index):
    top = search(index, "Queue.Push", None, lexical()).hits[0]
    assert top.symbol == "Queue.Push"
    assert top.explain["definition_boost"] > 2.0


def test_hybrid_fuses_both_sides(index, encoder):
    result = search(index, "convert fahrenheit to celsius", encoder, SearchOptions(mode="hybrid"))
    assert result.mode == "hybrid"
    assert result.query_kind == "natural"
    answer = next(h for h in result.hits[:3] if h.symbol == "fahrenheitToCelsius")
    assert {"lexical", "semantic", "fused"} <= answer.explain.keys()


def test_semantic_only(index, encoder):
    result = search(index, "withdraw money from the bank account", encoder, SearchOptions(mode="semantic"))
    assert result.mode == "semantic"
    assert result.hits and all("lexical" not in h.explain for h in result.hits)
    assert "semantic" in result.hits[0].explain


class MisleadingEncoder(FakeEncoder):
    """The index's encoder for documents, but every query lands on ring-buffer code: a model that is
    confidently wrong, its favourites sharing no word with the query."""

    def embed_queries(self, texts):
        return self._embed(["ring buffer overwrite oldest slot wrap around capacity"] * len(texts))


def test_a_model_that_disagrees_with_bm25_cannot_sink_the_lexical_answer(index, encoder, monkeypatch):
    query = "parse the config file"
    lexical_top = search(index, query, None, lexical()).hits[0]
    assert lexical_top.symbol == "parse_config"
    misled = search(index, query, MisleadingEncoder(), SearchOptions(mode="hybrid")).hits
    assert misled[0].chunk_id == lexical_top.chunk_id
    assert misled[0].explain["agreement"] < fusion.AGREEMENT_FULL
    assert misled[0].explain["semantic_weight"] < plan_query(query).semantic_weight
    # Trust any model fully, at a weight that prose once had (2.0): it outvotes BM25.
    monkeypatch.setattr(fusion, "AGREEMENT_FULL", 1e-9)
    monkeypatch.setitem(query_module.FUSION_WEIGHTS, query_module.NATURAL, (0.8, 2.0))
    assert search(index, query, MisleadingEncoder(), SearchOptions(mode="hybrid")).hits[0].symbol != "parse_config"
    monkeypatch.undo()
    # A model that favours what BM25 favours keeps its full weight.
    agreeing = search(index, "refill the token bucket", encoder, SearchOptions(mode="hybrid")).hits[0]
    assert agreeing.explain["semantic_weight"] == plan_query("refill the token bucket").semantic_weight
    assert agreeing.symbol == "RateLimiter.refill"


def test_hybrid_without_an_encoder_degrades_to_lexical(index):
    result = search(index, "parse_config", None, SearchOptions(mode="hybrid"))
    assert result.mode == "lexical"
    assert result.hits[0].symbol == "parse_config"


def test_semantic_without_an_encoder_or_vectors_is_a_clear_error(index, lexical_repo, encoder):
    with pytest.raises(SemanticSearchUnavailable, match="no encoder"):
        search(index, "area", None, SearchOptions(mode="semantic"))
    lexical_only = open_index(lexical_repo / ".codesearch")
    try:
        with pytest.raises(SemanticSearchUnavailable, match="no vectors"):
            search(lexical_only, "area", encoder, SearchOptions(mode="semantic"))
        assert search(lexical_only, "area", encoder, SearchOptions(mode="hybrid")).mode == "lexical"
    finally:
        lexical_only.close()


def test_bad_options_are_value_errors(index):
    with pytest.raises(ValueError, match="mode"):
        search(index, "x", None, SearchOptions(mode="fuzzy"))
    with pytest.raises(ValueError, match="k must"):
        search(index, "x", None, SearchOptions(k=0))


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_language_filter(index, encoder, mode):
    hits = search(index, "push a job onto the queue", encoder, SearchOptions(mode=mode, langs=("go",))).hits
    assert hits and {h.language for h in hits} == {"go"}


@pytest.mark.parametrize("mode", ["lexical", "semantic"])
def test_kind_filter_function_includes_methods(index, encoder, mode):
    hits = search(index, "area of a circle", encoder, SearchOptions(mode=mode, kinds=("function",), k=30)).hits
    kinds = {h.kind for h in hits}
    assert kinds and kinds <= {"function", "method"}
    assert "method" in kinds


def test_path_globs_include_and_exclude(index):
    included = search(index, "parse_config", None, lexical(path_globs=("tests/*",))).hits
    assert included and all(h.path.startswith("tests/") for h in included)
    excluded = search(index, "parse_config", None, lexical(path_globs=("!src", "!tests/*"))).hits
    assert excluded and not any(h.path.startswith(("src/", "tests/")) for h in excluded)


def test_path_matches():
    assert path_matches("src/a.py", ("*.py",))
    assert path_matches("src/a.py", ("src",)) and path_matches("src/a.py", ("./src/",))
    assert not path_matches("src/a.py", ("!src/*",))
    assert path_matches("src/a.py", ())
    assert not path_matches("web/a.js", ("src/*", "!*.js"))


def test_files_only_gives_one_hit_per_file(index):
    hits = search(index, "parse_config", None, lexical(files_only=True)).hits
    paths = [h.path for h in hits]
    assert len(paths) == len(set(paths))
    assert paths[0] == "src/geometry.py"
    assert "links/geometry_alias.py" not in paths  # a symlink to src/geometry.py: not indexed twice
    assert "file_best" in hits[0].explain


def test_k_bounds_the_hits(index):
    assert len(search(index, "the", None, lexical(k=3)).hits) <= 3


def test_a_query_without_words_finds_nothing_lexically(index):
    assert search(index, "?? !!", None, lexical()).hits == []


def test_a_file_changed_on_disk_is_marked_stale(tmp_path, encoder):
    from tests.search.conftest import build_index

    root = build_index(tmp_path / "repo", None)
    geometry = root / "src" / "geometry.py"
    geometry.write_text(geometry.read_text() + "\n# edited\n")
    os.utime(geometry, ns=(geometry.stat().st_atime_ns, geometry.stat().st_mtime_ns + 10**9))
    opened = open_index(root / ".codesearch")
    try:
        hits = search(opened, "parse_config", None, lexical()).hits
    finally:
        opened.close()
    stale = {h.path: h.stale for h in hits}
    assert stale["src/geometry.py"] is True
    assert not any(v for p, v in stale.items() if p != "src/geometry.py")


def test_hybrid_gives_lexical_candidates_their_semantic_score(index, encoder):
    query = "parse the config file into a dict"
    narrow = SearchOptions(mode="hybrid", candidates=3, k=10)
    rescored = search(index, query, encoder, narrow).hits
    assert all("semantic" in h.explain for h in rescored if "lexical" in h.explain)
    plain = search(index, query, encoder, SearchOptions(mode="hybrid", candidates=3, k=10, rescore=False)).hits
    assert any("semantic" not in h.explain for h in plain if "lexical" in h.explain)


def test_lexical_candidates_get_the_same_semantic_scores_from_an_ivf_index(index, encoder, monkeypatch):
    # A flat index scores them in memory (indexer.vectors.score_query); an IVF index leaves them to the
    # embeddings stored in SQLite. Both must give each candidate the same cosine.
    import faiss
    import numpy as np

    from indexer.vectors import build_index

    flat = index.vectors
    held = faiss.vector_to_array(flat.id_map).astype(np.int64)
    matrix = np.vstack([flat.reconstruct(int(i)) for i in held])
    query, narrow = "parse the config file into a dict", SearchOptions(mode="hybrid", candidates=3, k=10)
    expected = {h.chunk_id: h.explain.get("semantic") for h in search(index, query, encoder, narrow).hits}
    monkeypatch.setattr(index, "vectors", build_index(flat.d, "ivf", held, matrix))
    got = {h.chunk_id: h.explain.get("semantic") for h in search(index, query, encoder, narrow).hits}
    assert got.keys() == expected.keys() and len(got) > 3
    assert all(abs(got[c] - expected[c]) < 1e-5 for c in got)


def test_a_name_used_everywhere_still_brings_its_definition_into_the_pool(tmp_path):
    # serde's `Visitor`: hundreds of small chunks mention it, and the long trait that defines it ranked
    # below the candidate pool, so the ranking layer never saw it.
    from indexer.pipeline import IndexOptions, index_repository

    repo = tmp_path / "repo"
    (repo / "impls").mkdir(parents=True)
    for i in range(40):
        (repo / "impls" / f"v{i}.rs").write_text(
            f"struct V{i};\nimpl Visitor for V{i} {{\n    fn visit(&self) -> Visitor {{ Visitor::new() }}\n}}\n")
    body = "\n".join(f"    fn visit_{i}(&self, value: u{8 * (i % 4 + 1)}) -> Result;" for i in range(12))
    (repo / "de.rs").write_text(f"use std::fmt;\n\npub trait Visitor {{\n{body}\n}}\n")
    index_repository(repo, repo / ".codesearch", None, IndexOptions())
    index = open_index(repo / ".codesearch")
    try:
        hits = search(index, "Visitor", None, lexical(candidates=20)).hits
        assert (hits[0].path, hits[0].symbol) == ("de.rs", "Visitor")
        assert search(index, "Visitor", None, lexical(candidates=20, files_only=True)).hits[0].path == "de.rs"
    finally:
        index.close()


def test_a_phrase_finds_the_code_written_with_its_initials(tmp_path):
    # libuv writes "file system" as fs: fs.c, `uv_fs_open`. Code that never spells the phrase out is
    # found by it, through the expanded list, and fs.c gets the file-name boost for its initials.
    from indexer.pipeline import IndexOptions, index_repository

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "fs.c").write_text("".join(
        f"int uv_fs_{op}(uv_loop_t* loop, uv_fs_t* req) {{\n  return uv__fs_work(loop, req, {i});\n}}\n\n"
        for i, op in enumerate(("open", "read", "write", "stat", "close"))))
    (repo / "stream.c").write_text("/* A stream reads what the system hands us. */\n"
                                   "int uv_read_start(uv_stream_t* stream) {\n  return stream_read(stream, 0);\n}\n")
    for name in ("tcp", "udp", "pipe", "timer", "signal", "thread"):
        (repo / f"{name}.c").write_text(f"int uv_{name}_init(uv_loop_t* loop, uv_{name}_t* handle) {{\n"
                                        f"  return uv__{name}_start(loop, handle);\n}}\n")
    index_repository(repo, repo / ".codesearch", None, IndexOptions())
    index = open_index(repo / ".codesearch")
    try:
        hits = search(index, "file system operations", None, lexical(files_only=True)).hits
        assert [h.path for h in hits] == ["stream.c", "fs.c"]  # stream.c says "system"
        fs = hits[1]
        assert "lexical" not in fs.explain and fs.explain["expanded"] > 0 and fs.explain["file_words_boost"] > 1
        assert [h.path for h in search(index, "system operations", None, lexical(files_only=True)).hits] == ["stream.c"]
    finally:
        index.close()
