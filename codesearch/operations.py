"""The server's operations as JSON-ready results, shared by its socket and its MCP tools.

Hits are `output.hit_record`s, the serializer of `--json` too; for agents and editors each carries a
short snippet (a few lines around its focus line, each line capped), and `k` is bounded, so that an answer
fits in a context window. A `full` search (what `codesearch search` asks the socket for) carries each
hit's whole text and score parts instead, so that the client renders exactly what in-process search would.
"""
from __future__ import annotations

import os
import time
from typing import Any

from codesearch import core, reports
from codesearch.errors import UsageProblem
from codesearch.output import file_line_reader, hit_record, preview, query_terms
from codesearch.service import IndexService
from indexer.types import Hit

MAX_K = 50  # hits per answer for agents and editors (the CLI's `full` searches are not bounded)
SNIPPET_CONTEXT = 3  # lines on each side of the focus line
SNIPPET_LINE_CHARS = 160


def search(service: IndexService, params: dict[str, Any]) -> dict:
    params = dict(params)
    full = bool(params.pop("full", False))
    model = params.pop("model", None)
    if model and model != service.model_id:
        from codesearch.client import MODEL_MISMATCH

        raise UsageProblem(f"{MODEL_MISMATCH} ({service.model_id}) than {model}")
    if not full and isinstance(params.get("k"), int):
        params["k"] = min(params["k"], MAX_K)
    request = core.request_from_params(params)
    answer = service.search(request)
    if full:
        hits = [hit_record(h, full=True) for h in answer.hits]
    else:
        hits = _with_snippets(service, answer.hits, request.query)
    return {"mode": answer.mode, "notices": answer.notices, "hits": hits}


def find_related(service: IndexService, params: dict[str, Any]) -> dict:
    path, line = params.get("path"), params.get("line")
    if not isinstance(path, str) or not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise UsageProblem("find_related needs `path` (relative to the repository root) and `line` (1-based)")
    k = params.get("k", 10)
    if not isinstance(k, int) or k < 1:
        raise UsageProblem(f"k must be a whole number of at least 1, not {k!r}")
    k = min(k, MAX_K)
    hits = service.related(path.removeprefix("./"), line, k)
    by = "vectors" if hits and "semantic" in hits[0].explain else "lexical"  # a chunk not embedded yet: lexical
    return {"by": by, "hits": _with_snippets(service, hits, "")}


def index_status(service: IndexService, params: dict[str, Any]) -> dict:
    return reports.status_record(service.status(), service.root, service.index_dir, server_info(service))


def reindex(service: IndexService, params: dict[str, Any]) -> dict:
    since = params.get("since") or None
    summary = service.reindex(since=str(since) if since else None)
    return {
        "files_new": summary.files_new, "files_changed": summary.files_changed,
        "files_deleted": summary.files_deleted, "files_unchanged": summary.files_unchanged,
        "chunks_total": summary.chunks_total, "chunks_embedded": summary.chunks_embedded,
        "skipped": summary.skipped, "warnings": [f"{p}: {r}" for p, r in summary.warnings[:20]],
        "seconds": round(summary.seconds, 3),
    }


def server_info(service: IndexService, params: dict[str, Any] | None = None) -> dict:
    return {
        "pid": os.getpid(), "root": str(service.root), "index_dir": str(service.index_dir),
        "model": service.model_id, "watching": service.watching,
        "uptime_s": round(time.time() - service.started_at, 1), "last_reindex": service.last_reindex,
        "warmed_terms": service.warmed_terms,
    }


def _with_snippets(service: IndexService, hits: list[Hit], query: str) -> list[dict]:
    terms, read_line = query_terms(query), file_line_reader(service.root)
    out = []
    for rank, hit in enumerate(hits, start=1):
        view = preview(hit, terms, SNIPPET_CONTEXT, read_line)
        lines = [line if len(line) <= SNIPPET_LINE_CHARS else line[:SNIPPET_LINE_CHARS] + "…" for line in view.window]
        out.append({**hit_record(hit), "score": round(hit.score, 6), "rank": rank, "focus_line": view.focus_line,
                    "snippet": "\n".join(lines)})
    return out
