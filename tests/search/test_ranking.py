"""Each part of the ranking layer on hand-made hits."""
import pytest

from indexer.query import plan_query
from indexer.ranking import (CONTAINER_DEMOTION, CORE_BOOST, DECLARES_BOOST, DEMOTIONS, EXACT_CASE_BOOST,
                             EXACT_DEFINITION_BOOST, FILE_NAME_BOOST, FILE_SUPPORT_CHUNKS, FILE_SUPPORT_WEIGHT, FILE_WORDS_BOOST, NAME_OVERLAP_BOOST,
                             BEHAVIOUR_SUPPORT_DECAY, PROSE_SUPPORT_DECAY, QUALIFIED_DEFINITION_BOOST, SAME_FILE_DECAY,
                             SAME_FILE_FREE, adjust, aggregate_files, containers, declares, definition_boost,
                             core_boost, demotions, diversify, file_name_boost, file_words_boost, is_declaration_stub, path_boost,
                             path_categories, OLD_VERSION_DEMOTION, superseded_versions, VARIANT_DEMOTION,
                             variant_files)
from indexer.types import Hit

_next_id = iter(range(1, 10_000))


def hit(path="src/app.py", kind="function", symbol=None, parent=None, text="x = 1", score=1.0,
        language="python", lines=(1, 5)) -> Hit:
    return Hit(chunk_id=next(_next_id), path=path, kind=kind, symbol=symbol, parent=parent, language=language,
               start_line=lines[0], end_line=lines[1], score=score, text=text)


def test_exact_definition_of_the_queried_symbol_is_boosted():
    plan = plan_query("parse_config")
    assert definition_boost(hit(symbol="parse_config"), plan) == EXACT_DEFINITION_BOOST * EXACT_CASE_BOOST
    assert definition_boost(hit(symbol="ParseConfig"), plan) == 1.0  # other parts, not the same name
    assert definition_boost(hit(symbol="parse_config_file"), plan) == 1.0
    assert definition_boost(hit(kind="file", symbol="parse_config"), plan) == 1.0


def test_in_hybrid_the_definition_boost_multiplies_the_lexical_share_only():
    # Two definitions of the name asked for: the model ranks them almost alike (a near-tie the boost
    # would amplify), BM25 prefers the first. The boost lifts each by its lexical share, so BM25 decides.
    plan = plan_query("parse_config")
    by_words = hit(path="src/config.py", symbol="parse_config", score=1.8)
    by_words.explain["lexical_share"] = 0.8  # + 1.0 from the semantic side
    by_model = hit(path="src/legacy.py", symbol="parse_config", score=1.9)
    by_model.explain["lexical_share"] = 0.5  # + 1.4 from the semantic side
    boost = EXACT_DEFINITION_BOOST * EXACT_CASE_BOOST
    ranked = adjust([by_model, by_words], plan)
    assert [h.path for h in ranked] == ["src/config.py", "src/legacy.py"]
    assert by_words.score == pytest.approx(1.8 + 0.8 * (boost - 1))
    assert by_words.explain["definition_boost"] == boost
    # Without a lexical share (lexical or semantic search) the boost multiplies the whole score.
    alone = hit(symbol="parse_config", score=1.9)
    adjust([alone], plan)
    assert alone.score == pytest.approx(1.9 * boost)


def test_qualified_definition_beats_a_same_named_method_elsewhere():
    plan = plan_query("HttpClient.send")
    right = hit(kind="method", symbol="HttpClient.send", parent="HttpClient")
    other = hit(kind="method", symbol="Mailer.send", parent="Mailer")
    assert definition_boost(right, plan) == QUALIFIED_DEFINITION_BOOST * EXACT_CASE_BOOST
    assert definition_boost(other, plan) == EXACT_DEFINITION_BOOST * EXACT_CASE_BOOST


def test_the_name_in_the_case_typed_beats_the_same_name_in_another_case():
    # `URL` is the class; `Response.url` a property of another one (httpx's misses, before).
    plan = plan_query("URL")
    cls = hit(kind="class", symbol="URL", path="httpx/_urls.py")
    prop = hit(kind="method", symbol="Response.url", parent="Response", path="httpx/_models.py")
    assert definition_boost(cls, plan) == EXACT_DEFINITION_BOOST * EXACT_CASE_BOOST
    assert definition_boost(prop, plan) == EXACT_DEFINITION_BOOST
    assert [h.path for h in adjust([prop, cls], plan)] == ["httpx/_urls.py", "httpx/_models.py"]


