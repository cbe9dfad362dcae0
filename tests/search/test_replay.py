"""A search is retrieval then ranking, and benchmarks/replay.py re-ranks captured candidates under patched
constants: the two halves must give what search() gives, and a patched constant must take effect."""
import pytest

from benchmarks import replay
from indexer import ranking
from indexer.search import SearchOptions, rank, retrieve, search

QUERIES = ("parse_config", "convert fahrenheit to celsius", "ring buffer", "tests for parse_config")


def _key(hits):
    return [(h.chunk_id, h.path, h.score, h.explain) for h in hits]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
@pytest.mark.parametrize("files_only", [False, True])
def test_retrieve_then_rank_is_search(index, encoder, mode, files_only):
    options = SearchOptions(mode=mode, k=8, files_only=files_only)
    for query in QUERIES:
        expected = search(index, query, encoder, options).hits
        assert _key(rank(retrieve(index, query, encoder, options), options)) == _key(expected), query


def test_replayed_candidates_give_the_same_files_twice(index):
    candidates = retrieve(index, "parse_config", None, SearchOptions(mode="lexical", files_only=True))
    first = replay.replayed_files(candidates, "lexical")
    assert first == [h.path for h in search(index, "parse_config", None,
                                             SearchOptions(mode="lexical", k=replay.CUTOFF, files_only=True)).hits]
    assert replay.replayed_files(candidates, "lexical") == first  # the captured hits are not consumed


@pytest.fixture
def restore_tests_demotion():
    before = ranking.DEMOTIONS["tests"]
    yield
    replay.apply("indexer.ranking.DEMOTIONS", "tests", before)  # and empties the caches again


def test_a_patched_demotion_takes_effect_through_the_cached_demotions(index, restore_tests_demotion):
    options = SearchOptions(mode="lexical", files_only=True)
    candidates = retrieve(index, "parse_config", None, options)
    demoted = replay.replayed_files(candidates, "lexical")
    replay.apply("indexer.ranking.DEMOTIONS", "tests", 1.0)
    lifted = replay.replayed_files(candidates, "lexical")
    # ranking._demotions caches its multipliers: without emptying it the patch would change nothing
    assert lifted.index("tests/test_geometry.py") < demoted.index("tests/test_geometry.py")


def test_parse_setting_reads_numbers_tuples_and_dict_keys():
    assert replay.parse_setting("indexer.ranking.FILE_WORDS_BOOST=0.3,1") == (
        "indexer.ranking.FILE_WORDS_BOOST", None, [0.3, 1.0])
    assert replay.parse_setting("indexer.query.FUSION_WEIGHTS[mixed]=1.0:0.4") == (
        "indexer.query.FUSION_WEIGHTS", "mixed", [(1.0, 0.4)])
    for bad in ("FILE_WORDS_BOOST=0.3", "indexer.ranking.FILE_WORDS_BOOST=high"):
        with pytest.raises(SystemExit):
            replay.parse_setting(bad)
    with pytest.raises(SystemExit, match="no module"):
        replay.apply("indexer.nosuch.X", None, 1.0)


def test_leave_one_out_scores_each_group_with_the_choice_made_without_it():
    # "b" is best on average only because of group x; without x, "a" wins, and on x "a" scores 0.
    table = {("a",): {"x": 0.0, "y": 0.9, "z": 0.9}, ("b",): {"x": 1.0, "y": 0.8, "z": 0.8}}
    assert replay.leave_one_out(table, ["x", "y", "z"]) == pytest.approx((0.0 + 0.8 + 0.8) / 3)
