"""Each damage of tests/recovery/damage.py, and the command that repairs it: `status` names that one
command, a search before the repair copes or fails with one line naming it, and after the repair the
index is current and answers the queries like a fresh one (tests/recovery/harness.py)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import copy_fixture
from tests.recovery.damage import PROBES, garble_database, garble_delta, replace_database, truncate_embeddings
from tests.recovery.harness import FAKE_MODEL, Cli, build, run_probe


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_damaged_index_is_repaired_by_the_command_status_names(probe, tmp_path):
    outcome = run_probe(probe, tmp_path, Cli())
    assert outcome.problems == [], outcome
    assert outcome.after_state == "current" and outcome.same_answers
    if probe.kept:
        assert outcome.kept


def test_full_rebuild_keeps_the_damaged_database_under_another_name(tmp_path):
    cli = Cli()
    repo = build(cli, tmp_path)
    index_dir = repo / ".codesearch"
    garble_database(index_dir)
    damaged = (index_dir / "index.sqlite").read_bytes()
    assert cli("index", repo, "--quiet").exit_code == 2  # an update never moves anything aside
    assert (index_dir / "index.sqlite").read_bytes() == damaged
    run = cli("index", repo, "--full")
    assert run.exit_code == 0, run.stderr
    kept = list(index_dir.glob("index.sqlite.corrupt-*"))
    assert [p.read_bytes() for p in kept] == [damaged]
    assert "moved the damaged database to index.sqlite.corrupt-" in run.stdout


def test_dropped_fts_table_is_rebuilt_by_a_plain_index_run(tmp_path):
    cli = Cli()
    repo = build(cli, tmp_path)
    conn = sqlite3.connect(repo / ".codesearch" / "index.sqlite")
    conn.execute("DROP TABLE chunks_fts")
    conn.close()
    search = cli("search", "parse_config", repo, "--mode", "lexical")
    assert search.exit_code == 2 and "`codesearch index` repairs it" in search.stderr
    assert cli("index", repo, "--quiet").exit_code == 0
    assert cli("search", "parse_config", repo, "--mode", "lexical").exit_code == 0


def test_damaged_embeddings_are_dropped_and_embedded_again(tmp_path):
    cli = Cli()
    repo = build(cli, tmp_path)
    truncate_embeddings(repo / ".codesearch")
    status = json.loads(cli("status", repo, "--json").stdout)
    assert status["state"] == "stale" and "cached embeddings are damaged" in status["reason"]
    run = cli("index", repo, "--full")
    assert run.exit_code == 0, run.stderr
    assert "damaged cached embeddings" in run.stdout
    conn = sqlite3.connect(repo / ".codesearch" / "index.sqlite")
    lengths = {r[0] for r in conn.execute("SELECT DISTINCT length(vector) FROM embeddings")}
    conn.close()
    assert lengths == {64 * 4}


def test_another_programs_database_is_never_migrated_into_an_index(tmp_path):
    cli = Cli()
    repo = build(cli, tmp_path)
    replace_database(repo / ".codesearch")
    run = cli("index", repo, "--quiet")
    assert run.exit_code == 2 and "`codesearch index --full` repairs it" in run.stderr
    conn = sqlite3.connect(repo / ".codesearch" / "index.sqlite")
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == {"notes"}
    conn.close()


def test_garbled_delta_is_found_when_the_base_holds_as_many_vectors_as_it_should(tmp_path):
    """The base alone holds the old vectors of a changed chunk: as many as SQLite's, under other ids."""
    cli = Cli()
    repo = copy_fixture(tmp_path / "repo")
    assert cli("index", repo, "--model", FAKE_MODEL, "--quiet").exit_code == 0
    source = repo / "src" / "geometry.py"
    source.write_text(source.read_text().replace("return", "return  ", 1))  # same chunks, new text
    assert cli("index", repo, "--quiet").exit_code == 0
    garble_delta(repo / ".codesearch")
    status = json.loads(cli("status", repo, "--json").stdout)
    assert status["state"] == "stale" and status["repair"] == "codesearch index", status
    assert cli("index", repo, "--quiet").exit_code == 0
    assert json.loads(cli("status", repo, "--json").stdout)["state"] == "current"
