"""Measure search quality against a queries file: NDCG@10, MRR@10 and Recall@1/5/10, per file and chunk.

The queries file is JSON Lines, one record per query:

    {"query": "parse the configuration file", "relevant": ["src/config.py", "src/config.py:10-42"]}

A relevant entry is a path (any chunk of that file is a right answer) or `path:start-end` (1-based,
inclusive lines: a chunk is a right answer when it and the span overlap by at least SPAN_MATCH_RATIO of
the longer of the two, so neither a whole-file chunk nor a one-line fragment counts for a function).

API (the CLI's `codesearch eval` calls these and prints the result):

    queries = load_queries("queries.jsonl")          # list[EvalQuery]; indexer.errors.QueriesFileError
                                                     # (a ValueError) names the bad line
    report = evaluate(index, queries, encoder_or_None, SearchOptions(mode="hybrid"))
    report.metrics    # {"file.ndcg@10": ..., "file.mrr@10": ..., "file.recall@1": ..., "file.recall@5": ...,
                      #  "file.recall@10": ..., and the same keys with "chunk."}, means over the queries
    report.per_query  # [{"query", "query_kind", "relevant", "metrics", "top_files", "top_chunks"}, ...]
    report.mode       # the search mode actually used ("hybrid" degrades to "lexical" without an encoder)
    report.to_dict()  # JSON-ready: {"mode", "queries", "metrics", "per_query"}

File-level figures come from a files-only search (chunk scores aggregated per file), chunk-level ones
from the ordinary search; both use the given options' mode, filters and fusion.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from indexer.errors import QueriesFileError
from indexer.search import SearchOptions, search

CUTOFF = 10  # NDCG and MRR cut-off
RECALL_KS = (1, 5, 10)
SPAN_MATCH_RATIO = 0.5
_SPAN = re.compile(r"^(?P<path>.+):(?P<start>\d+)-(?P<end>\d+)$")


@dataclass(frozen=True)
class Target:
    """One relevant answer: a whole file (start None) or a line span of it."""

    path: str
    start: int | None = None
    end: int | None = None

    def __str__(self) -> str:
        return self.path if self.start is None else f"{self.path}:{self.start}-{self.end}"

    def matches_chunk(self, path: str, start: int, end: int) -> bool:
        if path != self.path:
            return False
        if self.start is None:
            return True
        overlap = min(end, self.end) - max(start, self.start) + 1
        longer = max(end - start + 1, self.end - self.start + 1)
        return overlap > 0 and overlap / longer >= SPAN_MATCH_RATIO


@dataclass(frozen=True)
class EvalQuery:
    query: str
    relevant: tuple[Target, ...]


@dataclass
class EvalReport:
    mode: str
    metrics: dict[str, float]
    per_query: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "queries": len(self.per_query), "metrics": self.metrics,
                "per_query": self.per_query}


def parse_target(entry: str) -> Target:
    """"path" or "path:start-end" -> Target; ValueError on a malformed span."""
    entry = entry.strip()
    entry = entry[2:] if entry.startswith("./") else entry
    if not entry:
        raise ValueError("empty relevant entry")
    span = _SPAN.match(entry)
    if not span:
        return Target(entry)
    start, end = int(span["start"]), int(span["end"])
    if start < 1 or end < start:
        raise ValueError(f"bad line span in {entry!r}: need 1 <= start <= end")
    return Target(span["path"], start, end)


def load_queries(path: str | Path) -> list[EvalQuery]:
    """Read a queries JSONL file (blank lines and lines starting with '#' are skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QueriesFileError(f"cannot read queries file {path}: {exc}") from exc
    queries: list[EvalQuery] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
            query, relevant = record["query"], record["relevant"]
            if not isinstance(query, str) or not query.strip():
                raise ValueError("'query' must be a non-empty string")
            if isinstance(relevant, str):
                relevant = [relevant]
            if not relevant or not all(isinstance(r, str) for r in relevant):
                raise ValueError("'relevant' must be a non-empty list of paths or path:start-end spans")
            queries.append(EvalQuery(query.strip(), tuple(parse_target(r) for r in relevant)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise QueriesFileError(f"{path}:{number}: {detail}") from exc
    if not queries:
        raise QueriesFileError(f"{path}: no queries")
    return queries


def ranking_metrics(matches: Sequence[int | None], n_relevant: int, prefix: str) -> dict[str, float]:
    """Metrics of one ranked list. matches[i] is the index of the relevant target the i-th result is
    (first) credited to, or None; a target is credited once, so duplicates earn nothing."""
    credited: set[int] = set()
    gains: list[int] = []
    for target in matches:
        gains.append(1 if target is not None and target not in credited else 0)
        if target is not None:
            credited.add(target)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:CUTOFF]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(n_relevant, CUTOFF)))
    first = next((i for i, g in enumerate(gains[:CUTOFF]) if g), None)
    out = {
        f"{prefix}.ndcg@{CUTOFF}": dcg / ideal if ideal else 0.0,
        f"{prefix}.mrr@{CUTOFF}": 1 / (first + 1) if first is not None else 0.0,
    }
    for k in RECALL_KS:
        out[f"{prefix}.recall@{k}"] = sum(gains[:k]) / n_relevant if n_relevant else 0.0
    return out


