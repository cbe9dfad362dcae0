"""The renderers: focus lines, rg-style JSON Lines parsed back into records, vimgrep, human output."""
from __future__ import annotations

import io

from rich.console import Console

from codesearch.output import json_messages, preview, query_terms, render_human, vimgrep_lines, write_json
from indexer.types import Hit
from tests.cli.records import parse_search_json

REFILL = "  defp refill(bucket, now) do\n    %{bucket | tokens: min(bucket.capacity, 1)}\n  end"


def _hit(path: str, start: int, text: str, score: float, **kw) -> Hit:
    end = start + len(text.splitlines()) - 1
    return Hit(chunk_id=start, path=path, kind=kw.pop("kind", "function"), symbol=kw.pop("symbol", None),
               parent=None, language="elixir", start_line=start, end_line=end, score=score, text=text, **kw)


HITS = [
    _hit("src/rate_limiter.ex", 9, REFILL, 0.9, symbol="RateLimiter.refill", explain={"lexical": 0.5}),
    _hit("src/queue.go", 1, "package queue\n\nfunc Push() {}", 0.5, kind="file"),
    _hit("src/rate_limiter.ex", 1, "# Token-bucket rate limiting.\ndefmodule RateLimiter do", 0.4, stale=True),
]


def test_focus_line_is_the_line_with_most_query_terms():
    view = preview(HITS[0], query_terms("bucket capacity"), context=0)
    assert view.focus_line == 10 and view.window == ("    %{bucket | tokens: min(bucket.capacity, 1)}",)
    assert [s.text for s in view.submatches] == ["bucket", "bucket", "capacity"]
    line = view.line_text.encode()
    assert all(line[s.start:s.end].decode() == s.text for s in view.submatches)
    assert view.column == 7


def test_without_query_terms_the_focus_is_the_first_non_blank_line_and_context_stays_in_the_span():
    view = preview(HITS[1], query_terms("enqueue things"), context=5)
    assert view.focus_line == 1 and view.column == 1 and not view.submatches
    assert view.first_line == 1 and len(view.window) == 3


def test_on_a_tie_the_focus_is_the_definition_line_not_its_comment():
    text = "// DrainAll empties the queue.\nfunc DrainAll(q *Queue) int {\n\treturn 0\n}"
    hit = _hit("src/queue.go", 30, text, 1.0, symbol="DrainAll")
    assert preview(hit, query_terms("DrainAll"), context=0).focus_line == 31


def test_json_groups_hits_by_file_in_best_hit_order_and_keeps_ranks():
    stream = io.StringIO()
    write_json(stream, json_messages(HITS, "refill bucket", "hybrid", 0.25, explain=True))
    out = parse_search_json(stream.getvalue())
    assert [g.path for g in out.files] == ["src/rate_limiter.ex", "src/queue.go"]
    assert [m.rank for m in out.files[0].matches] == [1, 3] and out.files[0].end_matches == 2
    first = out.matches[0]
    assert (first.symbol, first.kind, first.span_start, first.span_end) == ("RateLimiter.refill", "function", 9, 11)
    assert first.line_number == 9 and first.line_text == "  defp refill(bucket, now) do\n"
    assert first.explain == {"lexical": 0.5}
    assert out.summary.matches == 3 and out.summary.files == 2 and out.summary.stale == 1
    assert out.summary.mode == "hybrid" and abs(out.summary.elapsed_secs - 0.25) < 1e-6


def test_json_has_no_explain_unless_asked():
    stream = io.StringIO()
    write_json(stream, json_messages(HITS, "refill", "lexical", 0.0, explain=False))
    assert all(m.explain is None for m in parse_search_json(stream.getvalue()).matches)


def test_vimgrep_lines_point_at_the_focus_line_and_column():
    assert list(vimgrep_lines(HITS[:1], "refill")) == ["src/rate_limiter.ex:9:8:  defp refill(bucket, now) do"]


def test_vimgrep_lists_a_line_once_when_a_file_hit_and_a_function_hit_focus_on_it():
    whole_file = _hit("src/rate_limiter.ex", 1, "defmodule RateLimiter do\n\n\n\n\n\n\n\n" + REFILL, 0.3, kind="file")
    lines = list(vimgrep_lines([HITS[0], HITS[1], whole_file], "refill"))
    assert preview(whole_file, query_terms("refill"), 0).focus_line == 9  # the same line as HITS[0]'s
    assert lines == ["src/rate_limiter.ex:9:8:  defp refill(bucket, now) do", "src/queue.go:1:1:package queue"]


def test_human_output_shows_location_symbol_snippet_and_stale_mark():
    console = Console(file=io.StringIO(), width=120, color_system=None)
    render_human(console, HITS, "refill bucket", context=1, explain=True, files_only=False)
    text = console.file.getvalue()
    assert "src/rate_limiter.ex:9  RateLimiter.refill  (function 9-11, score 0.9000)" in text
    assert "lexical=0.5" in text and "defp refill(bucket, now) do" in text
    assert "stale" in text.split("src/rate_limiter.ex:1", 1)[1]


def test_files_only_prints_each_path_once():
    console = Console(file=io.StringIO(), width=120, color_system=None)
    render_human(console, HITS, "x", context=3, explain=False, files_only=True)
    assert console.file.getvalue().splitlines() == ["src/rate_limiter.ex", "src/queue.go"]
