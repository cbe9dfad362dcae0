"""Reciprocal-rank and score fusion."""
import pytest

from indexer.fusion import RRF_K, fuse


def test_rrf_rewards_agreement_between_lists():
    fused = fuse({"lexical": [(1, 9.0), (2, 5.0)], "semantic": [(2, 0.9), (3, 0.8)]}, {})
    assert [f.chunk_id for f in fused][0] == 2
    assert fused[0].score == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused[0].parts == {"lexical": 5.0, "lexical_rank": 2.0, "semantic": 0.9, "semantic_rank": 1.0}


def test_rrf_weights_tilt_the_order():
    lists = {"lexical": [(1, 3.0)], "semantic": [(2, 0.5)]}
    assert fuse(lists, {"lexical": 1.0, "semantic": 0.5})[0].chunk_id == 1
    assert fuse(lists, {"lexical": 0.5, "semantic": 1.0})[0].chunk_id == 2


def test_score_fusion_keeps_the_margin_that_ranks_lose():
    lists = {"lexical": [(1, 10.0), (2, 9.9)], "semantic": [(2, 0.9), (1, 0.1)]}
    by_rrf = fuse(lists, {}, method="rrf")
    by_scores = fuse(lists, {}, method="scores")
    assert by_rrf[0].score == pytest.approx(by_rrf[1].score)  # ranks alone cannot separate them
    assert by_scores[0].chunk_id == 2
    assert by_scores[0].score == pytest.approx(0.99 + 1.0)


def test_score_fusion_min_max_scales_lists_without_a_natural_zero():
    lists = {"semantic": [(1, 0.80), (2, 0.70), (3, 0.60)]}
    scaled = {f.chunk_id: f.score for f in fuse(lists, {}, method="scores", min_max=("semantic",))}
    divided = {f.chunk_id: f.score for f in fuse(lists, {}, method="scores")}
    assert scaled == pytest.approx({1: 1.0, 2: 0.5, 3: 0.0})
    assert divided == pytest.approx({1: 1.0, 2: 0.875, 3: 0.75})


def test_empty_lists_and_unknown_method():
    assert fuse({"lexical": []}, {}) == []
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse({}, {}, method="borda")


def test_ties_are_broken_by_chunk_id():
    fused = fuse({"a": [(5, 1.0)], "b": [(3, 1.0)]}, {})
    assert [f.chunk_id for f in fused] == [3, 5]
