"""The commands through Typer's runner: help, JSON parsed back, filters, exit codes, streams, errors."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.cli.records import parse_search_json

QUERY = "refill the token bucket"


@pytest.mark.parametrize(
    "command, options",
    [
        ([], ["index", "search", "status", "eval", "--debug"]),
        (["index"], ["--model", "--device", "--dtype", "--batch-tokens", "--since", "--full", "--quiet",
                     "--lexical-only", "--index-dir"]),
        (["search"], ["--mode", "--top", "--lang", "--path", "--kind", "--files-only", "--explain", "--context",
                      "--json", "--vimgrep", "--model"]),
        (["status"], ["--json", "--index-dir"]),
        (["eval"], ["--per-query", "--json", "--mode", "--model"]),
    ],
)
def test_help_of_each_command_lists_its_options(cli, command, options):
    run = cli(*command, "--help")
    assert run.exit_code == 0
    for option in options:
        assert option in run.stdout


def test_json_search_parses_into_records_that_match_the_files(cli, indexed):
    run = cli("search", QUERY, indexed, "--json", "--explain")
    assert run.exit_code == 0, run.stderr
    out = parse_search_json(run.stdout)
    assert out.summary.query == QUERY and out.summary.mode == "hybrid"
    assert out.summary.matches == len(out.matches) == 10 and out.summary.files == len(out.files)
    assert [m.rank for m in out.matches] == list(range(1, 11))
    assert out.matches[0].path == "src/rate_limiter.ex" and out.matches[0].symbol == "RateLimiter.refill"
    for match in out.matches:
        lines = (indexed / match.path).read_text().splitlines()
        assert match.span_start <= match.line_number <= match.span_end <= len(lines)
        assert match.line_text == lines[match.line_number - 1] + "\n"
        for sub in match.submatches:
            assert match.line_text.encode()[sub.start:sub.end].decode() == sub.text
        assert match.explain and "score" in match.explain and not match.stale
    for group in out.files:
        assert group.end_matches == len(group.matches)


def test_exit_codes_hits_no_hits_error(cli, indexed, tmp_path):
    assert cli("search", QUERY, indexed).exit_code == 0
    none = cli("search", "zzqxv", indexed, "--mode", "lexical", "--json")
    assert none.exit_code == 1
    assert parse_search_json(none.stdout).summary.matches == 0
    missing = cli("search", QUERY, tmp_path / "nowhere")
    assert missing.exit_code == 2 and missing.stdout == ""
    assert cli("search", QUERY, indexed, "--json", "--vimgrep").exit_code == 2
    assert cli("search", QUERY, indexed, "--kind", "module").exit_code == 2  # usage errors too


def test_missing_index_is_one_line_naming_the_fix(cli, repo):
    run = cli("search", QUERY, repo)
    assert run.exit_code == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: ")
    assert "codesearch index" in run.stderr


def test_corrupt_index_is_a_clear_error_not_a_traceback(cli, indexed):
    db = indexed / ".codesearch" / "index.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    for wal in db.parent.glob("index.sqlite-*"):
        wal.unlink()
    run = cli("search", QUERY, indexed)
    assert run.exit_code == 2 and run.stdout == ""
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr and not isinstance(run.exception, Exception) or run.exit_code == 2
    status = cli("status", indexed, "--json")
    assert status.exit_code == 2 and json.loads(status.stdout)["state"] == "corrupt"
    debug = cli("--debug", "search", QUERY, indexed)
    assert debug.exit_code == 2 and "Traceback" in debug.stderr


def test_json_stdout_holds_only_results_and_notices_go_to_stderr(cli, repo, offline):
    built = cli("index", repo)  # no fake model: the default model is unavailable offline
    assert built.exit_code == 0, built.stderr
    assert [line for line in built.stderr.splitlines() if line.startswith("notice:")] == [
        next(line for line in built.stderr.splitlines() if "lexical-only index" in line)
    ]
    run = cli("search", QUERY, repo, "--json")
    assert run.exit_code == 0
    assert all(json.loads(line)["type"] for line in run.stdout.splitlines())
    notices = [line for line in run.stderr.splitlines() if line]
    assert len(notices) == 1 and notices[0].startswith("notice: searching lexically")
    assert parse_search_json(run.stdout).summary.mode == "lexical"


def test_unavailable_model_falls_back_for_hybrid_and_is_an_error_for_semantic(cli, repo, offline, fake_model):
    assert cli("index", repo, "--quiet").exit_code == 0  # vectors from the fake model
    fake_model.clear()
    from codesearch import encoders

    def unavailable(model, device, dtype, batch_tokens=0):
        from model.errors import ModelNotAvailable

        raise ModelNotAvailable(f"model {model} is not in the cache: download it once (`hf download {model}`)")

    encoders.load = unavailable  # restored by monkeypatch in fake_model's teardown
    hybrid = cli("search", QUERY, repo, "--json")
    assert hybrid.exit_code == 0 and parse_search_json(hybrid.stdout).summary.mode == "lexical"
    assert hybrid.stderr.count("notice:") == 1 and "hf download" in hybrid.stderr
    semantic = cli("search", QUERY, repo, "--mode", "semantic")
    assert semantic.exit_code == 2 and semantic.stdout == ""
    assert semantic.stderr.startswith("error: --mode semantic needs the model") and "hf download" in semantic.stderr


def test_search_embeds_queries_with_the_model_the_index_was_built_with(cli, repo, fake_model):
    assert cli("index", repo, "--quiet", "--model", "some/indexing-model").exit_code == 0
    assert cli("search", QUERY, repo).exit_code == 0
    assert cli("index", repo, "--quiet").exit_code == 0  # an update keeps the index's model too
    assert fake_model == ["some/indexing-model"] * 3


def test_filters_restrict_the_hits(cli, indexed):
    def matches(*args):
        run = cli("search", "token", indexed, "--json", "-k", "20", *args)
        assert run.exit_code in (0, 1), run.stderr
        return parse_search_json(run.stdout).matches

    assert {m.language for m in matches("--lang", "rust")} == {"rust"}
    assert {m.path for m in matches("--path", "**/*.rs")} == {"src/tokenizer.rs"}
    assert "src/tokenizer.rs" not in {m.path for m in matches("--path", "!**/*.rs")}
    assert {m.kind for m in matches("--kind", "class")} == {"class"}
    only = matches("--files-only")
    assert len({m.path for m in only}) == len(only)
    within = cli("search", "token", indexed / "src" / "tokenizer.rs", "--json")
    assert {m.path for m in parse_search_json(within.stdout).matches} == {"src/tokenizer.rs"}


def test_top_and_context_come_from_settings_layers(cli, indexed, monkeypatch):
    monkeypatch.setenv("CODESEARCH_TOP", "2")
    assert parse_search_json(cli("search", QUERY, indexed, "--json").stdout).summary.matches == 2
    assert parse_search_json(cli("search", QUERY, indexed, "--json", "-k", "3").stdout).summary.matches == 3
    (indexed / ".codesearch.toml").write_text("top = 4\n")
    monkeypatch.delenv("CODESEARCH_TOP")
    assert parse_search_json(cli("search", QUERY, indexed, "--json").stdout).summary.matches == 4
    (indexed / ".codesearch.toml").write_text("top = 'four'\n")
    bad = cli("search", QUERY, indexed)
    assert bad.exit_code == 2 and ".codesearch.toml: top: expected a whole number" in bad.stderr


def test_vimgrep_lines_point_at_real_lines_and_columns(cli, indexed):
    run = cli("search", QUERY, indexed, "--vimgrep", "-k", "5")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    # One line per distinct focus line of the 5 hits (a file hit and a function hit may share one).
    hits = parse_search_json(cli("search", QUERY, indexed, "--json", "-k", "5").stdout).matches
    assert len(hits) == 5
    assert [tuple(line.split(":")[:2]) for line in lines] == list(dict.fromkeys(
        (m.path, str(m.line_number)) for m in sorted(hits, key=lambda m: m.rank)))
    for line in lines:
        path, number, column, text = re.fullmatch(r"([^:]+):(\d+):(\d+):(.*)", line).groups()
        assert (indexed / path).read_text().splitlines()[int(number) - 1] == text
        assert 1 <= int(column) <= max(1, len(text))
    assert lines[0] == "src/rate_limiter.ex:9:8:  defp refill(bucket, now) do"


def test_human_output_and_stale_hits(cli, indexed):
    run = cli("search", QUERY, indexed, "-k", "3")
    assert run.exit_code == 0 and run.stderr == ""
    assert run.stdout.startswith("src/rate_limiter.ex:9  RateLimiter.refill")
    limiter = indexed / "src" / "rate_limiter.ex"
    limiter.write_text(limiter.read_text() + "\n# edited after indexing\n")
    stale = parse_search_json(cli("search", QUERY, indexed, "--json").stdout)
    assert {m.path for m in stale.matches if m.stale} == {"src/rate_limiter.ex"}
    assert stale.summary.stale == sum(m.path == "src/rate_limiter.ex" for m in stale.matches)
    assert "stale" in cli("search", QUERY, indexed, "-k", "1").stdout


def test_status_reports_state_counts_and_changes(cli, repo, fake_model):
    missing = cli("status", repo, "--json")
    assert missing.exit_code == 1 and json.loads(missing.stdout)["state"] == "missing"
    assert cli("index", repo, "--quiet").exit_code == 0
    current = json.loads(cli("status", repo, "--json").stdout)
    assert current["state"] == "current" and current["files"] >= len(list((repo / "src").iterdir()))
    assert current["chunks"] == current["vectors"] > 0 and current["model_id"] == "Alibaba-NLP/gte-modernbert-base"
    (repo / "src" / "geometry.py").write_text("def area(r):\n    return 3.14 * r * r\n")
    changed = cli("status", repo)
    assert changed.exit_code == 0 and "src/geometry.py" in changed.stdout


def test_index_summary_counts_new_changed_and_reused(cli, repo, fake_model):
    first = cli("index", repo)
    files = json.loads(cli("status", repo, "--json").stdout)["files"]
    assert first.exit_code == 0 and f"{files} new, 0 changed" in first.stdout
    (repo / "src" / "queue.go").write_text("package queue\n\nfunc Size() int { return 0 }\n")
    second = cli("index", repo)
    assert second.exit_code == 0 and f"0 new, 1 changed, 0 deleted, {files - 1} unchanged" in second.stdout


def test_eval_prints_metrics_and_json(cli, indexed, tmp_path):
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"query": "token bucket refill", "relevant": ["src/rate_limiter.ex"]}) + "\n"
        + json.dumps({"query": "enqueue an item", "relevant": ["src/queue.go"]}) + "\n"
    )
    table = cli("eval", queries, indexed, "--per-query")
    assert table.exit_code == 0, table.stderr
    assert "ndcg@10" in table.stdout and "recall@1 " in table.stdout and "token bucket" in table.stdout
    report = json.loads(cli("eval", queries, indexed, "--json").stdout)
    assert report["queries"] == 2 and 0.0 <= report["metrics"]["file.recall@10"] <= 1.0
    assert report["per_query"][0]["query"] == "token bucket refill"
    queries.write_text("{not json\n")
    bad = cli("eval", queries, indexed)
    assert bad.exit_code == 2 and bad.stderr.startswith("error: ") and ":1:" in bad.stderr


def test_index_with_vectors_is_not_degraded_when_its_model_is_unavailable(cli, repo, fake_model, offline):
    assert cli("index", repo, "--quiet", "--model", "some/indexing-model").exit_code == 0
    from codesearch import encoders
    from model.errors import ModelNotAvailable

    def unavailable(model, device, dtype, batch_tokens=0):
        raise ModelNotAvailable(f"model {model} is not in the cache")

    encoders.load = unavailable  # restored by monkeypatch in fake_model's teardown
    refused = cli("index", repo)
    assert refused.exit_code == 2 and "--lexical-only" in refused.stderr and refused.stderr.count("\n") == 1
    assert json.loads(cli("status", repo, "--json").stdout)["vectors"] > 0
    dropped = cli("index", repo, "--lexical-only", "--quiet")
    assert dropped.exit_code == 0 and json.loads(cli("status", repo, "--json").stdout)["vectors"] == 0


def test_lexical_only_index_stays_lexical_until_a_model_is_given(cli, repo, fake_model, monkeypatch):
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    again = cli("index", repo)
    assert again.exit_code == 0 and fake_model == [] and "notice" not in again.stderr
    assert "lexical only" in again.stdout and "--model" in again.stdout
    assert cli("index", repo, "--quiet", "--model", "some/model").exit_code == 0 and fake_model == ["some/model"]
    assert json.loads(cli("status", repo, "--json").stdout)["vectors"] > 0
    assert cli("index", repo, "--quiet").exit_code == 0 and fake_model[-1] == "some/model"  # vectors kept
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    monkeypatch.setenv("CODESEARCH_MODEL", "env/model")  # a model set in the environment counts as given
    assert cli("index", repo, "--quiet").exit_code == 0 and fake_model[-1] == "env/model"


def test_index_since_a_commit_looks_only_at_what_git_says_changed(cli, repo, fake_model):
    def git(*args):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@t"})

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "first")
    assert cli("index", repo, "--quiet").exit_code == 0
    first = json.loads(cli("status", repo, "--json").stdout)["last_commit"]
    assert first
    (repo / "src" / "queue.go").write_text("package queue\n\nfunc Size() int { return 0 }\n")
    git("commit", "-qam", "second")
    run = cli("index", repo, "--since", first)
    assert run.exit_code == 0, run.stderr
    assert "0 new, 1 changed, 0 deleted" in run.stdout
    assert json.loads(cli("status", repo, "--json").stdout)["last_commit"] != first
