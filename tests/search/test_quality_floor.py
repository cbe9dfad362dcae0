"""The lexical engine and ranking layer stay clearly above plain BM25 on a docstring-stripped corpus."""
import json

import pytest

from benchmarks.quality import corpus
from benchmarks.quality.run import plain_bm25
from indexer.evaluate import evaluate, load_queries
from indexer.pipeline import IndexOptions, index_repository
from indexer.search import SearchOptions
from indexer.index import open_index


def test_lexical_beats_plain_bm25_on_stripped_click(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "PYTHON_PACKAGES", ("click",))
    sets = corpus.build_corpus(tmp_path / "repo", ("python",), per_package=80)
    for name, records in sets.items():
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    index_repository(tmp_path / "repo", tmp_path / "index", None, IndexOptions())
    index = open_index(tmp_path / "index")
    try:
        for name in ("docstring", "symbol"):
            queries = load_queries(tmp_path / f"{name}.jsonl")
            floor = plain_bm25(index.conn, queries)
            ours = evaluate(index, queries, None, SearchOptions(mode="lexical")).metrics
            assert ours["chunk.mrr@10"] > 1.3 * floor["chunk.mrr@10"], name
            assert ours["file.mrr@10"] > floor["file.mrr@10"], name
    finally:
        index.close()