def test_a_word_typed_in_lower_case_does_not_pick_the_lower_case_name():
    # flask: "session" found RequestContext's `session` property (the case typed) above sessions.py,
    # the module named for it. A plain word is typed in lower case whatever it names.
    plan = plan_query("session")
    prop = hit(kind="method", symbol="RequestContext.session", parent="RequestContext", path="src/flask/ctx.py",
               score=1.3)
    cls = hit(kind="class", symbol="Session", path="src/flask/sessions.py", score=1.0)
    assert definition_boost(prop, plan) == definition_boost(cls, plan) == EXACT_DEFINITION_BOOST
    assert [h.path for h in adjust([prop, cls], plan)] == ["src/flask/sessions.py", "src/flask/ctx.py"]
    # A name typed with capitals or code shape still says which case it means.
    assert definition_boost(hit(symbol="Session"), plan_query("Session")) == EXACT_DEFINITION_BOOST * EXACT_CASE_BOOST


def test_prose_query_boosts_symbols_made_of_its_words():
    plan = plan_query("count the lines in a file")
    full, half, none = (definition_boost(hit(symbol=s), plan) for s in ("count_lines", "count_words", "render"))
    assert full > half > none == 1.0


def test_a_prefix_most_candidates_names_begin_with_is_a_namespace_not_a_word():
    # libuv: `uv_ref` is what "handle reference counting" asks for; `uv_` begins every name of the project.
    plan = plan_query("handle reference counting and close")
    others = [hit(path=f"src/unix/f{i}.c", symbol=f"uv_thing{i}", language="c", score=1.0) for i in range(19)]
    ref = hit(path="src/uv-common.c", symbol="uv_ref", language="c", score=0.8)
    count = hit(path="src/unix/core.c", symbol="count_timers", language="c", score=0.8)
    ranked = adjust([*others, ref, count], plan)
    assert ref.explain["definition_boost"] == 1.0 + NAME_OVERLAP_BOOST
    assert count.explain["definition_boost"] == 1.0 + NAME_OVERLAP_BOOST / 2
    assert ranked[0] is ref
    # Among a few candidates, or when the query uses the prefix, it is a word like the others.
    assert definition_boost(ref, plan) == 1.0 + NAME_OVERLAP_BOOST / 2
    adjust([*others[:5], ref], plan)
    assert ref.explain["definition_boost"] == 1.0 + NAME_OVERLAP_BOOST / 2
    adjust([*others, ref], plan_query("the uv reference count"))
    assert ref.explain["definition_boost"] == 1.0 + NAME_OVERLAP_BOOST


def test_path_words_boost():
    plan = plan_query("http client retry")
    assert path_boost(hit(path="src/http/client.py"), plan) > path_boost(hit(path="src/db/client.py"), plan)
    assert path_boost(hit(path="src/db/store.py"), plan) == 1.0


def test_the_file_whose_name_the_query_spells_out_beats_a_longer_name():
    # monolog: "group handler to broadcast ..." is GroupHandler.php, not WhatFailureGroupHandler.php.
    plan = plan_query("group handler to broadcast log records to multiple handlers")
    exact = file_words_boost(hit(path="src/Handler/GroupHandler.php"), plan)
    longer = file_words_boost(hit(path="src/Handler/WhatFailureGroupHandler.php"), plan)
    assert exact == 1.0 + FILE_WORDS_BOOST and 1.0 < longer < exact
    assert file_words_boost(hit(path="src/Handler/index.php"), plan) == 1.0  # a name that says nothing
    assert file_words_boost(hit(path="src/Formatter/LineFormatter.php"), plan) == 1.0
    # A symbol query is decided by definitions and file_name_boost instead.
    assert file_words_boost(hit(path="src/GroupHandler.php"), plan_query("GroupHandler")) == 1.0


def assert_named_file_overtakes(query, first, named):
    """`named`, a file chunk scored 0.9 against `first`'s 1.0, ranks first on file_words_boost alone,
    its name made wholly of the query's words."""
    ranked = adjust([hit(path=first, kind="file", score=1.0), hit(path=named, kind="file", score=0.9)],
                    plan_query(query))
    assert [h.path for h in ranked] == [named, first]
    assert ranked[0].explain["file_words_boost"] == 1.0 + FILE_WORDS_BOOST


