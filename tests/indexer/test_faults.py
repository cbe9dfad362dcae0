"""Fault test: an index run killed by SIGKILL at random moments is always consistent afterwards, and the
next run finishes it, embedding only what was missing."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.encoder import FakeEncoder
from indexer.pipeline import IndexOptions, index_repository
from indexer.index import open_index
from tests.conftest import ROOT
from tests.indexer.helpers import chunk_rows, consistency_problems, vectors_by_hash

TRIALS = 24
OPTIONS = IndexOptions(files_per_commit=5, embed_batch_size=4)


def write_module(root: Path, number: int, version: int) -> None:
    functions = "\n\n".join(
        f"def step_{number}_{i}(value):\n    \"\"\"Step {i} of pipeline {number}, revision {version}.\"\"\"\n"
        f"    return value * {i + version} + {number}\n"
        for i in range(6)
    )
    path = root / f"pkg{number % 4}" / f"module_{number}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"class Pipeline{number}:\n    revision = {version}\n\n\n{functions}\n")


def embedded_hashes(index_dir: Path) -> set[str]:
    index = open_index(index_dir)
    try:
        return {r[0] for r in index.conn.execute("SELECT content_hash FROM embeddings WHERE model_id = 'fake-encoder'")}
    finally:
        index.close()


def run_and_kill(root: Path, index_dir: Path, delay: float) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.indexer.fault_worker", str(root), str(index_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        child.stdout.readline()  # "started": imports done, the lock is held
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
        child.stdout.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_resumable_index(tmp_path):
    rng = random.Random(20261122)
    root = tmp_path / "repo"
    root.mkdir()
    for number in range(30):
        write_module(root, number, 0)
    index_dir = root / ".codesearch"
    killed_before_finish = 0
    for trial in range(TRIALS):
        for number in rng.sample(range(40), 10):  # edit, add and delete files between trials
            if rng.random() < 0.2 and (root / f"pkg{number % 4}" / f"module_{number}.py").exists():
                (root / f"pkg{number % 4}" / f"module_{number}.py").unlink()
            else:
                write_module(root, number, trial + 1)
        run_and_kill(root, index_dir, rng.uniform(0.0, 0.4))
        if not (index_dir / "index.sqlite").exists():
            continue  # killed before the database was created
        index = open_index(index_dir)  # never IndexCorrupt
        killed_before_finish += "indexed_at" not in index.meta
        index.close()
        assert consistency_problems(index_dir) == [], f"trial {trial}"
        already = embedded_hashes(index_dir)
        encoder = FakeEncoder(dim=16)
        summary = index_repository(root, index_dir, encoder, OPTIONS)
        final = {row[9] for row in chunk_rows(index_dir)}
        assert encoder.calls == summary.chunks_embedded == len(final - already), f"trial {trial}"
        assert consistency_problems(index_dir) == []
        fresh = tmp_path / f"fresh-{trial}"
        index_repository(root, fresh, FakeEncoder(dim=16), OPTIONS)
        assert chunk_rows(index_dir) == chunk_rows(fresh)
        assert vectors_by_hash(index_dir) == vectors_by_hash(fresh)
    assert killed_before_finish >= TRIALS // 2  # the kills really landed mid-run
