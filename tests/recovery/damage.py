"""The battery of index damage: each probe breaks one part of a built index in one way, names the one
command that repairs it, and says what that command must leave behind.

One source of truth for `tests/recovery/` (a test per probe) and `benchmarks/faults.py` (the table in
RELIABILITY.md). A probe's `damage(index_dir)` works on an index built with the fake encoder's vectors.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

DB = "index.sqlite"


@dataclass(frozen=True)
class Probe:
    name: str  # what broke, as the test's name says it
    damage: Callable[[Path], None]
    repair: tuple[str, ...]  # the command that repairs it (after `codesearch`), as `status` names it; ()
    # when nothing needs repairing (`status` says current)
    kept: str | None = None  # a glob of what the repair keeps aside (the damaged database), if anything
    # The damage takes the database, and with it the record of the model that made the vectors: the
    # repair is told the model again (as a flag or the config file does; the default model needs nothing).
    forgets_model: bool = False


def _drop_sidecars(index_dir: Path) -> None:
    """Fold the WAL into the main file first, so damage to the file is damage to all of the data."""
    conn = sqlite3.connect(index_dir / DB)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for side in index_dir.glob(f"{DB}-*"):
        side.unlink()


def _sql(index_dir: Path, *statements: str) -> None:
    conn = sqlite3.connect(index_dir / DB)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def garble_database(index_dir: Path) -> None:
    _drop_sidecars(index_dir)
    data = bytearray((index_dir / DB).read_bytes())
    rng = np.random.default_rng(0)
    data[: 4096] = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()  # the header and the schema page
    (index_dir / DB).write_bytes(bytes(data))


def truncate_database(index_dir: Path) -> None:
    _drop_sidecars(index_dir)
    path = index_dir / DB
    os.truncate(path, path.stat().st_size // 3)


def replace_database(index_dir: Path) -> None:
    """Another program's SQLite file under our name."""
    _drop_sidecars(index_dir)
    (index_dir / DB).unlink()
    conn = sqlite3.connect(index_dir / DB)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes(body) VALUES ('not an index')")
    conn.commit()
    conn.close()


def empty_database(index_dir: Path) -> None:
    _drop_sidecars(index_dir)
    (index_dir / DB).write_bytes(b"")


def garble_meta(index_dir: Path) -> None:
    _sql(index_dir, "UPDATE meta SET value = 'garbled\x7f' WHERE key IN ('dim', 'format_version',"
         " 'chunker_version', 'scan_started_ns', 'model_id')")


def drop_meta(index_dir: Path) -> None:
    _sql(index_dir, "DROP TABLE meta")


def drop_fts(index_dir: Path) -> None:
    _sql(index_dir, "DROP TABLE chunks_fts")


def empty_fts(index_dir: Path) -> None:
    _sql(index_dir, "DELETE FROM chunks_fts")


def garble_fts(index_dir: Path) -> None:
    """The FTS5 table's own storage (its shadow table of index segments) overwritten."""
    _sql(index_dir, "UPDATE chunks_fts_data SET block = randomblob(length(block)) WHERE id > 10")


def garble_faiss(index_dir: Path) -> None:
    (index_dir / "vectors.faiss").write_bytes(b"not a faiss index" * 100)


def remove_faiss(index_dir: Path) -> None:
    (index_dir / "vectors.faiss").unlink()


def garble_delta(index_dir: Path) -> None:
    (index_dir / "vectors.delta.npz").write_bytes(b"PK\x03\x04 not a zip file" * 50)


def truncate_delta(index_dir: Path) -> None:
    path = index_dir / "vectors.delta.npz"
    os.truncate(path, path.stat().st_size // 2)


def mistype_delta(index_dir: Path) -> None:
    """A readable delta that belongs to the base, but with arrays of other types and shapes."""
    path = index_dir / "vectors.delta.npz"
    with np.load(path) as data:
        arrays = dict(data)
    arrays["ids"] = arrays["ids"].astype(np.float64)
    arrays["add_vectors"] = arrays["add_vectors"][:, :3]
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def truncate_embeddings(index_dir: Path) -> None:
    """Cached embedding blobs cut short (`cannot reshape array`)."""
    _sql(index_dir, "UPDATE embeddings SET vector = substr(vector, 1, 10) WHERE rowid % 3 = 0")


def nan_embeddings(index_dir: Path) -> None:
    nan = np.full(64, np.nan, dtype=np.float32).tobytes().hex()
    _sql(index_dir, f"UPDATE embeddings SET vector = x'{nan}' WHERE rowid % 4 = 1")


def garble_wal_after_a_crash(index_dir: Path) -> None:
    """A writer killed with a transaction in the WAL (its process never closed the database), then both
    WAL files overwritten: SQLite ignores WAL frames whose checksums fail and rebuilds the shm index."""
    script = (f"import os, sqlite3; c = sqlite3.connect({str(index_dir / DB)!r}, isolation_level=None); "
              "c.execute('PRAGMA wal_autocheckpoint=0'); "
              "c.execute(\"INSERT OR REPLACE INTO meta VALUES ('crashed_writer', '1')\"); os._exit(0)")
    subprocess.run([sys.executable, "-c", script], check=True)
    for side in ("-wal", "-shm"):
        path = index_dir / (DB + side)
        path.write_bytes(b"\xff" * path.stat().st_size)


def index_dir_is_a_file(index_dir: Path) -> None:
    shutil.rmtree(index_dir)
    index_dir.write_text("not a folder\n")


FULL = ("index", "--full")
UPDATE = ("index",)
PROBES: tuple[Probe, ...] = (
    Probe("garbled_database", garble_database, FULL, kept=f"{DB}.corrupt-*", forgets_model=True),
    Probe("truncated_database", truncate_database, FULL, kept=f"{DB}.corrupt-*", forgets_model=True),
    Probe("replaced_database", replace_database, FULL, kept=f"{DB}.corrupt-*", forgets_model=True),
    Probe("emptied_database", empty_database, UPDATE, forgets_model=True),
    Probe("garbled_meta", garble_meta, FULL, kept=f"{DB}.corrupt-*", forgets_model=True),
    Probe("dropped_meta", drop_meta, FULL, kept=f"{DB}.corrupt-*", forgets_model=True),
    Probe("dropped_fts_table", drop_fts, UPDATE),
    Probe("emptied_fts_table", empty_fts, UPDATE),
    Probe("garbled_fts_table", garble_fts, FULL),
    Probe("garbled_faiss_file", garble_faiss, UPDATE),
    Probe("removed_faiss_file", remove_faiss, UPDATE),
    Probe("garbled_delta_file", garble_delta, UPDATE),
    Probe("truncated_delta_file", truncate_delta, UPDATE),
    Probe("mistyped_delta_file", mistype_delta, UPDATE),
    Probe("truncated_embeddings", truncate_embeddings, FULL),
    Probe("nan_embeddings", nan_embeddings, FULL),
    Probe("garbled_wal_files_after_a_crash", garble_wal_after_a_crash, ()),
    Probe("index_dir_replaced_by_a_file", index_dir_is_a_file, FULL, kept=".codesearch.corrupt-*", forgets_model=True),
)
