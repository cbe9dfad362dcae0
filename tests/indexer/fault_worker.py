"""Child process of the SIGKILL fault test: indexes a repository slowly so that kills land mid-run.

Run as `python -m tests.indexer.fault_worker ROOT INDEX_DIR`; prints "started" once the index lock is
taken so the parent knows the run is under way.
"""
from __future__ import annotations

import sys
import time

from indexer.encoder import FakeEncoder
from indexer.pipeline import IndexOptions, index_repository


class SlowFakeEncoder(FakeEncoder):
    """FakeEncoder that takes its time, as a real model does, in both the chunk and embed stages."""

    def count_tokens(self, texts):
        time.sleep(0.002)
        return super().count_tokens(texts)

    def embed_documents(self, texts):
        time.sleep(0.01)
        return super().embed_documents(texts)


class AnnounceStart:
    def stage(self, name, total):
        if name == "scan":
            print("started", flush=True)

    def advance(self, n=1, tokens=0):
        pass

    def warn(self, path, reason):
        pass


if __name__ == "__main__":
    root, index_dir = sys.argv[1], sys.argv[2]
    options = IndexOptions(files_per_commit=5, embed_batch_size=4)
    index_repository(root, index_dir, SlowFakeEncoder(dim=16), options, progress=AnnounceStart())