def test_a_name_abbreviating_the_querys_word_counts_as_that_word():
    # serde: "standard library type Deserialize implementations" is de/impls.rs.
    assert_named_file_overtakes("standard library type Deserialize implementations",
                                "serde/src/de/mod.rs", "serde/src/de/impls.rs")
    # `conn_pool` for "connection pool"; but a stem of three letters begins too many words: `str` is not
    # "stream", and a name longer than the word is not its abbreviation.
    assert file_words_boost(hit(path="src/conn_pool.py"), plan_query("connection pool sizing")) == 1.0 + FILE_WORDS_BOOST
    assert file_words_boost(hit(path="src/str.py"), plan_query("read the stream in chunks")) == 1.0
    assert file_words_boost(hit(path="src/flagship.py"), plan_query("how to parse flags")) == 1.0


def test_a_name_for_what_does_the_querys_verb_counts_as_that_verb():
    # lazy.nvim: "how lazy.nvim checks for plugin updates from git" is manage/checker.lua.
    assert_named_file_overtakes("how it checks for plugin updates", "lua/lazy/manage/init.lua",
                                "lua/lazy/manage/checker.lua")
    for name, query in (("parser", "how to parse flags"), ("iterator", "how it iterates over the arguments"),
                        ("loader", "how plugins are loaded on demand")):
        assert file_words_boost(hit(path=f"src/{name}.py"), plan_query(query)) == 1.0 + FILE_WORDS_BOOST, name
    # The suffix off must leave a query word's stem, of 4 letters at least: not `order` for "ord".
    assert file_words_boost(hit(path="src/parser.py"), plan_query("how to parse flags")) == 1.0 + FILE_WORDS_BOOST
    assert file_words_boost(hit(path="src/filter.py"), plan_query("how files are found")) == 1.0
    assert definition_boost(hit(symbol="EventLoader"), plan_query("events loaded at startup")) == 1.0 + NAME_OVERLAP_BOOST


def test_plural_and_singular_of_a_word_ending_in_y_meet():
    # gson: "serialization exclusion strategies ..." is ExclusionStrategy.java.
    assert_named_file_overtakes("serialization exclusion strategies for fields", "gson/Excluder.java",
                                "gson/ExclusionStrategy.java")
    assert definition_boost(hit(symbol="TypeAdapterFactory"), plan_query("type adapter factories")) \
        == 1.0 + NAME_OVERLAP_BOOST
    # while "cookies" is still the plural of "cookie"
    assert file_words_boost(hit(path="httpx/cookie.py"), plan_query("cookies kept across requests")) == 1.0 + FILE_WORDS_BOOST


def test_a_generic_file_name_counts_only_when_the_query_says_it():
    # lazy.nvim: "how lazy util functions provide error handling ..." is core/util.lua.
    assert_named_file_overtakes("how lazy util functions provide error handling", "lua/lazy/core/cache.lua",
                                "lua/lazy/core/util.lua")
    assert file_words_boost(hit(path="flask/helpers.py"), plan_query("JSON response helpers")) == 1.0 + FILE_WORDS_BOOST
    assert file_words_boost(hit(path="flask/helpers.py"), plan_query("JSON response helper")) == 1.0 + FILE_WORDS_BOOST
    # Otherwise it says nothing, and an abbreviation of a query word does not say it either.
    assert file_words_boost(hit(path="lua/lazy/core/util.lua"), plan_query("error handling and module loading")) == 1.0
    assert file_words_boost(hit(path="serde/src/lib.rs"), plan_query("standard library implementations")) == 1.0


def test_two_adjacent_query_words_written_as_one_name_count_as_those_words():
    # libuv: "resolving hostnames asynchronously using the thread pool" is threadpool.c; plug: "URL-encoded
    # form body parser" is parsers/urlencoded.ex. A lower-case name has no separator to split it at.
    assert_named_file_overtakes("work queued on the thread pool", "src/unix/core.c", "src/threadpool.c")
    assert file_words_boost(hit(path="lib/plug/parsers/urlencoded.ex"), plan_query("URL-encoded form body parser")) \
        == 1.0 + FILE_WORDS_BOOST
    assert definition_boost(hit(symbol="threadpool_init"), plan_query("init the thread pool")) == 1.0 + NAME_OVERLAP_BOOST
    # Only words next to each other in the query: not "thread ... pool" with other words between them.
    assert file_words_boost(hit(path="src/threadpool.c"), plan_query("thread safety of the worker pool")) == 1.0


