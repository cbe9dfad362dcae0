"""The MCP tools of `codesearch serve` (official Python SDK, stdio transport): search, find_related,
index_status and reindex, each a thin typed wrapper over `codesearch.operations`.

Answers are compact JSON text; a failure becomes a tool error whose message is the line the CLI would
print for it.
"""
from __future__ import annotations

import json
from typing import Literal, Optional

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from codesearch import operations
from codesearch.errors import error_line
from codesearch.service import IndexService

INSTRUCTIONS = """\
Code search over one repository's index (semantic and lexical, fused). Use `search` to find where
something is done or defined, in words ("where are uploads retried") or by name (`parse_config`); prefer
it to grep when you do not know the exact identifier. Use `find_related` on a file and line you are
looking at to find similar code elsewhere (other implementations, callers' siblings, duplicates). Hits
carry a short snippet: open the file at `path` and `line_span` for more. `stale: true` means the file
changed since it was indexed; `reindex` brings the index up to date (the server may also watch files)."""

_SEARCH = """\
Find code by meaning or by name. Returns the best `k` hits (default 10, at most 50), best first, each
with path, line_span, symbol, kind, language, score, stale and a snippet around its focus line.
mode: "hybrid" (default: meaning and words fused), "lexical" (exact identifiers, fastest), "semantic"
(meaning only). Narrow with languages (e.g. ["python"]), paths (globs like "src/**"; "!**/tests/**"
excludes) and kind ("function", "method", "class", "file", "section"). files_only: one hit per file."""

_RELATED = """\
Find the code most similar to the chunk (function, class or file) at `path` and 1-based `line`: by the
stored embeddings when the index has vectors, else by shared identifiers. Use it to find other
implementations of a pattern, near-duplicates, or code to change together. The chunk itself and the
chunks that contain it are left out."""

_STATUS = """\
The index's state (current, stale, missing, corrupt), its file/chunk/vector counts, model, last indexed
commit, the files changed since indexing, and this server's model and watch state. Use it when results
look outdated or empty."""

_REINDEX = """\
Update the index incrementally (only changed files are re-read; unchanged chunks keep their vectors).
`since`: a git revision, to consider only files changed since it. Use it after editing files when the
server is not watching them, or when hits are marked stale."""


def _compact(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


def build_server(service: IndexService) -> MCPServer:
    server = MCPServer("codesearch", instructions=INSTRUCTIONS, log_level="WARNING")

    def run(operation, params: dict) -> str:
        try:
            return _compact(operation(service, params))
        except Exception as exc:  # noqa: BLE001 - the tool's error is the agent's answer
            raise ToolError(error_line(exc)) from exc

    @server.tool(description=_SEARCH)
    def search(
        query: str,
        k: int = 10,
        mode: Literal["hybrid", "semantic", "lexical"] = "hybrid",
        languages: Optional[list[str]] = None,
        paths: Optional[list[str]] = None,
        kind: Optional[Literal["file", "function", "method", "class", "section"]] = None,
        files_only: bool = False,
    ) -> str:
        return run(operations.search, {"query": query, "k": k, "mode": mode, "languages": languages or [],
                                       "paths": paths or [], "kind": kind, "files_only": files_only})

    @server.tool(description=_RELATED)
    def find_related(path: str, line: int, k: int = 10) -> str:
        return run(operations.find_related, {"path": path, "line": line, "k": k})

    @server.tool(description=_STATUS)
    def index_status() -> str:
        return run(operations.index_status, {})

    @server.tool(description=_REINDEX)
    def reindex(since: Optional[str] = None) -> str:
        return run(operations.reindex, {"since": since})

    return server
