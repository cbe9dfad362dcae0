"""`python -m codesearch` as a real process: streams, exit codes, a closed pipe, and no torch when lexical."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.cli.records import parse_search_json
from tests.conftest import ROOT

# Runs the CLI and reports on stderr, at exit, whether torch was imported.
_WITH_TORCH_REPORT = (
    "import atexit, sys; atexit.register(lambda: sys.stderr.write(f'torch imported: {\"torch\" in sys.modules}\\n'));"
    "from codesearch.cli import main; sys.argv[0] = 'codesearch'; main()"
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "100"
    return env


def codesearch(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITH_TORCH_REPORT, *map(str, args)], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=120)


def test_help_index_and_lexical_search_run_without_importing_torch(repo):
    help_run = subprocess.run([sys.executable, "-m", "codesearch", "--help"], env=_env(), capture_output=True,
                              text=True, timeout=60)
    assert help_run.returncode == 0 and "search" in help_run.stdout
    built = codesearch("index", repo, "--lexical-only", "--quiet")
    assert built.returncode == 0 and built.stdout == ""
    assert built.stderr == "torch imported: False\n"
    found = codesearch("search", "token bucket", repo, "--mode", "lexical", "--json")
    assert found.returncode == 0 and found.stderr == "torch imported: False\n"
    assert parse_search_json(found.stdout).matches[0].path == "src/rate_limiter.ex"
    nothing = codesearch("search", "zzqxv", "--mode", "lexical", cwd=repo)  # the root found from the cwd
    assert nothing.returncode == 1 and nothing.stdout == ""


def test_status_hybrid_search_and_update_of_a_lexical_only_index_run_without_importing_torch(repo):
    assert codesearch("index", repo, "--lexical-only", "--quiet").returncode == 0
    status = codesearch("status", repo, "--json")
    assert status.returncode == 0 and status.stderr == "torch imported: False\n"
    hybrid = codesearch("search", "token bucket", repo, "--json")  # no vectors: lexical, with a notice
    assert hybrid.returncode == 0 and hybrid.stderr.endswith("torch imported: False\n")
    assert parse_search_json(hybrid.stdout).summary.mode == "lexical"
    # Regression: a plain `index` of a lexical-only index tried the hub (and imported torch) every run.
    updated = codesearch("index", repo)
    assert updated.returncode == 0 and "lexical only" in updated.stdout
    assert updated.stderr.endswith("torch imported: False\n") and "notice" not in updated.stderr


def test_hybrid_search_embeds_the_query_without_importing_torch(repo, tiny_checkpoint):
    built = codesearch("index", repo, "--model", tiny_checkpoint, "--quiet")
    assert built.returncode == 0, built.stderr
    found = codesearch("search", "refill the token bucket", repo, "--json")
    assert found.returncode == 0 and found.stderr == "torch imported: False\n"
    assert parse_search_json(found.stdout).summary.mode == "hybrid"
    with_torch = codesearch("search", "refill the token bucket", repo, "--json", "--dtype", "bfloat16")
    assert with_torch.stderr == "torch imported: True\n"  # a reduced precision asked for: the torch Encoder
    assert parse_search_json(with_torch.stdout).summary.mode == "hybrid"


def test_closed_pipe_is_not_an_error(repo):
    assert codesearch("index", repo, "--lexical-only", "--quiet").returncode == 0
    # The reader goes away before the first result is written, like `| head -0`.
    proc = subprocess.Popen([sys.executable, "-m", "codesearch", "search", "token", str(repo), "--mode", "lexical",
                             "-k", "100", "-C", "50"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr


def test_corrupt_index_in_a_real_process_is_one_line(repo):
    assert codesearch("index", repo, "--lexical-only", "--quiet").returncode == 0
    (repo / ".codesearch" / "index.sqlite").write_bytes(b"\0garbage" * 512)
    for side in (repo / ".codesearch").glob("index.sqlite-*"):
        side.unlink()
    run = subprocess.run([sys.executable, "-m", "codesearch", "search", "token", str(repo)], env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1 and "codesearch index --full" in run.stderr
