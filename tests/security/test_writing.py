"""Nothing is written outside the index folder and no git option comes from the command's revision:
`--since` must name a commit, a repository's config may not move the index out of the root (the user
may, by flag or environment), and a symlink in or as the index folder is not written through."""
from __future__ import annotations

import pytest

from tests.indexer.conftest import git


@pytest.mark.parametrize("smuggled", ["--output={target}", "--output=../{name}", "-o{target}"])
def test_since_option_smuggled_as_revision_writes_no_file(cli, repo, tmp_path, smuggled):
    target = tmp_path / "pwned"
    since = smuggled.format(target=target, name=target.name)
    run = cli("index", repo, "--lexical-only", "--quiet", f"--since={since}")
    assert run.exit_code == 2
    assert "is not a commit" in run.stderr and "unexpected" not in run.stderr
    assert not target.exists()


@pytest.mark.parametrize("smuggled", ["-cfoo=bar", "--upload-pack=touch {target}", "--ext-diff", "--no-index"])
def test_since_other_git_options_are_refused_as_revisions(cli, repo, tmp_path, smuggled):
    target = tmp_path / "pwned"
    run = cli("index", repo, "--lexical-only", "--quiet", f"--since={smuggled.format(target=target)}")
    assert run.exit_code == 2 and "is not a commit" in run.stderr, run.stderr
    assert not target.exists()


def test_since_a_valid_revision_still_works(cli, repo):
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    (repo / "src" / "new.py").write_text("def added(): pass\n")
    run = cli("index", repo, "--lexical-only", f"--since={git(repo, 'rev-parse', 'HEAD').strip()}")
    assert run.exit_code == 0, run.stderr
    assert "1 new" in run.stdout


@pytest.mark.parametrize(
    "config_file, body",
    [
        (".codesearch.toml", 'index_dir = "../escaped"\n'),
        (".codesearch.toml", 'index_dir = "src/../../escaped"\n'),
        (".codesearch.toml", 'index_dir = "{absolute}"\n'),
        ("pyproject.toml", '[tool.codesearch]\nindex_dir = "../escaped"\n'),
    ],
)
def test_index_dir_from_repository_config_outside_the_root_is_refused(cli, repo, tmp_path, config_file, body):
    escaped = tmp_path / "escaped"
    (repo / config_file).write_text(body.format(absolute=escaped))
    run = cli("index", repo, "--lexical-only", "--quiet")
    assert run.exit_code == 2
    assert "index_dir" in run.stderr and "--index-dir" in run.stderr and "CODESEARCH_INDEX_DIR" in run.stderr
    assert "unexpected" not in run.stderr
    assert not escaped.exists()


def test_index_dir_from_config_through_a_symlinked_folder_is_refused(cli, repo, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (repo / "build").symlink_to(tmp_path / "elsewhere")
    (repo / ".codesearch.toml").write_text('index_dir = "build/idx"\n')
    run = cli("index", repo, "--lexical-only", "--quiet")
    assert run.exit_code == 2 and "outside the repository" in run.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_index_dir_outside_the_root_is_allowed_from_flag_or_environment(cli, repo, tmp_path, monkeypatch):
    (repo / ".codesearch.toml").write_text('index_dir = "../escaped"\n')
    flagged = tmp_path / "by-flag"
    assert cli("index", repo, "--lexical-only", "--quiet", "--index-dir", flagged).exit_code == 0
    assert (flagged / "index.sqlite").is_file()
    by_env = tmp_path / "by-env"
    monkeypatch.setenv("CODESEARCH_INDEX_DIR", str(by_env))
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    assert (by_env / "index.sqlite").is_file()
    assert not (tmp_path / "escaped").exists()


def test_index_dir_from_config_inside_the_root_is_used(cli, repo):
    (repo / ".codesearch.toml").write_text('index_dir = "build/idx"\n')
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    assert (repo / "build" / "idx" / "index.sqlite").is_file()


def test_symlinked_index_folder_pointing_outside_the_root_is_refused(cli, repo, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (repo / ".codesearch").symlink_to(tmp_path / "elsewhere")
    run = cli("index", repo, "--lexical-only", "--quiet")
    assert run.exit_code == 2 and "outside the repository" in run.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize("name", ["lock", "vectors.faiss.tmp"])
def test_symlink_in_the_index_folder_is_not_written_through(cli, repo, fake_model, tmp_path, name):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (repo / ".codesearch").mkdir()
    (repo / ".codesearch" / name).symlink_to(precious)
    run = cli("index", repo, "--quiet")  # with the fake encoder, so that FAISS files are written too
    assert precious.read_text() == "keep me\n"
    assert run.exit_code == 2 and "is a symlink" in run.stderr and "unexpected" not in run.stderr


def test_dangling_symlink_in_the_index_folder_creates_no_file_outside(cli, repo, tmp_path):
    created = tmp_path / "created.sqlite"
    (repo / ".codesearch").mkdir()
    (repo / ".codesearch" / "index.sqlite").symlink_to(created)
    run = cli("index", repo, "--lexical-only", "--quiet")
    assert not created.exists()
    assert run.exit_code == 2 and "is a symlink" in run.stderr


@pytest.mark.parametrize("command", [["status"], ["search", "greet"]])
def test_index_folder_holding_a_symlink_is_refused_by_read_commands_too(cli, repo, tmp_path, command):
    # SQLite follows a link to the database: a reader would checkpoint into, and put -shm files beside,
    # whatever database it points at.
    elsewhere = tmp_path / "elsewhere"
    assert cli("index", repo, "--lexical-only", "--quiet", "--index-dir", elsewhere).exit_code == 0
    (repo / ".codesearch").mkdir()
    (repo / ".codesearch" / "index.sqlite").symlink_to(elsewhere / "index.sqlite")
    run = cli(*command, repo)
    assert run.exit_code == 2 and "is a symlink" in run.stderr and "unexpected" not in run.stderr
