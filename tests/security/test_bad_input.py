"""Bad input from a repository or a user is a warning or a clear error, never a crash: a file name that
is not UTF-8, a NUL byte late in a file, a language name in another spelling, control characters in
file names that reach the output."""
from __future__ import annotations

import os

import pytest

from tests.cli.records import parse_search_json
from tests.indexer.conftest import git
from tests.security.conftest import index_lexically, indexed_texts

LATIN1_NAME = os.fsencode("latin1_") + b"\xe9name.py"


@pytest.mark.parametrize("with_git", [True, False])
def test_file_name_that_is_not_utf8_is_skipped_and_the_run_goes_on(cli, repo, with_git):
    if not with_git:
        git(repo, "rm", "-q", "-r", "--cached", ".")
        (repo / ".git").rename(repo.parent / "git-aside")
    with open(os.path.join(os.fsencode(repo), LATIN1_NAME), "wb") as handle:
        handle.write(b"def bad_name(): pass\n")
    run = cli("index", repo, "--lexical-only")
    assert run.exit_code == 0, run.stderr
    assert "1 invalid_utf8_name" in run.stdout
    assert "latin1_\\xe9name.py" in run.stderr  # the warning names the file, escaped
    assert "src/app.py" in indexed_texts(repo)
    assert cli("status", repo).exit_code == 0
    assert cli("search", "greet", repo).exit_code == 0


def test_nul_byte_after_the_first_8kb_makes_a_file_binary(repo):
    (repo / "src" / "late_nul.py").write_bytes(b"x = 1\n" * 2000 + b"\0tail\n")
    summary = index_lexically(repo)
    assert "src/late_nul.py" not in indexed_texts(repo)
    assert summary.skipped.get("binary") == 1


@pytest.fixture
def polyglot(cli, repo):
    """The repository with a Rust file beside the Python ones, indexed lexically."""
    (repo / "src" / "greet.rs").write_text("fn greet() -> &'static str { \"hello\" }\n")
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    return repo


@pytest.mark.parametrize("spelling, language", [("Python", "python"), ("py", "python"), ("PY", "python"),
                                                (".py", "python"), ("rs", "rust"), ("Rust", "rust")])
def test_lang_accepts_aliases_extensions_and_case(cli, polyglot, spelling, language):
    run = cli("search", "greet", polyglot, "--lang", spelling, "--json")
    assert run.exit_code == 0, run.stderr
    assert {m.language for m in parse_search_json(run.stdout).matches} == {language}


def test_lang_unknown_is_an_error_listing_the_valid_names(cli, polyglot):
    run = cli("search", "greet", polyglot, "--lang", "nosuchlang")
    assert run.exit_code == 2 and run.stdout == ""
    assert "nosuchlang" in run.stderr and "python" in run.stderr and "rust" in run.stderr


NEWLINE_NAME = "new\nline\x1b[31m.py"


@pytest.fixture
def odd_names(cli, repo):
    (repo / "src" / NEWLINE_NAME).write_text("def strange_marker(): pass\n")
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    return repo


def test_newline_in_a_file_name_is_escaped_in_vimgrep(cli, odd_names):
    run = cli("search", "strange_marker", odd_names, "--vimgrep")
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines and all(line.startswith("src/new\\nline\\x1b[31m.py:1:") for line in lines)
    assert "\x1b" not in run.stdout


def test_newline_in_a_file_name_is_escaped_in_files_only_and_human_output(cli, odd_names):
    files = cli("search", "strange_marker", odd_names, "--files-only")
    assert files.exit_code == 0
    assert files.stdout.splitlines() == ["src/new\\nline\\x1b[31m.py"]
    human = cli("search", "strange_marker", odd_names)
    assert "src/new\\nline\\x1b[31m.py:1" in human.stdout and "\x1b[31m." not in human.stdout


def test_newline_in_a_file_name_round_trips_through_json(cli, odd_names):
    run = cli("search", "strange_marker", odd_names, "--json")
    assert all(line.startswith("{") for line in run.stdout.splitlines())  # one message per line
    assert {m.path for m in parse_search_json(run.stdout).matches} == {f"src/{NEWLINE_NAME}"}
