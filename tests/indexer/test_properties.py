"""Property: after random edits, renames and deletions, an incremental index equals a full rebuild."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.encoder import FakeEncoder
from indexer.pipeline import IndexOptions, index_repository
from tests.indexer.helpers import chunk_rows, consistency_problems, vectors_by_hash

NAMES = ["a.py", "b.py", "pkg/c.py", "pkg/d.js", "docs/e.md", "f.go"]
SNIPPETS = [
    "def load(path):\n    return open(path).read()\n",
    "class Store:\n    def put(self, key, value):\n        self.data[key] = value\n",
    "function render(view) {\n  return view.toString();\n}\n",
    "# Usage\n\nRun the tool.\n\n## Options\n\nNone yet.\n",
    "func Sum(xs []int) int {\n\ttotal := 0\n\treturn total\n}\n",
    "x = 1\n",
    "def broken(:\n",
]

operation = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.sampled_from(SNIPPETS), st.integers(0, 3)),
    st.tuples(st.just("append"), st.sampled_from(NAMES), st.sampled_from(SNIPPETS), st.integers(0, 3)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES), st.just(0)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just(""), st.just(0)),
)
step = st.tuples(operation, st.booleans())  # (operation, reindex after it)
OPTIONS = IndexOptions(embed_batch_size=3)


def apply(root, op) -> None:
    kind, name, arg, salt = op
    path = root / name
    if kind in ("write", "append"):
        path.parent.mkdir(parents=True, exist_ok=True)
        text = arg.replace("1", str(salt + 1)) if salt else arg
        existing = path.read_text() if kind == "append" and path.exists() else ""
        path.write_text(existing + text)
    elif kind == "rename" and path.exists():
        target = root / arg
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    elif kind == "delete" and path.exists():
        path.unlink()


def check_incremental_equals_full(tmp_path_factory, steps) -> None:
    root = tmp_path_factory.mktemp("repo")
    for name in NAMES[:4]:
        apply(root, ("write", name, SNIPPETS[NAMES.index(name)], 0))
    encoder = FakeEncoder(dim=16)
    index_repository(root, root / ".codesearch", encoder, OPTIONS)
    for op, reindex in steps:
        apply(root, op)
        if reindex:
            index_repository(root, root / ".codesearch", encoder, OPTIONS)
    index_repository(root, root / ".codesearch", encoder, OPTIONS)
    fresh = tmp_path_factory.mktemp("fresh") / "index"
    index_repository(root, fresh, FakeEncoder(dim=16), OPTIONS)
    assert chunk_rows(root / ".codesearch") == chunk_rows(fresh)
    assert vectors_by_hash(root / ".codesearch") == vectors_by_hash(fresh)
    assert consistency_problems(root / ".codesearch") == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=8))
def test_incremental_equals_full_rebuild(tmp_path_factory, steps):
    check_incremental_equals_full(tmp_path_factory, steps)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=20))
def test_incremental_equals_full_rebuild_many(tmp_path_factory, steps):
    check_incremental_equals_full(tmp_path_factory, steps)
