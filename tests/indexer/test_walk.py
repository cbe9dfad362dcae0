"""The walk: which files of the fixture repository count as the project, and which are skipped why."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.types import SourceFile
from indexer.walk import SkipFile, list_files, read_source

BIG = 1_000_000


def listed(root: Path, **kwargs) -> set[str]:
    return {f.path for f in list_files(root, max_file_bytes=kwargs.pop("max_file_bytes", BIG), **kwargs).files}


def test_gitignored_and_codesearchignored_files_are_not_listed(any_repo):
    paths = listed(any_repo)
    assert "src/geometry.py" in paths and "README.md" in paths
    for ignored in ("build/bundle.js", "app.log", "vendor/generated/parser_tables.py", "docs/private_notes.md"):
        assert (any_repo / ignored).exists()
        assert ignored not in paths


def test_nested_gitignore_negation_keeps_a_file(any_repo):
    assert "vendor/keep.log" in listed(any_repo)


def test_git_and_plain_walks_agree(plain_repo, tmp_path):
    from tests.indexer.conftest import copy_fixture, git

    git_root = copy_fixture(tmp_path / "git-copy")
    git(git_root, "init", "-q")
    assert listed(plain_repo) == listed(git_root)
    assert list_files(git_root, max_file_bytes=BIG).from_git
    assert not list_files(plain_repo, max_file_bytes=BIG).from_git


def test_info_exclude_is_honoured(any_repo):
    # As in git, ignore rules apply to untracked files, so the excluded file is a new one.
    (any_repo / "docs" / "scratch.md").write_text("# Scratch\n")
    exclude = any_repo / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text("docs/scratch.md\n")
    assert "docs/scratch.md" not in listed(any_repo)
    assert "docs/design.md" in listed(any_repo)


def test_symlink_loop_is_harmless_and_never_descended(any_repo):
    assert os.path.islink(any_repo / "loop")
    assert not any(p.startswith("loop/") for p in listed(any_repo))


def test_symlinked_directory_outside_the_root_is_not_entered(any_repo, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.py").write_text("TOKEN = 'x'\n")
    (any_repo / "links" / "outside").symlink_to(outside)
    assert not any(p.startswith("links/outside") for p in listed(any_repo))


def test_symlink_to_a_file_outside_the_root_is_skipped(any_repo, tmp_path):
    secret = tmp_path / "outside.py"
    secret.write_text("SECRET = 1\n")
    (any_repo / "escape.py").symlink_to(secret)
    listing = list_files(any_repo, max_file_bytes=BIG)
    assert "escape.py" not in {f.path for f in listing.files}
    assert listing.skipped.get("symlink_outside_root", 0) >= 1


def test_symlink_to_a_listed_file_is_skipped_as_a_duplicate(any_repo):
    # Regression: links/geometry_alias.py -> ../src/geometry.py was indexed twice, giving duplicate hits.
    (any_repo / "links" / "alias_of_alias.py").symlink_to("geometry_alias.py")
    listing = list_files(any_repo, max_file_bytes=BIG)
    paths = {f.path for f in listing.files}
    assert "src/geometry.py" in paths
    assert not paths & {"links/geometry_alias.py", "links/alias_of_alias.py"}
    assert listing.skipped["symlink_duplicate"] == 2  # not the loop, a link to a directory
    assert not any(path.startswith("links/") for path, _ in listing.warnings)


UNLISTED_TARGETS = [
    "docs/private_notes.md",  # in .codesearchignore
    "build/bundle.js",  # in a directory named in .gitignore
    "vendor/generated/parser_tables.py",  # in a directory named in a nested .gitignore
    ".codesearch/kept.py",  # in a directory the walk always skips
]


def link_to(root: Path, target: str) -> str:
    """A relative symlink links/alias_<name> -> target (created when missing); returns the link's path."""
    (root / target).parent.mkdir(exist_ok=True)
    if not (root / target).exists():
        (root / target).write_text("KEPT = 1\n")
    link = root / "links" / f"alias_{Path(target).name}"
    link.symlink_to(os.path.relpath(root / target, link.parent))
    return f"links/{link.name}"


