"""Nothing outside the repository root is read: not through a symlinked folder that git still lists
files under, not through a file or folder swapped for a symlink while an index runs, not through a
config or ignore file that is a link out of the root. A symlink to a file inside the root still counts."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from codesearch.settings import SettingsError, load_settings
from indexer.confined import Refused, read_file
from indexer.pipeline import IndexOptions, index_repository
from indexer.search import SearchOptions, search
from indexer.index import open_index
from indexer.types import SourceFile
from indexer.walk import SkipFile, list_files, read_source
from tests.security.conftest import SECRET, index_lexically, indexed_texts

BIG = 1_000_000


class SwapBeforeReading:
    """A Progress that runs `swap` once the walk has listed the files and before any is read."""

    def __init__(self, swap):
        self.swap = swap

    def stage(self, name, total):
        if name == "chunk":
            self.swap()

    def advance(self, n=1, tokens=0):
        pass

    def warn(self, path, reason):
        pass


def _replace_with_link(path, target):
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    path.symlink_to(target)


def test_symlinked_directory_listed_by_git_is_not_read(repo, outside):
    _replace_with_link(repo / "sub", outside)  # git still lists the tracked sub/secret.py
    summary = index_lexically(repo)
    texts = indexed_texts(repo)
    assert "sub/secret.py" not in texts and not any(SECRET in t for t in texts.values())
    assert "src/app.py" in texts
    assert summary.skipped.get("symlinked_directory") == 1


def test_deeper_symlinked_directory_listed_by_git_is_not_read(repo, outside):
    _replace_with_link(repo / "a" / "b", outside)  # a/b/c/deep.py -> outside/c/deep.py
    (outside / "c").mkdir()
    (outside / "c" / "deep.py").write_text(f"{SECRET} = 1\n")
    index_lexically(repo)
    texts = indexed_texts(repo)
    assert "a/b/c/deep.py" not in texts and not any(SECRET in t for t in texts.values())


def test_symlinked_directory_inside_the_root_listed_by_git_is_not_entered(repo):
    shutil.rmtree(repo / "sub")
    (repo / "other").mkdir()
    (repo / "other" / "secret.py").write_text("INSIDE_VALUE = 1\n")
    (repo / "sub").symlink_to("other")
    listing = list_files(repo, max_file_bytes=BIG)
    assert "sub/secret.py" not in [f.path for f in listing.files]
    assert "other/secret.py" in [f.path for f in listing.files]


def test_file_swapped_for_a_link_out_of_the_root_during_a_run_is_refused_at_open(repo, outside):
    swap = SwapBeforeReading(lambda: _replace_with_link(repo / "src/app.py", outside / "secret.py"))
    summary = index_lexically(repo, swap)
    texts = indexed_texts(repo)
    assert "src/app.py" not in texts and not any(SECRET in t for t in texts.values())
    assert summary.skipped.get("symlink_outside_root") == 1
    target = os.path.realpath(outside / "secret.py")
    assert ("src/app.py", f"src/app.py is a symlink to {target}, outside the repository") in summary.warnings


def test_file_swapped_for_a_link_to_etc_passwd_during_a_run_is_refused_at_open(repo):
    if not os.path.isfile("/etc/passwd"):
        pytest.skip("no /etc/passwd")
    index_lexically(repo, SwapBeforeReading(lambda: _replace_with_link(repo / "src/app.py", "/etc/passwd")))
    assert "src/app.py" not in indexed_texts(repo)


def test_folder_swapped_for_a_link_out_of_the_root_during_a_run_is_refused_at_open(repo, outside):
    def swap():
        shutil.copy(outside / "secret.py", outside / "app.py")
        _replace_with_link(repo / "src", outside)

    summary = index_lexically(repo, SwapBeforeReading(swap))
    texts = indexed_texts(repo)
    assert "src/app.py" not in texts and not any(SECRET in t for t in texts.values())
    assert summary.skipped.get("symlinked_directory") == 1


FIFO_READER = """
import os, sys
from indexer.types import SourceFile
from indexer.walk import SkipFile, read_source
root = sys.argv[1]
os.unlink(root + "/src/app.py")
os.mkfifo(root + "/src/app.py")
try:
    read_source(SourceFile("src/app.py", root + "/src/app.py", 0, 0, None), max_file_bytes=99, max_line_length=99)
except SkipFile as skip:
    print(skip.reason)
"""


def test_file_swapped_for_a_fifo_is_refused_without_hanging(repo):
    # In a child process: before the fix, opening the FIFO blocked forever, waiting for a writer.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", FIFO_READER, str(repo)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.stdout.strip() == "not_regular_file", proc.stderr


def test_symlink_to_a_file_inside_the_root_is_still_read(repo):
    (repo / ".codesearchignore").write_text("vendor/\n")
    (repo / "vendor").mkdir()
    (repo / "vendor" / "lib.py").write_text("VENDORED = 3\n")
    (repo / "lib.py").symlink_to("vendor/lib.py")
    index_lexically(repo)
    assert indexed_texts(repo)["lib.py"] == "VENDORED = 3\n"


def test_link_out_of_the_root_that_replaced_an_indexed_file_is_stale_not_followed(repo, outside):
    index_lexically(repo)
    app = repo / "src" / "app.py"
    st = app.stat()
    decoy = outside / "decoy.py"
    decoy.write_bytes(b"x" * st.st_size)  # same size and mtime: following the link would look unchanged
    os.utime(decoy, ns=(st.st_atime_ns, st.st_mtime_ns))
    _replace_with_link(app, decoy)
    index = open_index(repo / ".codesearch")
    try:
        hits = search(index, "greet", None, SearchOptions(mode="lexical", root=str(repo))).hits
    finally:
        index.close()
    assert hits and all(h.stale for h in hits if h.path == "src/app.py")


def test_config_file_symlinked_out_of_the_root_is_not_read(repo, outside):
    (outside / "evil.toml").write_text("top = 1\n")
    (repo / ".codesearch.toml").symlink_to(outside / "evil.toml")
    with pytest.raises(SettingsError, match="outside the repository"):
        load_settings(repo, {}, environ={})


def test_ignore_file_symlinked_out_of_the_root_is_not_read(tmp_path, outside):
    root = tmp_path / "plain"  # no git: the walker reads the ignore files itself
    root.mkdir()
    (root / "app.py").write_text("def app(): pass\n")
    (outside / "ignore").write_text("*.py\n")
    (root / ".gitignore").symlink_to(outside / "ignore")
    (root / ".codesearchignore").symlink_to(outside / "ignore")
    assert [f.path for f in list_files(root, max_file_bytes=BIG).files] == ["app.py"]


def test_paths_with_dot_dot_components_are_refused(repo, outside):
    with pytest.raises(Refused):
        read_file(repo, "../outside/secret.py")
    rel = "src/../../outside/secret.py"
    with pytest.raises(SkipFile) as info:
        read_source(SourceFile(rel, f"{repo}/{rel}", 0, 0, None), max_file_bytes=BIG, max_line_length=1000)
    assert info.value.reason == "outside_root"


def test_since_run_drops_a_file_whose_folder_became_a_link_out_of_the_root(repo, outside):
    index_lexically(repo)
    assert "sub/secret.py" in indexed_texts(repo)
    _replace_with_link(repo / "sub", outside)
    index_repository(repo, repo / ".codesearch", None, IndexOptions(), since="HEAD")
    texts = indexed_texts(repo)
    assert "sub/secret.py" not in texts and not any(SECRET in t for t in texts.values())
