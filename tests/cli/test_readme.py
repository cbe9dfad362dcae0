"""The README's commands, run as written on the fixture repository (and .ci/run installs as it says)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.cli.records import parse_search_json
from tests.conftest import ROOT, copy_fixture

README = (ROOT / "README.md").read_text()


def _bash_blocks(section: str) -> list[str]:
    body = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", body, re.S)]


QUICK_START, TEST_COMMAND = _bash_blocks("Quick start")[:2]
INSTALL = [step for step in QUICK_START.split(" && ") if step.startswith("pip install")]
RUN = [step for step in QUICK_START.split(" && ") if not step.startswith("pip install")]


def test_ci_installs_and_tests_exactly_as_the_readme_says():
    assert TEST_COMMAND == "python -m pytest"
    assert INSTALL and RUN and QUICK_START == " && ".join(INSTALL + RUN)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for step in INSTALL:
        assert step in ci_lines
    assert "run_pytest python -m pytest" in ci_lines


def _scratch_checkout(tmp_path):
    """The layout the README's command expects (fixtures/repo under the working directory), as a copy."""
    copy_fixture(tmp_path / "fixtures" / "repo")
    return tmp_path


def _run_quick_start(cwd, env) -> subprocess.CompletedProcess:
    script = " && ".join(RUN)
    if shutil.which("codesearch") is None:  # not pip-installed in this environment: same CLI, as a module
        script = f'codesearch() {{ "{sys.executable}" -m codesearch "$@"; }}; {script}'
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_quick_start_steps_in_process_index_lexically_offline_and_find_the_token_bucket(
    tmp_path, offline, cli, monkeypatch
):
    monkeypatch.chdir(_scratch_checkout(tmp_path))
    index_step, search_step = (shlex.split(step) for step in RUN)
    assert index_step[:2] == ["codesearch", "index"] and search_step[:2] == ["codesearch", "search"]
    built = cli(*index_step[1:])
    assert built.exit_code == 0 and "notice: building a lexical-only index" in built.stderr
    found = cli(*search_step[1:])
    assert found.exit_code == 0 and found.stdout.startswith("src/rate_limiter.ex:")


@pytest.mark.slow
def test_quick_start_in_bash_offline_indexes_lexically_and_finds_the_token_bucket(tmp_path, offline):
    run = _run_quick_start(_scratch_checkout(tmp_path), {})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] != "" and "src/rate_limiter.ex:" in run.stdout
    notices = [line for line in run.stderr.splitlines() if line.startswith("notice:")]
    assert len(notices) == 2 and "lexical-only index" in notices[0] and "searching lexically" in notices[1]


@pytest.mark.slow
def test_quick_start_with_a_model_folder_searches_semantically(tmp_path, offline, tiny_checkpoint):
    run = _run_quick_start(_scratch_checkout(tmp_path), {"CODESEARCH_MODEL": str(tiny_checkpoint)})
    assert run.returncode == 0, run.stderr
    assert "notice:" not in run.stderr and "embedding chunks" in run.stderr
    assert "src/rate_limiter.ex:" in run.stdout


def _usage_examples() -> list[list[str]]:
    lines = _bash_blocks("Usage")[0].splitlines()
    return [shlex.split(line.split(" | ")[0], comments=True) for line in lines if line.startswith("codesearch ")]


def test_usage_examples_run_on_the_fixture_repository(cli, indexed, monkeypatch):
    monkeypatch.chdir(indexed)
    examples = _usage_examples()
    assert len(examples) >= 5
    for argv in examples:
        run = cli(*argv[1:])
        assert run.exit_code in (0, 1), (argv, run.stderr)
        if "--json" in argv:
            parse_search_json(run.stdout)


def test_the_documented_json_example_follows_the_schema():
    example = README.split("\n## JSON output\n", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    out = parse_search_json(example)
    assert out.summary.matches == len(out.matches) == 1 and out.matches[0].symbol == "RateLimiter.refill"
