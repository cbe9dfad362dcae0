"""Renders what `index`, `status` and `eval` report: the indexing summary, the index state, metrics."""
from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codesearch.output import printable_path

# How many changed files `status` lists by name before only counting them.
MAX_CHANGED_SHOWN = 10


def print_index_summary(console: Console, summary: Any, index_dir: Path) -> None:
    """What one `codesearch index` run did: files, chunks embedded vs reused, skipped files, time."""
    files = (f"{summary.files_new} new, {summary.files_changed} changed, {summary.files_deleted} deleted, "
             f"{summary.files_unchanged} unchanged")
    if summary.lexical_only:
        chunks = (f"{summary.chunks_total} in the index, lexical only (no vectors; "
                  "`codesearch index --model FOLDER_OR_ID` adds them)")
    else:
        chunks = (f"{summary.chunks_total} in the index; {summary.chunks_embedded} embedded "
                  f"({summary.tokens_embedded:,} tokens), {summary.chunks_reused} reused from the cache")
    table = _Rows()
    table.add_row("index", escape(str(index_dir)))
    table.add_row("files", files)
    table.add_row("chunks", chunks)
    if summary.rebuilt_reason:
        table.add_row("rebuilt", escape(summary.rebuilt_reason))
    if summary.repaired:
        table.add_row("repaired", escape(", ".join(summary.repaired)))
    if summary.skipped:
        table.add_row("skipped", ", ".join(f"{n} {escape(reason)}" for reason, n in sorted(summary.skipped.items())))
    rate = f", {summary.tokens_embedded / summary.seconds:,.0f} tokens/s" if summary.tokens_embedded and summary.seconds else ""
    table.add_row("time", f"{summary.seconds:.1f}s{rate}")
    table.print(console)


class _Rows:
    """Label/value lines printed without cropping (paths can be long; lines may wrap but never lose text)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add_row(self, label: str, value: str) -> None:
        self.rows.append((label, value))

    def print(self, console: Console) -> None:
        width = max(len(label) for label, _ in self.rows)
        for label, value in self.rows:
            console.print(f"{label:<{width}}  {value}", soft_wrap=True, highlight=False)


def status_record(status: Any, root: Path, index_dir: Path, server: dict | None = None) -> dict:
    """The `status --json` object; `server`: the running server's info (codesearch.client.server_info)."""
    return {
        "root": str(root),
        "index_dir": str(index_dir),
        "state": _state_name(status.state),
        "reason": status.reason,
        "files": status.files,
        "chunks": status.chunks,
        "vectors": status.vectors,
        "model_id": status.model_id,
        "last_commit": status.last_commit,
        "indexed_at": _text(status.indexed_at),
        "changed_files": list(status.changed_files or []),
        "repair": status.repair,
        "server": server,
    }


def write_status_json(stream: IO[str], status: Any, root: Path, index_dir: Path, server: dict | None = None) -> None:
    stream.write(json.dumps(status_record(status, root, index_dir, server), ensure_ascii=False) + "\n")


_STATE_STYLE = {"current": "green", "stale": "yellow", "missing": "red", "corrupt": "red"}


def print_status(console: Console, status: Any, root: Path, index_dir: Path, server: dict | None = None) -> None:
    record = status_record(status, root, index_dir, server)
    state = record["state"]
    table = _Rows()
    table.add_row("index", escape(record["index_dir"]))
    line = f"[{_STATE_STYLE.get(state, 'white')}]{state}[/]"
    if record["reason"]:
        line += f" ({escape(str(record['reason']))})"
    table.add_row("state", line)
    if record["repair"]:
        table.add_row("repair", f"run `{escape(record['repair'])}`")
    if state not in ("missing", "corrupt"):
        table.add_row("counts", f"{record['files']} files, {record['chunks']} chunks, {record['vectors']} vectors")
        table.add_row("model", escape(record["model_id"] or "none (lexical only)"))
        table.add_row("commit", escape(record["last_commit"] or _no_commit(record)))
        if record["indexed_at"]:
            table.add_row("indexed", escape(record["indexed_at"]))
        changed = record["changed_files"]
        shown = ", ".join(printable_path(p) for p in changed[:MAX_CHANGED_SHOWN])
        shown += " ..." if len(changed) > MAX_CHANGED_SHOWN else ""
        table.add_row("changed", f"{len(changed)} files since indexing" + (f": {escape(shown)}" if changed else ""))
        table.add_row("server", _server_line(server))
    table.print(console)


def _no_commit(record: dict) -> str:
    """Why there is no commit: a run that finished outside git records none; an unfinished one none yet."""
    return "not a git repository" if record["indexed_at"] else "unknown: the last indexing run did not finish"


def _server_line(server: dict | None) -> str:
    if server is None:
        return "not running (start one with `codesearch serve`)"
    watching = ", watching files" if server.get("watching") else ""
    return f"running (pid {server['pid']}{watching})"


def print_eval(console: Console, report: Any, *, per_query: bool) -> None:
    """The metrics of `codesearch eval`: one row per metric, file- and chunk-level side by side."""
    names = sorted({key.split(".", 1)[1] for key in report.metrics}, key=_metric_order)
    table = Table(title=f"{len(report.per_query)} queries, {report.mode} search", title_justify="left")
    table.add_column("metric")
    table.add_column("file", justify="right")
    table.add_column("chunk", justify="right")
    for name in names:
        table.add_row(name, *(_figure(report.metrics.get(f"{level}.{name}")) for level in ("file", "chunk")))
    console.print(table)
    if per_query:
        shown = [n for n in ("ndcg@10", "recall@10") if n in names]
        rows = Table()
        rows.add_column("query", min_width=24)
        rows.add_column("kind")
        for level in ("file", "chunk"):
            for name in shown:
                rows.add_column(f"{level}\n{name}", justify="right")
        for record in report.per_query:
            metrics = record["metrics"]
            figures = [_figure(metrics.get(f"{level}.{name}")) for level in ("file", "chunk") for name in shown]
            rows.add_row(escape(record["query"]), record.get("query_kind", ""), *figures)
        console.print(rows)


def _metric_order(name: str) -> tuple[str, int]:
    kind, _, cutoff = name.partition("@")
    return (kind, int(cutoff) if cutoff.isdigit() else 0)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _state_name(state: Any) -> str:
    return state.name.lower()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
