"""Reciprocal-rank and score fusion."""
import pytest

from indexer.fusion import AGREEMENT_FULL, RRF_K, agreement, fuse, semantic_trust


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


def test_shares_record_what_each_list_added():
    fused = fuse({"lexical": [(1, 8.0), (2, 4.0)], "semantic": [(2, 0.9), (1, 0.5)]},
                 {"lexical": 1.0, "semantic": 2.0}, method="scores", min_max=("semantic",))
    by_id = {f.chunk_id: f for f in fused}
    assert by_id[1].shares == pytest.approx({"lexical": 1.0, "semantic": 0.0})
    assert by_id[2].shares == pytest.approx({"lexical": 0.5, "semantic": 2.0})
    assert all(f.score == pytest.approx(sum(f.shares.values())) for f in fused)


def test_agreement_is_the_lexical_score_of_the_semantic_favourites():
    lexical = [(1, 10.0), (2, 5.0), (3, 2.0)]
    assert agreement(lexical, [(2, 0.9), (1, 0.8)], top=2) == 1.0  # BM25's own best two, in another order
    assert agreement(lexical, [(1, 0.9), (3, 0.8)], top=2) == pytest.approx(12 / 15)
    assert agreement(lexical, [(7, 0.9), (8, 0.8), (3, 0.1)], top=2) == 0.0  # its favourites match no word
    # One chunk in the repository matches the query: a model that finds it agrees fully.
    assert agreement([(5, 4.0)], [(9, 0.9), (5, 0.8), (6, 0.7)]) == 1.0
    assert agreement([], [(1, 0.9)]) is None and agreement(lexical, []) is None
    assert semantic_trust(None) == 1.0 and semantic_trust(1.0) == 1.0
    assert semantic_trust(AGREEMENT_FULL / 2) == pytest.approx(0.5)


def test_a_semantic_side_that_disagrees_with_bm25_cannot_outvote_it():
    # BM25 has one clear answer (1); the semantic side is sure of chunks that contain none of the
    # query's words (11, 12, ...). At full weight it would win; scaled by its agreement it does not.
    lexical = [(1, 10.0), (2, 3.0), (3, 2.5)]
    semantic = [(cid, 0.95 - cid / 1000) for cid in range(11, 21)] + [(2, 0.5), (1, 0.2), (3, 0.1)]
    weights = {"lexical": 0.8, "semantic": 2.0}
    assert fuse({"lexical": lexical, "semantic": semantic}, weights, method="scores", min_max=("semantic",))[0].chunk_id == 11
    trusted = dict(weights, semantic=2.0 * semantic_trust(agreement(lexical, semantic)))
    fused = fuse({"lexical": lexical, "semantic": semantic}, trusted, method="scores", min_max=("semantic",))
    assert fused[0].chunk_id == 1
    # A semantic side whose favourites BM25 also scores keeps its full weight and can reorder them.
    agreeing = [(2, 0.95), (3, 0.9), (1, 0.3)]
    assert semantic_trust(agreement(lexical, agreeing)) == 1.0
    assert fuse({"lexical": lexical, "semantic": agreeing}, weights, method="scores", min_max=("semantic",))[0].chunk_id == 2
