"""Remember, across processes, two facts about a checkpoint that are slow to work out at every load:
its weights fingerprint and the precision `dtype="auto"` chose for it.

Both live in one small JSON file, `checkpoints.json` in `$CODESEARCH_CACHE_DIR` (default:
`$XDG_CACHE_HOME/codesearch`, else `~/.cache/codesearch`); `CODESEARCH_CACHE_DIR=off` neither reads
nor writes it.

- A fingerprint (a hash of config.json and every weight file: 0.2 s for a base-size model) is reused
  while each of those files keeps its path, size, mtime, ctime and inode, the test git uses for its
  index. Rewriting a file changes its ctime; as in git's racy check, an entry is trusted only for
  files whose timestamps are older than the moment hashing started, so that a rewrite within the
  clock's granularity is not missed.
- An auto precision decision (embedding the probe texts in two precisions: 2 s for a base-size model)
  is kept under a key the caller builds from the fingerprint, the device, the torch version and the
  probe itself, so that a new checkpoint, machine, torch or rule decides again.

It is a cache: a missing, unreadable or malformed file is ignored (and rewritten), and a failure to
write it is ignored too. Writes go to a temporary file renamed into place: a reader never sees half a
file, and of two processes writing at once one wins, which is harmless.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

CACHE_ENV = "CODESEARCH_CACHE_DIR"
FILE_NAME = "checkpoints.json"
FORMAT = 1  # bumped when the file's layout changes; another layout is ignored and rewritten
MAX_ENTRIES = 64  # per table; the least recently written entries are dropped first
RACY_MARGIN_NS = 50_000_000  # file timestamps come from a coarse clock (a few ms); stay clear of it
TABLES = ("fingerprints", "precisions")


def cache_file() -> Path | None:
    """Where the cache lives, or None when CODESEARCH_CACHE_DIR=off."""
    configured = os.environ.get(CACHE_ENV, "")
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured).expanduser() / FILE_NAME
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no home directory to be found: no cache
        return None
    return Path(base) / "codesearch" / FILE_NAME


def fingerprint(folder: Path, files: Sequence[Path], compute: Callable[[], str]) -> str:
    """`compute()`, or the value it gave last time if none of `files` changed since."""
    path = cache_file()
    try:
        stamps = [_stamp(f) for f in files]
    except OSError:
        return compute()  # the loader names the missing file
    if path is None:
        return compute()
    entry = _read(path)["fingerprints"].get(str(folder))
    if isinstance(entry, dict) and entry.get("files") == stamps and isinstance(entry.get("fingerprint"), str):
        return entry["fingerprint"]
    started_ns = time.time_ns()
    value = compute()
    if all(max(s[2], s[3]) < started_ns - RACY_MARGIN_NS for s in stamps):
        _store(path, "fingerprints", str(folder), {"files": stamps, "fingerprint": value})
    return value


def auto_precision(key: str) -> tuple[str, float] | None:
    """The (precision, probe cosine) remembered under `key`, or None."""
    path = cache_file()
    entry = _read(path)["precisions"].get(key) if path is not None else None
    if not isinstance(entry, dict):
        return None
    dtype, cosine = entry.get("dtype"), entry.get("cosine")
    if dtype not in ("float32", "bfloat16") or not isinstance(cosine, (int, float)):
        return None
    return dtype, float(cosine)


def remember_auto_precision(key: str, dtype: str, cosine: float) -> None:
    path = cache_file()
    if path is not None:
        _store(path, "precisions", key, {"dtype": dtype, "cosine": cosine})


def _stamp(file: Path) -> list:
    st = os.stat(file)
    return [str(file), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        data = {"format": FORMAT}
    for table in TABLES:
        if not isinstance(data.get(table), dict):
            data[table] = {}
    return data


def _store(path: Path, table: str, key: str, value: dict) -> None:
    data = _read(path)
    entries = data[table]
    entries.pop(key, None)  # re-inserted last: the most recently written
    entries[key] = value
    for old in list(entries)[: max(0, len(entries) - MAX_ENTRIES)]:
        del entries[old]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{FILE_NAME}.")
    except OSError:
        return  # a read-only or missing home: go on without the cache
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
