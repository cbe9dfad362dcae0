"""Reach repository files, and the index folder, without following a symlink out of where they belong.

A check made when the walk lists a file says nothing about the moment it is read: a folder or the file
may be swapped for a symlink in between. So every folder on a file's path is opened relative to the one
before it with O_NOFOLLOW, starting at the root, and the file itself with O_NOFOLLOW too: a symlink met
anywhere on the way is refused by the kernel at open time. The one link followed is the file's own link
to a file inside the root (the walker indexes those, see walk.py): it is resolved, checked to lie inside
the root, and its target opened the same way, with no link allowed on that second path. The index
folder may hold no symlink at all (`refuse_symlinks`).
"""
from __future__ import annotations

import errno
import os
import stat

from indexer.errors import UnsafeIndexFolder

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in for the file must not hang the open (fstat then refuses it).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """The path leads outside the root or through a symlink; `reason` is a walk skip reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def open_file(root: str | os.PathLike, rel: str) -> int:
    """A read-only descriptor of the regular file at `rel` (POSIX, relative) under `root`."""
    root = os.path.realpath(root)
    fd = _open_beneath(root, rel)
    if fd is None:  # the file is a symlink: follow it once, only to a file inside the root
        fd = _open_beneath(root, _link_target(root, rel))
        if fd is None:
            raise Refused("symlink_outside_root", f"{rel}: its target changed into a symlink while being opened")
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        if stat.S_ISDIR(st.st_mode):  # as open() would say
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), rel)
        raise Refused("not_regular_file", f"{rel} is not a regular file")
    return fd


def read_file(root: str | os.PathLike, rel: str, limit: int = -1) -> bytes:
    """At most `limit` bytes (all with -1) of the regular file `rel` under `root`, opened as above."""
    with os.fdopen(open_file(root, rel), "rb") as handle:
        return handle.read(limit)


def stat_file(root: str | os.PathLike, rel: str) -> os.stat_result:
    """The stat of the file `open_file` would open (the target's, for a link inside the root)."""
    fd = open_file(root, rel)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def refuse_symlinks(index_dir: str | os.PathLike) -> None:
    """UnsafeIndexFolder when the index folder holds a symlink. Its files are written in place or renamed
    over, and SQLite follows a link to the database: a link there (say one a repository committed as
    .codesearch/lock) would send a write to wherever it points."""
    try:
        with os.scandir(index_dir) as entries:
            linked = sorted(e.name for e in entries if e.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return  # none yet (or not a folder, which opening it reports)
    if linked:
        raise UnsafeIndexFolder(f"{os.path.join(index_dir, linked[0])} is a symlink; the index folder may "
                                "hold only the files codesearch writes (remove the link)")


def _open_beneath(root: str, rel: str) -> int | None:
    """The file's descriptor, None when the file itself is a symlink; Refused for a symlinked folder."""
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise Refused("outside_root", f"{rel!r} is not a plain path inside the root")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(name, fd):
                    raise Refused("symlinked_directory", f"{rel}: the folder {name} on its path is a symlink") from None
                raise
            os.close(fd)
            fd = child
        try:
            return os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP and _is_link(parts[-1], fd):
                return None
            raise
    finally:
        os.close(fd)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _link_target(root: str, rel: str) -> str:
    """The link's target relative to the (real) root; Refused when it lies outside."""
    target = os.path.realpath(os.path.join(root, rel))
    if os.path.commonpath([root, target]) != root or target == root:
        raise Refused("symlink_outside_root", f"{rel} is a symlink to {target}, outside the repository")
    return os.path.relpath(target, root).replace(os.sep, "/")