@pytest.mark.parametrize("path,category", [
    ("tests/test_app.py", "tests"), ("pkg/app_test.go", "tests"), ("web/button.spec.ts", "tests"),
    ("examples/demo.py", "examples"), ("vendor/lib/x.go", "vendored"), ("src/legacy/old.py", "legacy"),
    ("api/service_pb2.py", "generated"), ("typings/rich.pyi", "stubs"), ("types/index.d.ts", "stubs"),
    ("src/win/tcp.c", "windows"), ("command_win.go", "windows"), ("fs_windows.go", "windows"),
    ("sys/Win32.rs", "windows"), ("src/unix/sunos.c", "ports"), ("src/unix/os390-syscalls.c", "ports"),
    ("src/unix/aix-common.c", "ports"), ("platform/haiku/thread.cpp", "ports"), ("io_cygwin.go", "ports"),
    ("src/v3/benchmarks/object.ts", "benchmarks"), ("benches/parse.rs", "benchmarks"), ("bench_tokens.py", "benchmarks"),
    ("web/diff.bench.ts", "benchmarks"), ("src/jmh/JsonBenchmark.java", "benchmarks"), ("lib/compat/py2.py", "legacy"),
])
def test_path_categories(path, category):
    assert category in path_categories(path)


def test_ordinary_source_is_in_no_category():
    assert path_categories("src/contest/testimony.py") == set()
    assert path_categories("src/unix/tcp.c") == set()
    assert path_categories("src/window.c") == set()  # a GUI window, not the platform
    assert path_categories("lib/winner.py") == set()
    assert path_categories("src/unix/linux.c") == path_categories("src/unix/darwin.c") == set()  # main platforms
    assert path_categories("src/chaos.c") == path_categories("src/quxaix.c") == set()
    assert path_categories("src/workbench.py") == path_categories("lib/benchmarking_utils/x.py") == set()


def test_the_core_package_s_file_rises_above_the_wrappers_of_the_same_name():
    # zod: v4/core/schemas.ts implements what v4/classic/schemas.ts and v4/mini/schemas.ts wrap.
    plan = plan_query("union and discriminated union schema types")
    wrapper = hit(path="packages/zod/src/v4/classic/schemas.ts", language="typescript", score=1.05)
    core = hit(path="packages/zod/src/v4/core/schemas.ts", language="typescript", score=1.0)
    assert adjust([wrapper, core], plan) == [core, wrapper]
    assert core.explain["core_boost"] == CORE_BOOST and "core_boost" not in wrapper.explain
    assert core_boost("serde_core/src/de/mod.rs") == core_boost("exposed-core/src/Table.kt") == CORE_BOOST
    assert core_boost("src/score/core.py") == core_boost("lib/hardcore/x.py") == 1.0  # a file or word, not the package


@pytest.mark.parametrize("port_path,portable_path,category,query,asking", [
    # libuv: win/tcp.c shares unix/tcp.c's vocabulary and has more of it.
    ("src/win/tcp.c", "src/unix/tcp.c", "windows", "TCP stream connect and accept implementation",
     "TCP connect on Windows"),
    # libuv: unix/sunos.c and unix/os390.c implement the event loop and interface listing again, for one
    # operating system each, with more of the query's words than the portable unix/core.c.
    ("src/unix/sunos.c", "src/unix/core.c", "ports", "how libuv implements the event loop run and tick",
     "event loop polling on Solaris"),
])
def test_a_port_sinks_below_the_portable_code_unless_its_platform_is_asked(port_path, portable_path, category,
                                                                           query, asking):
    def pair():
        return (hit(path=port_path, symbol="uv__impl", language="c", score=1.2),
                hit(path=portable_path, symbol="uv__impl", language="c", score=1.0))

    port, portable = pair()
    assert adjust([port, portable], plan_query(query)) == [portable, port]
    assert port.explain[f"demote_{category}"] == DEMOTIONS[category]
    port, portable = pair()
    assert adjust([port, portable], plan_query(asking)) == [port, portable]
    assert f"demote_{category}" not in port.explain