def _first_match(targets: Sequence[Target], path: str, start: int, end: int, credited: set[int]) -> int | None:
    fallback = None
    for i, target in enumerate(targets):
        if target.matches_chunk(path, start, end):
            if i not in credited:
                return i
            fallback = i
    return fallback


def judge(query: EvalQuery, files: Sequence[str], chunks: Sequence[tuple[str, int, int]]) -> dict[str, float]:
    """The file- and chunk-level metrics of one query's ranked files and (path, start, end) chunks."""
    file_targets = list(dict.fromkeys(t.path for t in query.relevant))
    file_matches = [file_targets.index(path) if path in file_targets else None for path in files]
    credited: set[int] = set()
    chunk_matches: list[int | None] = []
    for path, start, end in chunks:
        match = _first_match(query.relevant, path, start, end, credited)
        chunk_matches.append(match)
        if match is not None:
            credited.add(match)
    metrics = ranking_metrics(file_matches, len(file_targets), "file")
    metrics.update(ranking_metrics(chunk_matches, len(query.relevant), "chunk"))
    return metrics


def evaluate_query(index, query: EvalQuery, encoder, options: SearchOptions) -> tuple[dict, dict, str]:
    """The per-query record (see the module docstring), its unrounded metrics, and the mode used."""
    files_result = search(index, query.query, encoder, replace(options, k=CUTOFF, files_only=True))
    chunks_result = search(index, query.query, encoder, replace(options, k=CUTOFF, files_only=False))
    files = [h.path for h in files_result.hits]
    chunks = [(h.path, h.start_line, h.end_line) for h in chunks_result.hits]
    metrics = judge(query, files, chunks)
    record = {
        "query": query.query,
        "query_kind": chunks_result.query_kind,
        "relevant": [str(t) for t in query.relevant],
        "metrics": {name: round(value, 4) for name, value in metrics.items()},
        "top_files": files,
        "top_chunks": [f"{path}:{start}-{end}" for path, start, end in chunks],
    }
    return record, metrics, chunks_result.mode


def evaluate(index, queries: Sequence[EvalQuery], encoder, options: SearchOptions = SearchOptions()) -> EvalReport:
    """Run every query and average the metrics (see the module docstring)."""
    if not queries:
        raise QueriesFileError("no queries to evaluate")
    per_query: list[dict] = []
    totals: dict[str, float] = {}
    mode = options.mode
    for query in queries:
        record, metrics, mode = evaluate_query(index, query, encoder, options)
        per_query.append(record)
        for name, value in metrics.items():
            totals[name] = totals.get(name, 0.0) + value
    metrics = {name: round(total / len(queries), 4) for name, total in totals.items()}
    return EvalReport(mode=mode, metrics=metrics, per_query=per_query)
