"""Each part of the ranking layer on hand-made hits."""
import pytest

from indexer.query import plan_query
from indexer.ranking import (CONTAINER_DEMOTION, EXACT_DEFINITION_BOOST, QUALIFIED_DEFINITION_BOOST,
                             SAME_FILE_DECAY, SAME_FILE_FREE, adjust, aggregate_files, containers,
                             definition_boost, demotions, diversify, is_declaration_stub, path_boost,
                             path_categories)
from indexer.types import Hit

_next_id = iter(range(1, 10_000))


def hit(path="src/app.py", kind="function", symbol=None, parent=None, text="x = 1", score=1.0,
        language="python", lines=(1, 5)) -> Hit:
    return Hit(chunk_id=next(_next_id), path=path, kind=kind, symbol=symbol, parent=parent, language=language,
               start_line=lines[0], end_line=lines[1], score=score, text=text)


def test_exact_definition_of_the_queried_symbol_is_boosted():
    plan = plan_query("parse_config")
    assert definition_boost(hit(symbol="parse_config"), plan) == EXACT_DEFINITION_BOOST
    assert definition_boost(hit(symbol="parse_config_file"), plan) == 1.0
    assert definition_boost(hit(kind="file", symbol="parse_config"), plan) == 1.0


def test_qualified_definition_beats_a_same_named_method_elsewhere():
    plan = plan_query("HttpClient.send")
    right = hit(kind="method", symbol="HttpClient.send", parent="HttpClient")
    other = hit(kind="method", symbol="Mailer.send", parent="Mailer")
    assert definition_boost(right, plan) == QUALIFIED_DEFINITION_BOOST
    assert definition_boost(other, plan) == EXACT_DEFINITION_BOOST


def test_prose_query_boosts_symbols_made_of_its_words():
    plan = plan_query("count the lines in a file")
    full, half, none = (definition_boost(hit(symbol=s), plan) for s in ("count_lines", "count_words", "render"))
    assert full > half > none == 1.0


def test_path_words_boost():
    plan = plan_query("http client retry")
    assert path_boost(hit(path="src/http/client.py"), plan) > path_boost(hit(path="src/http/server.py"), plan)
    assert path_boost(hit(path="src/db/store.py"), plan) == 1.0


@pytest.mark.parametrize("path,category", [
    ("tests/test_app.py", "tests"), ("pkg/app_test.go", "tests"), ("web/button.spec.ts", "tests"),
    ("examples/demo.py", "examples"), ("vendor/lib/x.go", "vendored"), ("src/legacy/old.py", "legacy"),
    ("api/service_pb2.py", "generated"), ("typings/rich.pyi", "stubs"), ("types/index.d.ts", "stubs"),
])
def test_path_categories(path, category):
    assert category in path_categories(path)


def test_ordinary_source_is_in_no_category():
    assert path_categories("src/contest/testimony.py") == set()


def test_demotion_applies_unless_the_query_asks_for_it():
    test_hit = hit(path="tests/test_parser.py")
    assert demotions(test_hit, plan_query("parse the config"))["demote_tests"] < 1.0
    assert demotions(test_hit, plan_query("tests for the config parser")) == {}


def test_declaration_stubs_are_detected():
    assert is_declaration_stub(hit(text="@overload\ndef f(x: int) -> int: ..."))
    assert is_declaration_stub(hit(text="def area(self) -> float:\n    ...\n"))
    assert is_declaration_stub(hit(text='def area(self):\n    """Doc."""\n    raise NotImplementedError\n'))
    assert is_declaration_stub(hit(text="int area(struct shape *s);", language="c"))
    assert not is_declaration_stub(hit(text="def area(self):\n    return self.w * self.h\n"))
    assert not is_declaration_stub(hit(text="const double = (x) => x * 2;", language="javascript"))
    assert not is_declaration_stub(hit(kind="class", text="class A:\n    ...\n"))


def test_adjust_puts_the_definition_above_a_test_that_mentions_it_more():
    plan = plan_query("parse_config")
    caller = hit(path="tests/test_config.py", symbol="test_parse_config", score=1.0)
    definition = hit(path="src/config.py", symbol="parse_config", score=0.6)
    ranked = adjust([caller, definition], plan)
    assert ranked[0] is definition
    assert definition.explain["definition_boost"] == EXACT_DEFINITION_BOOST
    assert "demote_tests" in caller.explain


def test_diversify_lets_another_file_into_the_top_k():
    same = [hit(path="a.py", score=1.0 - i * 0.01) for i in range(SAME_FILE_FREE + 3)]
    other = hit(path="b.py", score=0.9)
    top = diversify(same + [other], SAME_FILE_FREE + 1)
    assert top == same[:SAME_FILE_FREE] + [other]
    assert not any("same_file_penalty" in h.explain for h in top)


def test_diversify_penalises_only_chunks_past_the_free_ones():
    same = [hit(path="a.py", score=1.0 - i * 0.01) for i in range(SAME_FILE_FREE + 2)]
    top = diversify(list(same), len(same))
    assert top == same  # one file alone still fills k
    assert top[SAME_FILE_FREE].explain["same_file_penalty"] == SAME_FILE_DECAY
    assert top[SAME_FILE_FREE + 1].explain["same_file_penalty"] == pytest.approx(SAME_FILE_DECAY ** 2, abs=1e-4)


def test_aggregate_files_gives_one_hit_per_file_and_credits_support():
    lone = hit(path="one.py", score=1.0)
    many = [hit(path="many.py", score=0.9), hit(path="many.py", score=0.8), hit(path="many.py", score=0.7)]
    files = aggregate_files([lone, *many], 10)
    assert [f.path for f in files] == ["many.py", "one.py"]
    assert files[0].explain["file_best"] == 0.9
    assert files[0].score == pytest.approx(0.9 + 0.2 * (0.8 + 0.7))
    assert len(aggregate_files([lone, *many], 1)) == 1


def test_a_class_holding_a_matching_method_is_demoted_below_it():
    plan = plan_query("refresh the token")
    outer = hit(path="auth.py", kind="class", symbol="Session", lines=(1, 50), score=1.0)
    inner = hit(path="auth.py", kind="method", symbol="Session.renew", lines=(10, 20), score=0.85)
    elsewhere = hit(path="other.py", kind="class", symbol="Other", lines=(1, 50), score=0.5)
    ranked = adjust([outer, inner, elsewhere], plan)
    assert ranked[0] is inner
    assert outer.explain["container_demotion"] == CONTAINER_DEMOTION
    assert "container_demotion" not in inner.explain and "container_demotion" not in elsewhere.explain


def test_identical_spans_do_not_contain_each_other():
    a = hit(path="x.py", lines=(1, 9))
    b = hit(path="x.py", lines=(1, 9))
    assert containers([a, b]) == set()
    c = hit(path="x.py", lines=(1, 20))
    assert containers([a, b, c]) == {c.chunk_id}
