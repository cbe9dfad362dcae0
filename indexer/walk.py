"""Find the files a developer considers the project, and read one safely.

`list_files` names the candidate files with their stat (cheap: no file is opened), honouring .gitignore
(nested ones too), .git/info/exclude and .codesearchignore; in a git checkout it asks git for its file
list. A symlink to a file that the walk lists anyway is skipped as a duplicate, so each piece of code
is indexed once. A listed file under a folder that is a symlink is skipped: git goes on listing the
files it tracks there after the folder was replaced by a link. `read_source` opens one candidate through
`indexer.confined` (a symlink out of the root or on a folder is refused at open time) and decides whether
it is indexable text (not binary, valid UTF-8, not minified). Problems with one file become a `SkipFile`
reason, never a crash. Git gets revisions only after `--end-of-options`, and `--since` must name a commit.
"""
from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from indexer import confined
from indexer.errors import BadRevision, IndexError_
from indexer.languages import GENERATED_NAMES, language_for_path
from indexer.types import SourceFile

ALWAYS_SKIPPED_DIRS = (".git", ".codesearch")
IGNORE_FILE = ".codesearchignore"
# Bumped when the rules for which paths are listed change: an index listed by older rules gets one full
# pass (not just the paths of --since) to drop what they listed and these do not. 2: symlink_duplicate.
# 3: symlinked_directory (files git lists under a symlinked folder), invalid_utf8_name.
WALK_VERSION = 3


class SkipFile(Exception):
    """One file is not indexed; `reason` is a short counter key ("binary", "invalid_utf8", ...)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


@dataclass
class Listing:
    """What the walk found: indexable candidates plus the files it skipped and why."""

    files: list[SourceFile] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    from_git: bool = False

    def skip(self, path: str, reason: str, warn: str | None = None) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if warn:
            self.warnings.append((path, warn))


def list_files(
    root: Path,
    *,
    max_file_bytes: int,
    index_dir: Path | None = None,
    only_paths: set[str] | None = None,
) -> Listing:
    """The project's files under `root`, stat'ed; `only_paths` restricts the stat pass (for --since)."""
    root = root.resolve()
    listing = Listing()
    paths = _git_paths(root)
    if paths is not None:
        listing.from_git = True
    else:
        paths = _walk_paths(root, listing)
    extra_ignore = _ignore_spec(root, IGNORE_FILE)
    skipped_prefixes = _skipped_prefixes(root, index_dir)
    all_paths = set(paths)
    linked_folders: dict[str, bool] = {}

    def candidate(rel: str) -> bool:
        if any(rel == p or rel.startswith(p + "/") for p in skipped_prefixes) or _in_skipped_dir(rel):
            return False
        return extra_ignore is None or not extra_ignore.match_file(rel)

    def listed_anyway(target: str) -> bool:
        # Asked of all paths, not just `only_paths`: a --since run decides as a full walk does.
        return target in all_paths and candidate(target)

    for rel in sorted(paths):
        if only_paths is not None and rel not in only_paths:
            continue
        if not candidate(rel):
            continue
        if not _encodable(rel):
            # SQLite stores text as UTF-8, so the name cannot be stored; shown with \x escapes.
            listing.skip(display_path(rel), "invalid_utf8_name", "the file name is not valid UTF-8")
            continue
        folder = _symlinked_folder(str(root), rel, linked_folders)
        if folder is not None:
            listing.skip(rel, "symlinked_directory", f"the folder {folder} on its path is a symlink; not entered")
            continue
        source = _stat_source(root, rel, max_file_bytes, listing, listed_anyway)
        if source is not None:
            listing.files.append(source)
    return listing


def display_path(rel: str) -> str:
    """A path fit to print: bytes that are not UTF-8 (kept by surrogateescape) shown as \\xNN."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _encodable(rel: str) -> bool:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _symlinked_folder(root: str, rel: str, seen: dict[str, bool]) -> str | None:
    """The first folder on `rel`'s path that is a symlink, else None; `seen` caches folders' verdicts."""
    end = rel.find("/")
    while end != -1:
        folder = rel[:end]
        linked = seen.get(folder)
        if linked is None:
            linked = seen[folder] = os.path.islink(os.path.join(root, folder))
        if linked:
            return folder
        end = rel.find("/", end + 1)
    return None


