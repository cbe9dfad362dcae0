"""Renders search hits on stdout: human (Rich, syntax-highlighted), JSON Lines like `rg --json`, vimgrep.

Every hit is shown around its *focus line*: the line of the hit's span that holds the most query terms
(the first line of the span when none does), which plays the part of grep's matching line.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Callable, Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from indexer import confined
from indexer.lexical import code_tokens, split_identifier
from indexer.types import Hit

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")

_COMMENT_STARTS = ("#", "//", "/*", "*", "--", ";", '"""')

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# (path, 1-based line number) -> that line of the file on disk, or None when it cannot be read.
LineReader = Callable[[str, int], "str | None"]


@dataclass(frozen=True)
class Submatch:
    text: str
    start: int  # byte offset into the focus line, like rg
    end: int


@dataclass(frozen=True)
class Preview:
    """What is shown of one hit: its focus line and the context window around it (inside the span)."""

    focus_line: int  # 1-based line number in the file
    column: int  # 1-based column (in characters) of the first query term on the focus line, else 1
    line_text: str  # the focus line, without its newline
    submatches: tuple[Submatch, ...]
    first_line: int  # line number of window[0]
    window: tuple[str, ...]


def query_terms(query: str) -> frozenset[str]:
    """The lower-cased identifier tokens of a query (whole identifiers and their parts)."""
    return frozenset(code_tokens(query))


def _line_submatches(line: str, terms: frozenset[str]) -> list[Submatch]:
    found = []
    for m in _IDENT.finditer(line):
        ident = m.group()
        if ident.lower().strip("_") in terms or any(part in terms for part in split_identifier(ident)):
            start = len(line[: m.start()].encode())
            found.append(Submatch(ident, start, start + len(ident.encode())))
    return found


def preview(hit: Hit, terms: frozenset[str], context: int, read_line: LineReader | None = None) -> Preview:
    """Pick the focus line of a hit and the `context` lines on each side of it, clipped to the span.

    A span starts where its definition starts, after any indentation; `read_line` restores the whole
    first line from the file so that columns are right (unless the file changed since indexing).
    """
    lines = hit.text.splitlines() or [""]
    if read_line is not None and not hit.stale:
        whole = read_line(hit.path, hit.start_line)
        if whole is not None and whole.endswith(lines[0]):
            lines[0] = whole
    name = (hit.symbol or "").rsplit(".", 1)[-1]
    best, best_key = 0, (0, False, False)
    for i, line in enumerate(lines):
        count = len({s.text.lower() for s in _line_submatches(line, terms)})
        # Most distinct terms; on a tie, the line naming the symbol, and code over a comment.
        key = (count, bool(name) and name in line, not line.lstrip().startswith(_COMMENT_STARTS))
        if count and key > best_key:
            best, best_key = i, key
    if best_key[0] == 0:  # no term on any line: show the span from its first non-blank line
        best = next((i for i, line in enumerate(lines) if line.strip()), 0)
    subs = tuple(_line_submatches(lines[best], terms))
    column = len(lines[best].encode()[: subs[0].start].decode(errors="ignore")) + 1 if subs else 1
    lo, hi = max(0, best - context), min(len(lines), best + context + 1)
    return Preview(
        focus_line=hit.start_line + best,
        column=column,
        line_text=lines[best],
        submatches=subs,
        first_line=hit.start_line + lo,
        window=tuple(lines[lo:hi]),
    )


def printable_path(path: str) -> str:
    """The path with control characters escaped (\\n, \\t, \\xNN): a file name with a newline must not
    split a result line in two, nor an escape sequence in one reach the terminal."""
    return _CONTROL.sub(lambda m: _NAMED_ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), path)


def group_by_file(hits: Sequence[Hit]) -> list[tuple[str, list[tuple[int, Hit]]]]:
    """Hits grouped per file (files ordered by their best hit), each with its 1-based global rank."""
    groups: dict[str, list[tuple[int, Hit]]] = {}
    for rank, hit in enumerate(hits, start=1):
        groups.setdefault(hit.path, []).append((rank, hit))
    return list(groups.items())


# --- human -------------------------------------------------------------------------------------------


def render_human(
    console: Console,
    hits: Sequence[Hit],
    query: str,
    *,
    context: int,
    explain: bool,
    files_only: bool,
    read_line: LineReader | None = None,
) -> None:
    """Each hit as `path:line  symbol  kind  score` and a highlighted snippet around its focus line."""
    if files_only:
        for path in dict.fromkeys(hit.path for hit in hits):
            console.print(escape(printable_path(path)), highlight=False, soft_wrap=True)
        return
    terms = query_terms(query)
    for n, hit in enumerate(hits):
        view = preview(hit, terms, context, read_line)
        if n:
            console.print()
        console.print(_header(hit, view), highlight=False, soft_wrap=True)
        if explain and hit.explain:
            parts = "  ".join(f"{k}={v:.4g}" for k, v in hit.explain.items())
            console.print(f"  [dim]{escape(parts)}[/]", highlight=False, soft_wrap=True)
        code = "\n".join(view.window)
        console.print(
            Syntax(
                code,
                Syntax.guess_lexer(hit.path, code),
                line_numbers=True,
                start_line=view.first_line,
                highlight_lines={view.focus_line},
                theme="ansi_dark",
                background_color="default",
                word_wrap=True,
            )
        )