def test_a_file_of_an_old_major_version_sinks_below_the_current_one_unless_the_version_is_asked():
    # zod keeps src/v3 (the previous major version, for compatibility) beside src/v4: the same enum,
    # optional and ZodError code twice, and the old copy often has more of the query's words.
    def trio():
        return (hit(path="packages/zod/src/v3/types.ts", symbol="ZodEnum", language="typescript", score=1.3),
                hit(path="packages/zod/src/v4/core/api.ts", symbol="_enum", language="typescript", score=1.0),
                hit(path="packages/zod/src/index.ts", language="typescript", score=0.3))

    old, new, other = trio()
    assert adjust([old, new, other], plan_query("enum schema types for literal value sets")) == [new, old, other]
    assert old.explain["demote_old_version"] == OLD_VERSION_DEMOTION
    assert "demote_old_version" not in new.explain and "demote_old_version" not in other.explain
    old, new, other = trio()
    assert adjust([old, new, other], plan_query("v3 enum schema types")) == [old, new, other]
    # Only a version with a newer one beside it among the candidates, under the same parent.
    old, _, other = trio()
    assert adjust([old, other], plan_query("enum schema types")) == [old, other]
    assert superseded_versions({"api/v1/a.go", "api/v2/b.go", "cmd/v1/c.go"}, plan_query("handlers")) == {("api", 1)}


def test_a_variant_named_for_a_file_beside_it_sinks_unless_the_query_names_what_it_varies():
    # cobra: bash_completions.go, with more of "shell completion request" in it, over completions.go.
    def pair():
        return (hit(path="bash_completions.go", symbol="writeRequests", language="go", score=1.2),
                hit(path="completions.go", symbol="completionCmd", language="go", score=1.0))

    variant, general = pair()
    assert adjust([variant, general], plan_query("shell completion request handling")) == [general, variant]
    assert variant.explain["demote_variant"] == VARIANT_DEMOTION and "demote_variant" not in general.explain
    variant, general = pair()
    assert adjust([variant, general], plan_query("bash completion requests")) == [variant, general]
    assert "demote_variant" not in variant.explain
    plan = plan_query("how handlers and requests are built")
    assert variant_files({"src/DataRequest.swift", "src/Request.swift", "src/Session.swift"}, plan) == {
        "src/DataRequest.swift"}
    assert variant_files({"src/DataStreamRequest.swift", "src/StreamRequest.swift"}, plan) == {
        "src/DataStreamRequest.swift"}
    # words after the other name make another thing (a builder of Gson), not a kind of it
    assert variant_files({"gson/GsonBuilder.java", "gson/Gson.java"}, plan) == set()
    # only a file beside it; an abstract or default one is the general one; generic names are no base
    assert variant_files({"a/DataRequest.swift", "b/Request.swift"}, plan) == set()
    assert variant_files({"Handler/AbstractHandler.php", "Handler/Handler.php"}, plan) == set()
    assert variant_files({"pkg/my_utils.py", "pkg/utils.py"}, plan) == set()


def test_demotion_applies_unless_the_query_asks_for_it():
    test_hit = hit(path="tests/test_parser.py")
    assert demotions(test_hit, plan_query("parse the config"))["demote_tests"] < 1.0
    assert demotions(test_hit, plan_query("tests for the config parser")) == {}
    bench_hit = hit(path="benches/parser.rs", language="rust")
    assert demotions(bench_hit, plan_query("parse the config"))["demote_benchmarks"] == DEMOTIONS["benchmarks"]
    assert demotions(bench_hit, plan_query("parser benchmarks")) == {}


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
    assert definition.explain["definition_boost"] == EXACT_DEFINITION_BOOST * EXACT_CASE_BOOST
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


def test_for_prose_queries_every_further_chunk_of_a_file_supports_it_with_a_decay():
    # One strong chunk in one file, one weaker chunk and many further matches in another: for a prose
    # query the file that many chunks match is the one about the topic; for a symbol query only the
    # next FILE_SUPPORT_CHUNKS count, and the strong single chunk stays first.
    def candidates():
        return [hit(path="one.py", score=1.0), hit(path="topic.py", score=0.8),
                *(hit(path="topic.py", score=0.3) for _ in range(8))]

    prose = aggregate_files(candidates(), 10, plan_query("how are the retries of failed uploads scheduled"))
    assert [f.path for f in prose] == ["topic.py", "one.py"]
    weights = sum(FILE_SUPPORT_WEIGHT * PROSE_SUPPORT_DECAY ** n for n in range(8))
    assert prose[0].score == pytest.approx(0.8 + 0.3 * weights)
    symbol = aggregate_files(candidates(), 10, plan_query("schedule_retry"))
    assert [f.path for f in symbol] == ["one.py", "topic.py"]
    assert symbol[1].score == pytest.approx(0.8 + FILE_SUPPORT_WEIGHT * 0.3 * FILE_SUPPORT_CHUNKS)