def _in_skipped_dir(rel: str) -> bool:
    return any(part in ALWAYS_SKIPPED_DIRS for part in rel.split("/")[:-1])


def _skipped_prefixes(root: Path, index_dir: Path | None) -> list[str]:
    prefixes = list(ALWAYS_SKIPPED_DIRS)
    if index_dir is not None:
        try:
            prefixes.append(Path(index_dir).resolve().relative_to(root).as_posix())
        except ValueError:
            pass  # the index lives outside the repository
    return prefixes


def _stat_source(
    root: Path, rel: str, max_file_bytes: int, listing: Listing, listed_anyway: Callable[[str], bool]
) -> SourceFile | None:
    abs_path = os.path.join(root, rel)  # plain strings: this runs for every file on every run
    try:
        st = os.lstat(abs_path)
        if stat.S_ISLNK(st.st_mode):
            # Symlinks are indexed only when they point at a regular file inside the root, and under
            # the link's path only when the walk does not list that file itself (it may be ignored).
            target = Path(abs_path).resolve(strict=True)
            if not target.is_relative_to(root):
                listing.skip(rel, "symlink_outside_root")
                return None
            st = os.stat(target)
            if stat.S_ISREG(st.st_mode) and listed_anyway(target.relative_to(root).as_posix()):
                listing.skip(rel, "symlink_duplicate")  # expected, so no warning
                return None
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                return None  # a symlink to a directory or a git submodule: never descended
            listing.skip(rel, "not_regular_file")
            return None
    except FileNotFoundError:
        return None  # vanished, or listed by git but deleted in the work tree
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop in resolve()
        listing.skip(rel, "unreadable", f"cannot stat: {exc}")
        return None
    if st.st_size > max_file_bytes:
        listing.skip(rel, "too_large")
        return None
    if rel.rpartition("/")[2] in GENERATED_NAMES:
        listing.skip(rel, "generated")
        return None
    return SourceFile(rel, abs_path, st.st_size, st.st_mtime_ns, language_for_path(rel))


def read_source(source: SourceFile, *, max_file_bytes: int, max_line_length: int) -> tuple[bytes, str]:
    """The file's bytes and decoded text, or SkipFile saying why it is not indexable text."""
    try:
        data = confined.read_file(_root_of(source), source.path, max_file_bytes + 1)
    except confined.Refused as exc:
        raise SkipFile(exc.reason, str(exc)) from exc
    except FileNotFoundError as exc:
        raise SkipFile("vanished", "file disappeared during indexing") from exc
    except OSError as exc:
        raise SkipFile("unreadable", f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > max_file_bytes:
        raise SkipFile("too_large")
    if b"\0" in data:  # the whole file: a NUL anywhere makes it binary, not only in a first block
        raise SkipFile("binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile("invalid_utf8", f"not valid UTF-8 at byte {exc.start}") from exc
    if text and max(len(line) for line in text.splitlines() or [""]) > max_line_length:
        raise SkipFile("minified")  # minified or generated: one enormous line says nothing useful
    return data, text


def _root_of(source: SourceFile) -> str:
    """The root a SourceFile was listed under: its abs_path is that root joined with its path."""
    suffix = "/" + source.path
    if not source.path or not source.abs_path.endswith(suffix):
        raise ValueError(f"{source.abs_path!r} does not end with the relative path {source.path!r}")
    return source.abs_path[: -len(suffix)]


# Keeps git from starting the file-system monitor program that a repository's config may name.
_GIT = ("git", "-c", "core.fsmonitor=false")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_GIT, "-C", str(root), *args], capture_output=True)


