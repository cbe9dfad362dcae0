"""`codesearch serve` as a process: the socket (0600, JSON Lines), `search` through it with the in-process
answer, the fallback over a dead server's socket, --daemon/--stop/status, following another process's
rebuild, and a clean exit on SIGTERM and on stdin EOF."""
from __future__ import annotations

import json
import re
import signal
import socket
import stat
import subprocess
import sys
from dataclasses import replace

import pytest

from codesearch import client, core
from tests.cli.records import parse_search_json
from tests.cli.servers import WAIT_S, kill_daemon, lexical_paths, server_env, wait_until
from tests.conftest import ROOT

QUERY = "refill the token bucket"


def _matches(stdout: str):
    # Scores to 5 places: the server's encoder runs in another process, whose float sums may round apart.
    return [replace(m, score=round(m.score, 5)) for m in parse_search_json(stdout).matches]


def test_search_through_a_running_server_gives_the_in_process_answer(tiny_indexed, cli, servers, monkeypatch):
    cases = [(QUERY, "--json"), (QUERY, "--vimgrep"), ("bucket", "--json", "--files-only", "--lang", "elixir"),
             ("next token", "--json", "--kind", "method", "--path", "src/**", "-k", "3")]
    in_process = [cli("search", query, tiny_indexed, *flags) for query, *flags in cases]
    servers(tiny_indexed)
    monkeypatch.setattr(core, "load_query_encoder", lambda *a, **k: pytest.fail("searched in-process"))
    served = [cli("search", query, tiny_indexed, *flags) for query, *flags in cases]
    for (query, *flags), local, remote in zip(cases, in_process, served):
        assert (remote.exit_code, remote.stderr) == (local.exit_code, local.stderr) == (0, "")
        if "--json" in flags:
            assert _matches(remote.stdout) == _matches(local.stdout) != []
            assert parse_search_json(remote.stdout).summary.mode == "hybrid"
        else:
            assert remote.stdout == local.stdout != ""


def test_search_errors_and_notices_through_the_server_match_in_process(lexical_indexed, cli, servers, monkeypatch):
    repo = lexical_indexed
    local = [cli("search", QUERY, repo, "--mode", mode) for mode in ("semantic", "hybrid")]
    servers(repo)
    answered: list[str] = []
    monkeypatch.setattr(client, "call", _recording(client.call, answered))
    remote = [cli("search", QUERY, repo, "--mode", mode) for mode in ("semantic", "hybrid")]
    assert answered == ["search", "search"]
    for a, b in zip(local, remote):
        assert (a.exit_code, a.stderr, a.stdout) == (b.exit_code, b.stderr, b.stdout)
    assert remote[0].exit_code == 2 and "needs vectors" in remote[0].stderr
    assert "searching lexically" in remote[1].stderr and remote[1].exit_code == 0


def _recording(call, answered: list):
    """client.call, noting the method of each request the server answered (with a result or an error)."""
    def recorded(index_dir, method, *args, **kwargs):
        try:
            result = call(index_dir, method, *args, **kwargs)
        except client.ServerError:
            answered.append(method)
            raise
        if result is not None:
            answered.append(method)
        return result

    return recorded


def test_a_dead_servers_socket_falls_back_to_in_process_search_and_is_removed(lexical_indexed, cli, servers):
    process = servers(lexical_indexed)
    sock = client.socket_path(lexical_indexed / ".codesearch")
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600 and stat.S_ISSOCK(sock.stat().st_mode)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=WAIT_S)
    assert sock.exists()  # nobody removed it
    run = cli("search", QUERY, lexical_indexed, "--json", "--mode", "lexical")
    assert run.exit_code == 0 and run.stderr == ""
    top = _matches(run.stdout)[0]
    assert (top.path, top.line_number, top.symbol) == ("src/rate_limiter.ex", 9, "RateLimiter.refill")
    assert not sock.exists()


def test_the_socket_answers_errors_per_request_and_keeps_the_connection(lexical_indexed, servers):
    servers(lexical_indexed)
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(WAIT_S)
        conn.connect(str(client.socket_path(lexical_indexed / ".codesearch")))
        stream = conn.makefile("rwb")
        replies = []
        for line in (b"not json\n", b'{"id": 2, "method": "nope"}\n',
                     b'{"id": 3, "method": "search", "params": {"query": "bucket", "k": 0}}\n',
                     b'{"id": 4, "method": "search", "params": {"query": "refill bucket", "k": 2}}\n'):
            stream.write(line)
            stream.flush()
            replies.append(json.loads(stream.readline()))
    assert "not a JSON request" in replies[0]["error"]["message"]
    assert replies[1]["id"] == 2 and "unknown method" in replies[1]["error"]["message"]
    assert "k must be at least 1" in replies[2]["error"]["message"]
    hits = replies[3]["result"]["hits"]
    assert replies[3]["id"] == 4 and len(hits) == 2 and hits[0]["symbol"] == "RateLimiter.refill"


