"""One writer at a time: an advisory lock (fcntl.flock) on `<index_dir>/lock`.

The kernel drops the lock when its holder dies, even by SIGKILL, so a crash never leaves a stale lock.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from indexer.errors import IndexLocked


class WriteLock:
    """Context manager holding the index's write lock; raises IndexLocked if another process has it."""

    def __init__(self, index_dir: Path, lock_name: str = "lock"):
        self.path = Path(index_dir) / lock_name
        self._fd: int | None = None

    def __enter__(self) -> "WriteLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a lock file that is a symlink would have its target truncated below.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise IndexLocked(f"{who} is updating the index at {self.path.parent}")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
