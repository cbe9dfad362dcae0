"""indexer.evaluate against the fixture repository and its committed queries file."""
import json

import pytest

from indexer.evaluate import EvalQuery, Target, evaluate, load_queries
from indexer.search import SearchOptions
from tests.conftest import ROOT

QUERIES = ROOT / "fixtures" / "queries.jsonl"
KEYS = {f"{level}.{m}" for level in ("file", "chunk")
        for m in ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10")}


def test_the_committed_queries_load():
    queries = load_queries(QUERIES)
    assert len(queries) >= 10
    assert all(q.relevant for q in queries)


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_evaluate_reports_every_metric_per_query_and_as_json(index, encoder, mode):
    queries = load_queries(QUERIES)
    report = evaluate(index, queries, encoder, SearchOptions(mode=mode))
    assert report.mode == mode
    assert set(report.metrics) == KEYS
    assert all(0.0 <= v <= 1.0 for v in report.metrics.values())
    assert len(report.per_query) == len(queries)
    first = report.per_query[0]
    assert first["query"] == queries[0].query and set(first["metrics"]) == KEYS
    assert first["top_files"] and first["top_chunks"]
    assert json.loads(json.dumps(report.to_dict()))["queries"] == len(queries)


def test_lexical_search_answers_the_fixture_queries(index):
    report = evaluate(index, load_queries(QUERIES), None, SearchOptions(mode="lexical"))
    # Each fixture query names its answer in words the code uses: the lexical engine must find them.
    assert report.metrics["file.recall@10"] == 1.0
    assert report.metrics["file.mrr@10"] >= 0.8
    assert report.metrics["chunk.mrr@10"] >= 0.7


def test_a_query_whose_answer_is_not_indexed_scores_zero(index):
    report = evaluate(index, [EvalQuery("parse_config", (Target("nowhere/missing.py"),))], None,
                      SearchOptions(mode="lexical"))
    assert report.metrics["file.mrr@10"] == 0.0 and report.metrics["chunk.recall@10"] == 0.0


def test_hybrid_without_encoder_reports_the_mode_it_ran(index):
    report = evaluate(index, load_queries(QUERIES)[:2], None, SearchOptions(mode="hybrid"))
    assert report.mode == "lexical"