def _git_paths(root: Path) -> list[str] | None:
    """Tracked plus untracked-but-not-ignored files, relative to root; None when root is not in git."""
    if not (root / ".git").exists() and _git_toplevel(root) is None:
        return None
    try:
        proc = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--")
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    out = proc.stdout
    return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})


def _git_toplevel(root: Path) -> str | None:
    try:
        proc = _git(root, "rev-parse", "--show-toplevel")
    except OSError:
        return None
    return proc.stdout.decode(errors="surrogateescape").strip() if proc.returncode == 0 else None


def git_commit(root: Path, rev: str) -> str | None:
    """The id of the commit `rev` names; None when it names none (or git is missing).

    `--end-of-options` makes git take `rev` as a revision even when it looks like an option
    (`--output=FILE` would otherwise make git write that file).
    """
    try:
        proc = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except OSError:
        return None
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def git_changed_paths(root: Path, since: str) -> set[str]:
    """Paths (relative to root) that differ between `since` and the work tree, plus untracked ones."""
    commit = git_commit(root, since)
    if commit is None:
        where = "the git repository" if _git_toplevel(root) is not None else "a git repository (there is none)"
        raise BadRevision(f"{since!r} is not a commit of {where} at {root}")
    commands = (
        # No external diff programs or text conversion filters: only names are asked for.
        ("diff", "--name-only", "--no-renames", "--relative", "-z", "--no-ext-diff", "--no-textconv",
         "--end-of-options", commit, "--"),
        ("ls-files", "-z", "--others", "--exclude-standard", "--"),
    )
    paths: set[str] = set()
    for command in commands:
        proc = _git(root, *command)
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip().splitlines()
            raise IndexError_(f"git cannot diff against {since!r}: {message[0] if message else 'failed'}")
        paths.update(p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p)
    return paths


def _ignore_spec(root: Path, rel: str, prefix: str = "") -> pathspec.GitIgnoreSpec | None:
    """The patterns of the ignore file `rel` under `root` (read through `confined`: never from outside)."""
    try:
        lines = confined.read_file(root, rel).decode("utf-8", errors="replace").splitlines()
    except (OSError, confined.Refused):
        return None
    if prefix:
        lines = [_rebase_pattern(line, prefix) for line in lines]
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _rebase_pattern(line: str, prefix: str) -> str:
    """A pattern from `<prefix>/.gitignore` rewritten to match paths relative to the root."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return line
    negate = stripped.startswith("!")
    body = stripped[1:] if negate else stripped
    anchored = "/" in body.rstrip("/")
    body = body.lstrip("/")
    rebased = f"/{prefix}/{body}" if anchored else f"/{prefix}/**/{body}"
    return ("!" if negate else "") + rebased


def _walk_paths(root: Path, listing: Listing) -> list[str]:
    """Plain-directory walk honouring nested .gitignore files; symlinked directories are not entered."""
    specs: list[pathspec.GitIgnoreSpec] = [
        s for s in (_ignore_spec(root, ".gitignore"), _ignore_spec(root, ".git/info/exclude")) if s
    ]
    found: list[str] = []

    def ignored(rel: str, active: list[pathspec.GitIgnoreSpec]) -> bool:
        # Later (deeper) specs win, as in git; a spec that says nothing about the path defers.
        verdict = False
        for spec in active:
            result = spec.check_file(rel)
            if result.include is not None:
                verdict = result.include
        return verdict

    def visit(directory: Path, rel_dir: str, active: list[pathspec.GitIgnoreSpec]) -> None:
        if rel_dir:
            nested = _ignore_spec(root, f"{rel_dir}/.gitignore", rel_dir)
            if nested is not None:
                active = active + [nested]
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            listing.skip(display_path(rel_dir or "."), "unreadable", f"cannot list directory: {exc.strerror or exc}")
            return
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name in ALWAYS_SKIPPED_DIRS or ignored(rel + "/", active):
                    continue
                visit(Path(entry.path), rel, active)
            elif not ignored(rel, active):
                found.append(rel)

    visit(root, "", specs)
    return found