def test_a_query_describing_one_functions_behaviour_leans_on_its_best_chunk():
    # The same candidates as above: described as behaviour, as a docstring would, the one strong chunk
    # answers, and further chunks of the other file count less; named as a subject, they decide.
    def candidates():
        return [hit(path="one.py", score=1.0), hit(path="retries.py", score=0.8),
                *(hit(path="retries.py", score=0.3) for _ in range(8))]

    behaviour = plan_query("Schedules the retries of failed uploads")
    assert behaviour.behaviour
    described = aggregate_files(candidates(), 10, behaviour)
    assert [f.path for f in described] == ["one.py", "retries.py"]
    weights = sum(FILE_SUPPORT_WEIGHT * BEHAVIOUR_SUPPORT_DECAY ** n for n in range(8))
    assert described[1].score == pytest.approx(0.8 + 0.3 * weights)
    subject = aggregate_files(candidates(), 10, plan_query("scheduling of retries of failed uploads"))
    assert [f.path for f in subject] == ["retries.py", "one.py"]


def test_a_file_named_for_the_query_is_not_boosted_when_the_query_describes_behaviour():
    named = hit(path="src/retries.py")
    assert file_words_boost(named, plan_query("retries of failed uploads")) == 1.0 + FILE_WORDS_BOOST
    assert file_words_boost(named, plan_query("Computes the retries of failed uploads")) == 1.0


def test_a_class_named_wholly_by_a_prose_query_is_not_demoted_as_a_container():
    # The class whose name is the query's words is the answer although it holds a matching method; a
    # class named otherwise still sinks below what it holds.
    plan = plan_query("JSON element tree model")
    named = hit(path="JsonElement.java", kind="class", symbol="JsonElement", lines=(1, 100), score=1.0)
    inner = hit(path="JsonElement.java", kind="method", symbol="JsonElement.deepCopy", lines=(10, 20), score=0.5)
    other = hit(path="Streams.java", kind="function", symbol="write", lines=(1, 30), score=1.6)
    holder = hit(path="Gson.java", kind="class", symbol="Gson", lines=(1, 100), score=1.2)
    held = hit(path="Gson.java", kind="method", symbol="Gson.toJsonTree", lines=(30, 40), score=0.4)
    ranked = adjust([other, holder, named, inner, held], plan)
    assert ranked[0] is named and "container_demotion" not in named.explain
    assert named.explain["definition_boost"] == pytest.approx(1 + NAME_OVERLAP_BOOST)
    assert holder.explain["container_demotion"] == CONTAINER_DEMOTION


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


def test_a_file_chunk_declaring_the_symbol_beats_one_that_only_uses_it():
    # zod's v4 `export interface ZodObject` lives in file chunks: the chunker cuts no definition for it.
    plan = plan_query("ZodObject")
    user = hit(kind="file", path="v4/core/api.ts", language="typescript",
               text="function object(): ZodObject { return new ZodObject(ZodObject.shape); }", score=1.0)
    declaring = hit(kind="file", path="v4/classic/schemas.ts", language="typescript",
                    text="export interface ZodObject<Shape> extends ZodType {}", score=0.8)
    ranked = adjust([user, declaring], plan)
    assert ranked[0] is declaring and declaring.explain["declares"] == DECLARES_BOOST
    assert "declares" not in user.explain
    # PHP/JS names may carry a "$"; a longer name that starts with the symbol is not a declaration.
    assert declares(hit(kind="file", text="export interface $ZodObject {}"), plan) == DECLARES_BOOST
    assert declares(hit(kind="file", text="class ZodObjectDef {}"), plan) == 1.0


