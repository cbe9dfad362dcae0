"""`codesearch serve` driven by a real MCP client (the SDK's stdio client) on the fixture repository,
indexed with the tiny checkpoint: the tools, their answers, reindex, and --watch."""
from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.cli.servers import WAIT_S, server_env

TOOLS = {"search", "find_related", "index_status", "reindex"}


def with_session(repo, body, *args: str):
    """Run `body(session)` against `codesearch serve repo *args` launched as an MCP client launches it;
    the client closes stdin (and kills the process if it lingers) when the body ends."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "codesearch", "serve", str(repo), *args],
                                   env=server_env(), cwd=str(repo))

    async def main():
        with anyio.fail_after(WAIT_S):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await body(session)

    return anyio.run(main)


async def call(session, tool: str, **arguments) -> dict:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def test_mcp_client_lists_the_tools_searches_finds_related_and_reports_status(tiny_indexed):
    async def body(session):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        found = await call(session, "search", query="refill the token bucket", k=3)
        related = await call(session, "find_related", path="src/rate_limiter.ex", line=9, k=5)
        status = await call(session, "index_status")
        missing = await session.call_tool("find_related", {"path": "src/nothing_here.py", "line": 1})
        many = await call(session, "search", query="def", k=500, mode="lexical")
        return tools, found, related, status, missing, many

    tools, found, related, status, missing, many = with_session(tiny_indexed, body)
    assert set(tools) == TOOLS
    assert set(tools["search"].input_schema["properties"]) == {
        "query", "k", "mode", "languages", "paths", "kind", "files_only"}
    assert set(tools["find_related"].input_schema["properties"]) >= {"path", "line"}
    assert all(len(t.description) > 80 for t in tools.values())  # they tell an agent when to use them

    assert found["mode"] == "hybrid" and len(found["hits"]) <= 3
    top = found["hits"][0]
    assert (top["path"], top["symbol"]) == ("src/rate_limiter.ex", "RateLimiter.refill")
    assert top["line_span"] == {"start": 9, "end": 11} and top["stale"] is False
    assert {"kind", "language", "score", "snippet", "rank"} <= set(top) and "defp refill" in top["snippet"]

    assert related["by"] == "vectors" and 0 < len(related["hits"]) <= 5
    assert all(not (h["path"] == "src/rate_limiter.ex" and h["line_span"]["start"] <= 9 <= h["line_span"]["end"])
               for h in related["hits"])  # the chunk itself and those around it are left out

    assert status["state"] == "current" and status["vectors"] > 0
    assert status["server"]["pid"] > 0 and status["server"]["watching"] is False
    assert missing.is_error and "not in the index" in missing.content[0].text
    assert 0 < len(many["hits"]) <= 50  # k is bounded, and so are the snippets
    assert all(len(h["snippet"].splitlines()) <= 7 for h in many["hits"])


def test_mcp_reindex_picks_up_an_edit(tiny_indexed):
    target = tiny_indexed / "src" / "rate_limiter.ex"

    async def body(session):
        before = await call(session, "search", query="zyzzyvaquokka", mode="lexical")
        target.write_text(target.read_text() + "\ndefmodule Guard do\n  def zyzzyvaquokka(x), do: x\nend\n")
        summary = await call(session, "reindex")
        after = await call(session, "search", query="zyzzyvaquokka", mode="lexical")
        return before, summary, after

    before, summary, after = with_session(tiny_indexed, body)
    assert before["hits"] == []
    assert summary["files_changed"] == 1 and summary["chunks_embedded"] > 0
    assert after["hits"][0]["path"] == "src/rate_limiter.ex"


def test_mcp_watch_makes_an_atomically_saved_edit_searchable_without_reindex(tiny_indexed):
    target = tiny_indexed / "src" / "rate_limiter.ex"

    async def body(session):
        assert (await call(session, "index_status"))["server"]["watching"] is True
        # A file created and deleted at once (read by nobody, or vanished while being read) is harmless.
        fleeting = tiny_indexed / "src" / "fleeting.py"
        fleeting.write_text("def fleetingnumbat():\n    pass\n")
        fleeting.unlink()
        # An editor's atomic save: the new content goes to a temporary file renamed over the old one.
        temporary = target.with_name(".rate_limiter.ex.tmp")
        temporary.write_text(target.read_text() + "\ndefmodule Pika do\n  def pangolinwombat(x), do: x\nend\n")
        os.replace(temporary, target)
        while True:  # bounded by fail_after in with_session
            found = await call(session, "search", query="pangolinwombat", mode="lexical")
            if found["hits"]:
                return found
            await anyio.sleep(0.1)

    found = with_session(tiny_indexed, body, "--watch")
    assert found["hits"][0]["path"] == "src/rate_limiter.ex" and found["hits"][0]["stale"] is False
