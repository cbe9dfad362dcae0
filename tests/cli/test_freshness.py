"""Freshness is decided by content, and `status` and the per-hit `stale` flag agree on it: a copied
repository or a fresh checkout (every mtime new, no content changed) is current with no stale hit."""
from __future__ import annotations

import json
import os
import shutil

from tests.cli.records import parse_search_json

QUERY = "refill the token bucket"


def status_of(cli, root) -> dict:
    run = cli("status", root, "--json")
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)


def stale_paths(cli, root) -> set[str]:
    found = parse_search_json(cli("search", QUERY, root, "--json", "-k", "20").stdout)
    assert found.matches
    return {m.path for m in found.matches if m.stale}


def test_copied_repository_is_current_with_no_stale_hits(cli, indexed, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(indexed, copy, symlinks=True)  # like `cp -r`: contents kept, every mtime new
    later = 10**9 * 3600
    for folder, _, files in os.walk(copy):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + later))
    status = status_of(cli, copy)
    assert (status["state"], status["changed_files"]) == ("current", [])
    assert stale_paths(cli, copy) == set()


def test_an_edit_in_a_copy_is_the_one_changed_file_and_the_one_stale_hit(cli, indexed, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(indexed, copy, symlinks=True)
    limiter = copy / "src" / "rate_limiter.ex"
    text = limiter.read_text()
    limiter.write_text(text.replace("refill", "refylL", 1))  # the same size, other content
    assert limiter.stat().st_size == len(text.encode())
    status = status_of(cli, copy)
    assert (status["state"], status["changed_files"]) == ("stale", ["src/rate_limiter.ex"])
    assert stale_paths(cli, copy) == {"src/rate_limiter.ex"}


def test_touched_file_is_not_stale_and_a_deleted_one_is(cli, indexed):
    limiter = indexed / "src" / "rate_limiter.ex"
    os.utime(limiter, ns=(limiter.stat().st_atime_ns, limiter.stat().st_mtime_ns + 10**9))
    assert status_of(cli, indexed)["changed_files"] == []
    assert stale_paths(cli, indexed) == set()
    limiter.unlink()
    assert status_of(cli, indexed)["changed_files"] == ["src/rate_limiter.ex"]
    assert stale_paths(cli, indexed) == {"src/rate_limiter.ex"}
