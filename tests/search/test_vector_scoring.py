"""indexer.vectors.score_query: one query against a flat index scored over FAISS's own storage, checked
against FAISS's search of the same index, through removals and additions."""
import sys

import faiss
import numpy as np
import pytest

from indexer.vectors import build_index, score_query


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _faiss_top(index, query, k):
    scores, ids = index.search(query, k)
    return [int(i) for i in ids[0] if i >= 0], scores[0][: int((ids[0] >= 0).sum())]


@pytest.mark.parametrize("products", ["numpy", "torch"])
def test_flat_scores_equal_faiss_search_and_follow_changes_to_the_index(products, monkeypatch):
    if products == "numpy":  # a process without torch (the CLI) multiplies with numpy's BLAS
        monkeypatch.setitem(sys.modules, "torch", None)
    else:
        import torch  # noqa: F401 - a process that runs torch multiplies on its thread pool
    ids = np.arange(1000, 1300, dtype=np.int64) * 7  # sparse ids, as chunk ids after deletions
    index = build_index(16, "flat", ids, _unit(300, 16, 0))
    query = _unit(1, 16, 1)
    for step in range(3):
        best, also = score_query(index, query, 25, also=[int(ids[-1]), 5, int(ids[10])])
        expected_ids, expected_scores = _faiss_top(index, query, 25)
        assert [i for i, _ in best] == expected_ids
        np.testing.assert_allclose([s for _, s in best], expected_scores, atol=1e-6)
        held = dict(zip(faiss.vector_to_array(index.id_map).tolist(), range(index.ntotal)))
        matrix = faiss.rev_swig_ptr(faiss.downcast_index(index.index).get_xb(), index.ntotal * 16).reshape(-1, 16)
        wanted = [int(ids[-1]), int(ids[10])]
        assert [i for i, _ in also] == [i for i in wanted if i in held]  # 5 is no id of the index
        for cid, score in also:
            assert abs(score - float(matrix[held[cid]] @ query[0])) < 1e-6
        # The next round sees other rows under other ids: the id -> row map must not be reused.
        index.remove_ids(ids[step * 40:step * 40 + 40])
        index.add_with_ids(_unit(10, 16, 10 + step), np.arange(10, dtype=np.int64) + 10_000 * (step + 1))


def test_ties_are_broken_by_id_and_k_is_bounded_by_the_index():
    vectors = np.tile(np.eye(8, dtype=np.float32)[:1], (5, 1))  # exact ties: every score is 1
    index = build_index(8, "flat", np.array([40, 10, 30, 20, 50]), vectors)
    best, _ = score_query(index, vectors[:1], 3)
    assert [i for i, _ in best] == [10, 20, 30]
    assert [i for i, _ in score_query(index, vectors[:1], 99)[0]] == [10, 20, 30, 40, 50]
    empty = build_index(8, "flat", np.zeros(0, dtype=np.int64), np.zeros((0, 8), dtype=np.float32))
    assert score_query(empty, vectors[:1], 5, also=[10]) == ([], [])


def test_an_ivf_index_is_searched_by_faiss_and_leaves_the_other_scores_to_the_caller():
    vectors = _unit(400, 16, 3)
    index = build_index(16, "ivf", np.arange(400, dtype=np.int64), vectors)
    query = vectors[7:8]
    best, also = score_query(index, query, 10, also=[1, 2])
    assert best[0][0] == 7 and abs(best[0][1] - 1.0) < 1e-5
    assert [i for i, _ in best] == _faiss_top(index, query, 10)[0] and also is None
