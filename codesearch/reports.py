"""Renders what `index`, `status` and `eval` report: the indexing summary, the index state, metrics."""
from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# How many changed files `status` lists by name before only counting them.
MAX_CHANGED_SHOWN = 10


def print_index_summary(console: Console, summary: Any, index_dir: Path) -> None:
    """What one `codesearch index` run did: files, chunks embedded vs reused, skipped files, time."""
    files = (f"{summary.files_new} new, {summary.files_changed} changed, {summary.files_deleted} deleted, "
             f"{summary.files_unchanged} unchanged")
    if summary.lexical_only:
        chunks = f"{summary.chunks_total} in the index, lexical only (no vectors)"
    else:
        chunks = (f"{summary.chunks_total} in the index; {summary.chunks_embedded} embedded "
                  f"({summary.tokens_embedded:,} tokens), {summary.chunks_reused} reused from the cache")
    table = Table.grid(padding=(0, 2))
    table.add_row("index", escape(str(index_dir)))
    table.add_row("files", files)
    table.add_row("chunks", chunks)
    if summary.skipped:
        table.add_row("skipped", ", ".join(f"{n} {escape(reason)}" for reason, n in sorted(summary.skipped.items())))
    rate = f", {summary.tokens_embedded / summary.seconds:,.0f} tokens/s" if summary.tokens_embedded and summary.seconds else ""
    table.add_row("time", f"{summary.seconds:.1f}s{rate}")
    console.print(table)


def status_record(status: Any, root: Path, index_dir: Path) -> dict:
    """The `status --json` object."""
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
    }


def write_status_json(stream: IO[str], status: Any, root: Path, index_dir: Path) -> None:
    stream.write(json.dumps(status_record(status, root, index_dir), ensure_ascii=False) + "\n")


_STATE_STYLE = {"current": "green", "stale": "yellow", "missing": "red", "corrupt": "red"}


def print_status(console: Console, status: Any, root: Path, index_dir: Path) -> None:
    record = status_record(status, root, index_dir)
    state = record["state"]
    table = Table.grid(padding=(0, 2))
    table.add_row("index", escape(record["index_dir"]))
    line = f"[{_STATE_STYLE.get(state, 'white')}]{state}[/]"
    if record["reason"]:
        line += f" ({escape(str(record['reason']))})"
    table.add_row("state", line)
    if state not in ("missing", "corrupt"):
        table.add_row("counts", f"{record['files']} files, {record['chunks']} chunks, {record['vectors']} vectors")
        table.add_row("model", escape(record["model_id"] or "none (lexical only)"))
        table.add_row("commit", escape(record["last_commit"] or "not a git repository"))
        if record["indexed_at"]:
            table.add_row("indexed", escape(record["indexed_at"]))
        changed = record["changed_files"]
        shown = ", ".join(changed[:MAX_CHANGED_SHOWN]) + (" ..." if len(changed) > MAX_CHANGED_SHOWN else "")
        table.add_row("changed", f"{len(changed)} files since indexing" + (f": {escape(shown)}" if changed else ""))
    console.print(table)


def _state_name(state: Any) -> str:
    value = getattr(state, "value", state)
    return str(value).lower() if not hasattr(state, "name") else state.name.lower()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