def test_a_name_assigned_at_module_level_is_declared_there():
    # flask's globals.py defines `g` and `session` as module globals, which the chunker does not cut out.
    plan = plan_query("g")
    globals_py = hit(kind="file", path="flask/globals.py", text="import x\ng: _AppCtxGlobals = LocalProxy(_cv_app)\n",
                     score=0.8)
    user = hit(kind="file", path="flask/ctx.py", text="def push(self):\n    g = self.g\n    if g == other: g.x = 1\n",
               score=1.0)
    ranked = adjust([user, globals_py], plan)
    assert ranked[0] is globals_py and globals_py.explain["declares"] == DECLARES_BOOST
    assert "declares" not in user.explain  # indented: a local of some function
    assert declares(hit(kind="file", language="bash", text="NVM_DIR=\"$HOME/.nvm\"\n"), plan_query("NVM_DIR")) \
        == DECLARES_BOOST
    # A comparison is no assignment, nor is a name in a language whose top-level assignments need a keyword.
    assert declares(hit(kind="file", text="g == 1\n"), plan) == 1.0
    assert declares(hit(kind="file", language="javascript", text="g = 1\n"), plan) == 1.0


def test_a_cpp_forward_declaration_is_not_the_declaring_file():
    # fmtlib: args.h only names `basic_format_args` ahead (a friend); base.h defines the class template.
    plan = plan_query("basic_format_args")
    ahead = hit(kind="file", path="include/fmt/args.h", language="cpp", score=1.2,
                text="template <typename Context> class basic_format_args;\n"
                     "class dynamic_format_arg_store {\n  friend class basic_format_args<Context>;\n};")
    defining = hit(kind="file", path="include/fmt/base.h", language="cpp", score=1.0,
                   text="template <typename Context> class basic_format_args {\n  int size_;\n};")
    assert adjust([ahead, defining], plan) == [defining, ahead]
    assert "declares" not in ahead.explain and defining.explain["declares"] == DECLARES_BOOST
    assert declares(hit(kind="file", language="c", text="struct uv_loop_s;"), plan_query("uv_loop_s")) == 1.0
    # In Rust `struct Marker;` defines a unit struct.
    assert declares(hit(kind="file", language="rust", text="pub struct Marker;"), plan_query("Marker")) == DECLARES_BOOST


def test_the_file_named_after_the_symbol_is_boosted():
    plan = plan_query("SqlMapper")
    assert file_name_boost(hit(path="Dapper/SqlMapper.cs"), plan) == FILE_NAME_BOOST
    assert file_name_boost(hit(path="Dapper/SqlMapper.GridReader.cs"), plan) == 1.0
    assert file_name_boost(hit(path="lib/plug/conn.ex"), plan_query("Conn")) == FILE_NAME_BOOST
    assert file_name_boost(hit(path="httpx/_urls.py"), plan_query("URL")) == FILE_NAME_BOOST  # "_", plural
    assert file_name_boost(hit(path="lib/application.js"), plan_query("how routes are registered")) == 1.0


def test_docs_and_config_sink_below_code_unless_asked_for():
    plan = plan_query("shell completion generation")
    doc = hit(path="site/content/completions/_index.md", language="markdown", kind="section", score=1.0)
    config = hit(path=".github/labeler.yml", language="yaml", kind="file", score=1.0)
    code = hit(path="completions.go", language="go", score=0.5)
    assert adjust([doc, config, code], plan)[0] is code
    assert doc.explain["demote_docs"] == DEMOTIONS["docs"] and config.explain["demote_config"] == DEMOTIONS["config"]
    assert "demote_docs" not in demotions(doc, plan_query("shell completion docs"))
    assert "demote_config" not in demotions(config, plan_query("labeler workflow yaml"))


def test_the_definition_asked_for_is_not_demoted_as_a_container():
    plan = plan_query("Timeout")
    cls = hit(kind="class", symbol="Timeout", lines=(72, 156), score=0.9)
    method = hit(kind="method", symbol="Timeout.as_dict", parent="Timeout", lines=(140, 150), score=1.0)
    adjust([cls, method], plan)
    assert "container_demotion" not in cls.explain
    other = hit(kind="class", symbol="Client", lines=(1, 200), score=0.9)
    inner = hit(kind="method", symbol="Client.timeout", parent="Client", lines=(20, 30), score=1.0)
    adjust([other, inner], plan)
    assert other.explain["container_demotion"] == CONTAINER_DEMOTION


def test_a_camel_case_name_made_of_the_query_words_is_boosted_like_a_snake_case_one():
    # The name's parts were taken after lower-casing it, so `JsonElement` was one word and never matched.
    plan = plan_query("JSON element hierarchy and tree model")
    assert definition_boost(hit(kind="class", symbol="JsonElement"), plan) == \
        definition_boost(hit(kind="function", symbol="json_element"), plan) == 1.0 + NAME_OVERLAP_BOOST