@pytest.mark.parametrize("target", UNLISTED_TARGETS)
def test_symlink_to_an_unlisted_file_inside_the_root_is_listed_under_its_own_path(any_repo, target):
    link = link_to(any_repo, target)
    listing = list_files(any_repo, max_file_bytes=BIG)
    paths = {f.path for f in listing.files}
    assert target not in paths and link in paths
    assert listing.skipped["symlink_duplicate"] == 1  # only links/geometry_alias.py


def test_dangling_symlink_is_neither_listed_nor_counted(any_repo):
    before = list_files(any_repo, max_file_bytes=BIG)
    (any_repo / "links" / "gone.py").symlink_to("../src/no_such_file.py")
    after = list_files(any_repo, max_file_bytes=BIG)
    assert "links/gone.py" not in {f.path for f in after.files}
    assert (after.skipped, after.warnings) == (before.skipped, before.warnings)


def test_size_limit_skips_the_oversized_file(any_repo):
    listing = list_files(any_repo, max_file_bytes=4096)
    assert (any_repo / "data/large_seed.sql").stat().st_size > 4096
    assert "data/large_seed.sql" not in {f.path for f in listing.files}
    assert listing.skipped["too_large"] >= 1


def test_index_dir_inside_the_root_is_skipped(plain_repo):
    index_dir = plain_repo / "custom-index"
    index_dir.mkdir()
    (index_dir / "notes.txt").write_text("index internals\n")
    (plain_repo / ".codesearch").mkdir()
    (plain_repo / ".codesearch" / "x.txt").write_text("x\n")
    paths = listed(plain_repo, index_dir=index_dir)
    assert not any(p.startswith(("custom-index/", ".codesearch/")) for p in paths)


def test_only_paths_restricts_the_stat_pass(any_repo):
    assert listed(any_repo, only_paths={"src/queue.go", "no/such/file.py"}) == {"src/queue.go"}


def test_only_paths_decides_symlinks_as_the_full_walk_does(any_repo):
    # --since names the link alone; whether its target is listed anyway is still judged on every path.
    links = ["links/geometry_alias.py", link_to(any_repo, "docs/private_notes.md")]
    full = listed(any_repo)
    for link in links:
        only = list_files(any_repo, max_file_bytes=BIG, only_paths={link})
        assert {f.path for f in only.files} == full & {link}
    assert list_files(any_repo, max_file_bytes=BIG, only_paths={links[0]}).skipped == {"symlink_duplicate": 1}
    assert listed(any_repo, only_paths={links[1]}) == {links[1]}


def _source(root: Path, rel: str) -> SourceFile:
    path = root / rel
    return SourceFile(rel, str(path), path.stat().st_size if path.exists() else 0, 0, None)


@pytest.mark.parametrize(
    "rel, reason",
    [("assets/logo.png", "binary"), ("src/legacy_latin1.py", "invalid_utf8"), ("web/app.min.js", "minified")],
)
def test_read_source_rejects_non_text(plain_repo, rel, reason):
    with pytest.raises(SkipFile) as info:
        read_source(_source(plain_repo, rel), max_file_bytes=BIG, max_line_length=1000)
    assert info.value.reason == reason


def test_read_source_reports_a_vanished_file(plain_repo):
    source = _source(plain_repo, "src/queue.go")
    os.unlink(source.abs_path)
    with pytest.raises(SkipFile) as info:
        read_source(source, max_file_bytes=BIG, max_line_length=1000)
    assert info.value.reason == "vanished"


def test_read_source_reports_an_unreadable_path(plain_repo):
    source = SourceFile("src", str(plain_repo / "src"), 0, 0, None)  # a directory cannot be read as a file
    with pytest.raises(SkipFile) as info:
        read_source(source, max_file_bytes=BIG, max_line_length=1000)
    assert info.value.reason == "unreadable"


def test_lock_files_are_skipped_as_generated(any_repo):
    (any_repo / "web" / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    listing = list_files(any_repo, max_file_bytes=BIG)
    assert "web/package-lock.json" not in {f.path for f in listing.files}
    assert listing.skipped["generated"] == 1
