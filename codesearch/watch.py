"""`serve --watch`: a thread turning file changes into debounced incremental reindexes.

Events are gathered for DEBOUNCE_MS after the last one (watchfiles), so a branch switch (thousands of
events at once) or an editor's atomic save (a temporary file renamed over the old one) costs one
reindex. A batch counts only when it touches a file that `codesearch index` would list (the walker
itself decides, with the same ignore rules) or one the index holds (a deletion), or an ignore or config
file. A file deleted while it is being read is skipped by the indexer like any vanished file; a reindex
blocked by another writer is retried.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from codesearch.errors import error_line
from codesearch.service import IndexService

DEBOUNCE_MS = 300
RETRY_MS = 1000  # how soon a reindex blocked by another writer (IndexLocked) is tried again
RULE_FILES = {".gitignore", ".codesearchignore", ".codesearch.toml", "pyproject.toml"}


def start_watcher(service: IndexService, stop: threading.Event, log: Callable[[str], None]) -> threading.Thread:
    service.watching = True
    thread = threading.Thread(target=_watch, args=(service, stop, log), daemon=True, name="watch")
    thread.start()
    return thread


def _watch(service: IndexService, stop: threading.Event, log: Callable[[str], None]) -> None:
    from watchfiles import DefaultFilter, watch

    from indexer.errors import IndexLocked

    pending: set[str] = set()
    ignore = DefaultFilter(ignore_paths=[str(service.index_dir)])
    batches = watch(service.root, watch_filter=ignore, debounce=DEBOUNCE_MS, stop_event=stop,
                    rust_timeout=RETRY_MS, yield_on_timeout=True, raise_interrupt=False)
    for changes in batches:
        pending.update(_relative(service.root, path) for _, path in changes)
        pending.discard("")
        if not pending:
            continue
        if not relevant(service, pending):
            pending.clear()
            continue
        try:
            summary = service.reindex()
        except IndexLocked:
            continue  # another process is writing: the next timeout tick retries
        except Exception as exc:  # noqa: BLE001 - a failed update must not end the watcher
            log(f"reindex after file changes failed: {error_line(exc)}")
            pending.clear()
            continue
        pending.clear()
        changed = summary.files_new + summary.files_changed + summary.files_deleted
        log(f"reindexed: {changed} files changed ({summary.seconds:.2f}s)")


def relevant(service: IndexService, paths: set[str]) -> bool:
    """Whether changes to these repository-relative paths can change the index."""
    from indexer.pipeline import IndexOptions
    from indexer.walk import list_files

    if any(p.rpartition("/")[2] in RULE_FILES for p in paths):
        return True
    if service.indexed_paths(paths):
        return True
    listing = list_files(service.root, max_file_bytes=IndexOptions().max_file_bytes, index_dir=service.index_dir,
                         only_paths=paths)
    return bool(listing.files)


def _relative(root: Path, path: str) -> str:
    try:
        rel = Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return ""
    return "" if rel.startswith("..") else rel
