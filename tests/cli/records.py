"""Typed records of `codesearch search --json` (the schema in README.md), parsed strictly for tests.

Parsing fails on a missing key, an unexpected key or a value of the wrong type, so a test that parses
the output checks it against the documented schema.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Submatch:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Match:
    path: str
    line_text: str
    line_number: int
    submatches: tuple[Submatch, ...]
    rank: int
    score: float
    symbol: str | None
    parent: str | None
    kind: str
    language: str | None
    span_start: int
    span_end: int
    stale: bool
    explain: dict[str, float] | None


@dataclass(frozen=True)
class FileGroup:
    path: str
    matches: tuple[Match, ...]
    end_matches: int  # the end message's stats.matches


@dataclass(frozen=True)
class Summary:
    query: str
    mode: str
    elapsed_secs: float
    matches: int
    files: int
    stale: int


@dataclass(frozen=True)
class SearchOutput:
    files: tuple[FileGroup, ...]
    summary: Summary

    @property
    def matches(self) -> list[Match]:
        """All matches in overall rank order."""
        return sorted((m for g in self.files for m in g.matches), key=lambda m: m.rank)


def _keys(obj: dict, required: set[str], optional: set[str] = frozenset()) -> None:
    missing, extra = required - obj.keys(), obj.keys() - required - optional
    assert not missing and not extra, f"keys: missing {missing}, unexpected {extra} in {obj}"


def _typed(value: Any, *kinds: type) -> Any:
    assert isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds), (value, kinds)
    return value


def _match(data: dict) -> Match:
    _keys(data, {"path", "lines", "line_number", "absolute_offset", "submatches", "rank", "score", "symbol",
                 "parent", "kind", "language", "line_span", "stale"}, {"explain"})
    assert data["absolute_offset"] is None
    _keys(data["line_span"], {"start", "end"})
    subs = []
    for s in data["submatches"]:
        _keys(s, {"match", "start", "end"})
        subs.append(Submatch(_typed(s["match"]["text"], str), _typed(s["start"], int), _typed(s["end"], int)))
    explain = data.get("explain")
    if explain is not None:
        assert all(isinstance(k, str) and isinstance(v, (int, float)) for k, v in explain.items())
    return Match(
        path=_typed(data["path"]["text"], str),
        line_text=_typed(data["lines"]["text"], str),
        line_number=_typed(data["line_number"], int),
        submatches=tuple(subs),
        rank=_typed(data["rank"], int),
        score=float(_typed(data["score"], int, float)),
        symbol=_typed(data["symbol"], str, type(None)),
        parent=_typed(data["parent"], str, type(None)),
        kind=_typed(data["kind"], str),
        language=_typed(data["language"], str, type(None)),
        span_start=_typed(data["line_span"]["start"], int),
        span_end=_typed(data["line_span"]["end"], int),
        stale=_typed(data["stale"], bool),
        explain=explain,
    )


def parse_search_json(stdout: str) -> SearchOutput:
    """Parse JSON Lines into records, checking the begin/match.../end nesting and the final summary."""
    messages = [json.loads(line) for line in stdout.splitlines()]
    assert messages and messages[-1]["type"] == "summary", "the last message must be the summary"
    groups: list[FileGroup] = []
    current: tuple[str, list[Match]] | None = None
    for message in messages[:-1]:
        _keys(message, {"type", "data"})
        kind, data = message["type"], message["data"]
        if kind == "begin":
            assert current is None, "begin inside a file"
            _keys(data, {"path"})
            current = (data["path"]["text"], [])
        elif kind == "match":
            assert current is not None and data["path"]["text"] == current[0], "match outside its file"
            current[1].append(_match(data))
        elif kind == "end":
            assert current is not None and data["path"]["text"] == current[0], "end without begin"
            _keys(data, {"path", "binary_offset", "stats"})
            groups.append(FileGroup(current[0], tuple(current[1]), _typed(data["stats"]["matches"], int)))
            current = None
        else:
            raise AssertionError(f"unexpected message type {kind!r}")
    assert current is None, "file left open"
    data = messages[-1]["data"]
    _keys(data, {"query", "mode", "elapsed_total", "stats"})
    _keys(data["elapsed_total"], {"secs", "nanos", "human"})
    _keys(data["stats"], {"matches", "files", "stale"})
    elapsed = data["elapsed_total"]
    summary = Summary(
        query=_typed(data["query"], str),
        mode=_typed(data["mode"], str),
        elapsed_secs=_typed(elapsed["secs"], int) + _typed(elapsed["nanos"], int) / 1e9,
        matches=_typed(data["stats"]["matches"], int),
        files=_typed(data["stats"]["files"], int),
        stale=_typed(data["stats"]["stale"], int),
    )
    return SearchOutput(tuple(groups), summary)


