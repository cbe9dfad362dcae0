"""What the commands say around an index that is busy or half built."""
from __future__ import annotations

import sqlite3

from indexer.lock import WriteLock
from tests.recovery.harness import Cli, build


def test_lock_message_says_try_again_once(tmp_path):
    cli = Cli()
    repo = build(cli, tmp_path)
    with WriteLock(repo / ".codesearch"):
        run = cli("index", repo, "--quiet")
    assert run.exit_code == 2 and run.stderr.count("\n") == 1
    assert run.stderr.count("try again") == 1, run.stderr


def test_status_after_an_interrupted_first_run_does_not_say_not_a_git_repository(tmp_path):
    cli = Cli()
    repo = build(cli, tmp_path)
    conn = sqlite3.connect(repo / ".codesearch" / "index.sqlite")
    conn.execute("DELETE FROM meta WHERE key IN ('indexed_at', 'last_commit')")  # as a first run leaves it
    conn.commit()
    conn.close()
    run = cli("status", repo)
    commit = next(line for line in run.stdout.splitlines() if line.startswith("commit"))
    assert "not a git repository" not in commit and "did not finish" in commit
    assert "repair" in run.stdout and "`codesearch index`" in run.stdout
