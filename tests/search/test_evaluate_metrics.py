"""Metrics, relevance judgements and the queries-file loader (no index needed)."""
import json
import math

import pytest

from indexer.evaluate import QueriesFileError, Target, load_queries, parse_target, ranking_metrics


def test_perfect_ranking_scores_one():
    metrics = ranking_metrics([0, 1], 2, "file")
    assert metrics["file.ndcg@10"] == pytest.approx(1.0)
    assert metrics["file.mrr@10"] == 1.0
    assert metrics["file.recall@1"] == 0.5
    assert metrics["file.recall@5"] == 1.0


def test_relevant_at_rank_three():
    metrics = ranking_metrics([None, None, 0], 1, "chunk")
    assert metrics["chunk.mrr@10"] == pytest.approx(1 / 3)
    assert metrics["chunk.ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert metrics["chunk.recall@1"] == 0.0
    assert metrics["chunk.recall@5"] == 1.0


def test_a_target_found_twice_is_credited_once():
    metrics = ranking_metrics([0, 0], 2, "chunk")
    assert metrics["chunk.recall@10"] == 0.5
    assert metrics["chunk.ndcg@10"] < 1.0


def test_nothing_found_and_beyond_the_cutoff():
    assert ranking_metrics([], 1, "file")["file.mrr@10"] == 0.0
    assert ranking_metrics([None] * 10 + [0], 1, "file")["file.mrr@10"] == 0.0


def test_span_matching_needs_substantial_overlap():
    target = parse_target("src/a.py:10-20")
    assert target == Target("src/a.py", 10, 20)
    assert target.matches_chunk("src/a.py", 9, 21)  # the def plus a decorator line
    assert not target.matches_chunk("src/a.py", 1, 200)  # the whole file
    assert not target.matches_chunk("src/a.py", 20, 22)  # a sliver
    assert not target.matches_chunk("src/b.py", 10, 20)
    assert parse_target("./src/a.py").matches_chunk("src/a.py", 1, 200)


def test_load_queries_reads_paths_and_spans(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"query": "parse config", "relevant": ["a.py", "b.py:3-9"]}) + "\n\n# note\n")
    [query] = load_queries(path)
    assert query.query == "parse config"
    assert query.relevant == (Target("a.py"), Target("b.py", 3, 9))


@pytest.mark.parametrize("line,message", [
    ("{not json", ":1:"),
    (json.dumps({"query": "x"}), "missing key"),
    (json.dumps({"query": "", "relevant": ["a"]}), "non-empty string"),
    (json.dumps({"query": "x", "relevant": []}), "non-empty list"),
    (json.dumps({"query": "x", "relevant": ["a.py:9-3"]}), "bad line span"),
])
def test_load_queries_names_the_bad_line(tmp_path, line, message):
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(QueriesFileError, match=message):
        load_queries(path)


def test_load_queries_missing_file(tmp_path):
    with pytest.raises(QueriesFileError, match="cannot read"):
        load_queries(tmp_path / "nope.jsonl")
