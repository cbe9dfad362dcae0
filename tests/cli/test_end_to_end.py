"""End to end with a tiny real ModernBERT checkpoint: index, search, change a file, update, search again."""
from __future__ import annotations

import json

import pytest

from tests.cli.records import parse_search_json

NEW_FUNCTION = """

// DrainWithDeadline empties the queue, giving up when the deadline passes.
func DrainWithDeadline(q *Queue, deadline int64) int {
\treturn 0
}
"""


@pytest.mark.slow
def test_index_search_change_reindex_search_with_a_real_checkpoint(cli, repo, tiny_checkpoint):
    built = cli("index", repo, "--model", tiny_checkpoint)
    assert built.exit_code == 0, built.stderr
    status = json.loads(cli("status", repo, "--json").stdout)
    assert status["state"] == "current" and status["vectors"] == status["chunks"] > 0
    assert "tiny" in status["model_id"]

    semantic = cli("search", "token bucket rate limiting", repo, "--mode", "semantic", "--json")
    assert semantic.exit_code == 0, semantic.stderr
    assert parse_search_json(semantic.stdout).summary.mode == "semantic"
    before = cli("search", "DrainWithDeadline", repo, "--json")
    assert "DrainWithDeadline" not in {m.symbol for m in parse_search_json(before.stdout).matches}

    queue = repo / "src" / "queue.go"
    queue.write_text(queue.read_text() + NEW_FUNCTION)
    updated = cli("index", repo)  # incremental, with the model the index was built with
    assert updated.exit_code == 0, updated.stderr
    assert "0 new, 1 changed, 0 deleted" in updated.stdout
    embedded = int(updated.stdout.split("; ", 1)[1].split(" embedded")[0])
    assert 0 < embedded < status["chunks"]

    after = parse_search_json(cli("search", "DrainWithDeadline", repo, "--json").stdout)
    assert after.summary.mode == "hybrid"
    top = after.matches[0]
    assert (top.path, top.symbol, top.stale) == ("src/queue.go", "DrainWithDeadline", False)
    assert top.line_text.startswith("func DrainWithDeadline")
    assert json.loads(cli("status", repo, "--json").stdout)["state"] == "current"