def _header(hit: Hit, view: Preview) -> str:
    parts = [f"[magenta]{escape(printable_path(hit.path))}[/]:[green]{view.focus_line}[/]"]
    if hit.symbol:  # already qualified by the chunker ("HttpClient.send")
        parts.append(f"[bold]{escape(hit.symbol)}[/]")
    span = f"{hit.kind} {hit.start_line}-{hit.end_line}, score {hit.score:.4f}"
    parts.append(f"[dim]({escape(span)})[/]")
    if hit.stale:
        parts.append("[yellow]stale: file changed since indexing[/]")
    return "  ".join(parts)


# --- rg --json ----------------------------------------------------------------------------------------


def json_messages(
    hits: Sequence[Hit], query: str, mode: str, elapsed_s: float, *, explain: bool,
    read_line: LineReader | None = None,
) -> Iterable[dict]:
    """The JSON Lines messages of one search: begin/match.../end per file, then one summary."""
    terms = query_terms(query)
    files = group_by_file(hits)
    for path, ranked in files:
        yield {"type": "begin", "data": {"path": {"text": path}}}
        for rank, hit in ranked:
            yield {"type": "match", "data": match_data(hit, rank, preview(hit, terms, 0, read_line), explain)}
        yield {
            "type": "end",
            "data": {"path": {"text": path}, "binary_offset": None, "stats": {"matches": len(ranked)}},
        }
    yield {
        "type": "summary",
        "data": {
            "query": query,
            "mode": mode,
            "elapsed_total": _duration(elapsed_s),
            "stats": {"matches": len(hits), "files": len(files), "stale": sum(h.stale for h in hits)},
        },
    }


def match_data(hit: Hit, rank: int, view: Preview, explain: bool) -> dict:
    """One `match` message's data: rg's fields plus rank and the hit's record (score, symbol, kind, span)."""
    record = hit_record(hit)
    data = {
        "path": {"text": record.pop("path")},
        "lines": {"text": view.line_text + "\n"},
        "line_number": view.focus_line,
        "absolute_offset": None,
        "submatches": [{"match": {"text": s.text}, "start": s.start, "end": s.end} for s in view.submatches],
        "rank": rank,
        **record,
    }
    data["score"] = round(hit.score, 6)
    if explain:
        data["explain"] = dict(hit.explain)
    return data


def hit_record(hit: Hit, *, full: bool = False) -> dict:
    """The one serialized form of a hit, shared by `--json`, the server's socket and its MCP tools.

    `full` adds what a client needs to render the hit exactly as in-process search would: the chunk
    id, its text and the score parts (`hit_from_record` reads it back).
    """
    record = {
        "path": hit.path,
        "score": hit.score,
        "symbol": hit.symbol,
        "parent": hit.parent,
        "kind": hit.kind,
        "language": hit.language,
        "line_span": {"start": hit.start_line, "end": hit.end_line},
        "stale": hit.stale,
    }
    if full:
        record.update(chunk_id=hit.chunk_id, text=hit.text, explain=dict(hit.explain))
    return record


def hit_from_record(record: dict) -> Hit:
    """The Hit a full `hit_record` was made from."""
    span = record["line_span"]
    return Hit(chunk_id=record["chunk_id"], path=record["path"], kind=record["kind"], symbol=record["symbol"],
               parent=record["parent"], language=record["language"], start_line=span["start"],
               end_line=span["end"], score=record["score"], text=record["text"], explain=dict(record["explain"]),
               stale=record["stale"])


def _duration(seconds: float) -> dict:
    whole = int(seconds)
    return {"secs": whole, "nanos": int((seconds - whole) * 1e9), "human": f"{seconds:.6f}s"}


def write_json(stream: IO[str], messages: Iterable[dict]) -> None:
    for message in messages:
        stream.write(json.dumps(message, ensure_ascii=False) + "\n")


# --- vimgrep ------------------------------------------------------------------------------------------


def vimgrep_lines(hits: Sequence[Hit], query: str, read_line: LineReader | None = None) -> Iterable[str]:
    """`path:line:column:text` per hit, as `rg --vimgrep` prints (for Vim/Neovim quickfix lists).

    A file hit and a definition hit inside it often focus on the same line: that line is listed once,
    at the rank of its best hit.
    """
    terms = query_terms(query)
    seen: set[tuple[str, int]] = set()
    for hit in hits:
        view = preview(hit, terms, 0, read_line)
        if (hit.path, view.focus_line) not in seen:
            seen.add((hit.path, view.focus_line))
            yield f"{printable_path(hit.path)}:{view.focus_line}:{view.column}:{view.line_text}"



def file_line_reader(root: Path) -> LineReader:
    """A LineReader over the files under `root`, reading each file once."""

    @lru_cache(maxsize=64)
    def lines_of(path: str) -> list[str] | None:
        try:  # through `confined`: a file since swapped for a link out of the root is not read
            return confined.read_file(root, path).decode("utf-8", errors="replace").splitlines()
        except (OSError, confined.Refused):
            return None

    def read_line(path: str, number: int) -> str | None:
        lines = lines_of(path)
        return lines[number - 1] if lines is not None and 0 < number <= len(lines) else None

    return read_line