def test_daemon_status_and_stop(lexical_indexed, cli):
    index_dir = lexical_indexed / ".codesearch"
    try:
        started = subprocess.run([sys.executable, "-m", "codesearch", "serve", str(lexical_indexed), "--daemon"],
                                 env=server_env(), capture_output=True, text=True, timeout=WAIT_S)
        assert started.returncode == 0, started.stderr
        assert "serving" in started.stdout
        again = cli("serve", lexical_indexed, "--daemon")
        assert again.exit_code == 2 and "already runs" in again.stderr
        status = json.loads(cli("status", lexical_indexed, "--json").stdout)
        assert status["server"]["pid"] > 0
        assert "server   running" in cli("status", lexical_indexed).stdout
        stopped = cli("serve", lexical_indexed, "--stop")
        assert stopped.exit_code == 0 and "stopped" in stopped.stdout
        assert client.server_lock_free(index_dir) and not client.socket_path(index_dir).exists()
        assert json.loads(cli("status", lexical_indexed, "--json").stdout)["server"] is None
        assert cli("serve", lexical_indexed, "--stop").exit_code == 1
    finally:
        kill_daemon(index_dir)


def test_the_server_follows_a_full_rebuild_by_another_process(tiny_indexed, cli, servers, tiny_checkpoint):
    index_dir = tiny_indexed / ".codesearch"
    servers(tiny_indexed)
    (tiny_indexed / "src" / "added.py").write_text("def capybaraxylophone():\n    return 1\n")
    assert lexical_paths(index_dir, "capybaraxylophone") == []
    rebuilt = cli("index", tiny_indexed, "--full", "--quiet", "--model", tiny_checkpoint)
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert "src/added.py" in lexical_paths(index_dir, "capybaraxylophone")
    semantic = client.call(index_dir, "search", {"query": "capybaraxylophone", "mode": "semantic", "k": 50})
    assert "src/added.py" in {h["path"] for h in semantic["hits"]}  # the new chunks' vectors are there too


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "stdin EOF"])
def test_the_server_exits_cleanly_and_removes_its_socket(lexical_indexed, servers, how):
    index_dir = lexical_indexed / ".codesearch"
    if how == "stdin EOF":
        process = servers(lexical_indexed, stdin=subprocess.PIPE)  # communicate() closes its stdin
    else:
        process = servers(lexical_indexed)
        process.send_signal(getattr(signal, how))
    _, err = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, err.decode()
    assert b"stopped" in err and b"Traceback" not in err
    assert not client.socket_path(index_dir).exists() and client.server_lock_free(index_dir)


def test_a_second_server_for_the_same_index_is_refused(lexical_indexed, servers):
    servers(lexical_indexed)
    second = servers(lexical_indexed, wait=False)
    _, err = second.communicate(timeout=WAIT_S)
    assert second.returncode == 2 and b"already runs" in err
    assert client.server_info(lexical_indexed / ".codesearch") is not None  # the first one is untouched


def test_watch_survives_a_branch_switch_of_thousands_of_files(lexical_indexed, servers):
    index_dir = lexical_indexed / ".codesearch"
    process = servers(lexical_indexed, "--watch")
    # What a checkout of another branch does: many files appear and others go, all at once.
    branch = lexical_indexed / "src" / "switched"
    branch.mkdir()
    for n in range(2000):
        (branch / f"module_{n}.py").write_text(f"def handler_{n}(event):\n    return event + {n}\n")
    (branch / "module_1999.py").write_text("def okapiwaterfall(event):\n    return event\n")
    (lexical_indexed / "src" / "rate_limiter.ex").unlink()
    wait_until(lambda: "src/switched/module_1999.py" in lexical_paths(index_dir, "okapiwaterfall"),
               "the switched-in files to be searchable")
    wait_until(lambda: "src/rate_limiter.ex" not in lexical_paths(index_dir, "refill bucket"),
               "the deleted file to leave the index")
    wait_until(lambda: client.call(index_dir, "index_status")["files"] >= 2000, "every switched-in file")
    assert process.poll() is None


def test_the_readmes_socket_example_answers_as_shown(tiny_indexed, servers):
    section = (ROOT / "README.md").read_text().split("\n## Editors and agents\n", 1)[1].split("\n## ", 1)[0]
    command = re.search(r"```bash\necho '(.*?)' \| socat", section).group(1)
    shown = json.loads(re.search(r"```json\n(\{\"id\": 1, \"result\".*?)\n```", section, re.S).group(1))
    servers(tiny_indexed)
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(WAIT_S)
        conn.connect(str(client.socket_path(tiny_indexed / ".codesearch")))
        conn.sendall(command.encode() + b"\n")
        answer = json.loads(conn.makefile("rb").readline())
    assert set(answer) == set(shown) and set(answer["result"]) == set(shown["result"])
    hit, shown_hit = answer["result"]["hits"][0], shown["result"]["hits"][0]
    assert set(hit) == set(shown_hit)
    assert {k: v for k, v in hit.items() if k != "score"} == {k: v for k, v in shown_hit.items() if k != "score"}
