"""Query classification and the plan the later stages use."""
import pytest

from indexer.query import KEYWORD, MAX_QUERY_TERMS, MIXED, NATURAL, SYMBOL, classify_query, plan_query


@pytest.mark.parametrize("query", ["parse_config", "Foo::bar", "HttpClient.send", "getHTTPResponse",
                                   "render()", "MAX_SIZE", "HttpClient", "self->next", "os.path.join"])
def test_code_shaped_queries_are_symbols(query):
    assert classify_query(query) == SYMBOL


@pytest.mark.parametrize("query", ["how do we retry failed uploads", "Return the number of lines in the file.",
                                   "where is the config loaded"])
def test_prose_is_natural(query):
    assert classify_query(query) == NATURAL


def test_prose_naming_an_identifier_is_mixed():
    assert classify_query("where is parse_config called") == MIXED
    assert classify_query("who calls HttpClient.send on retry") == MIXED


def test_one_or_two_plain_words_are_keywords():
    assert classify_query("tokenizer") == KEYWORD
    assert classify_query("retry backoff") == KEYWORD


def test_symbol_queries_lean_lexical_and_prose_leans_semantic():
    symbol, natural = plan_query("parse_config"), plan_query("how do we retry failed uploads")
    assert symbol.lexical_weight > symbol.semantic_weight
    assert natural.semantic_weight > natural.lexical_weight


def test_plan_extracts_the_symbol_and_its_qualifier():
    plan = plan_query("HttpClient.send")
    assert plan.symbol == "send"
    assert plan.qualified_symbol == "httpclient.send"
    assert plan_query("Foo::bar").qualified_symbol == "foo.bar"
    assert plan_query("where is parse_config called").symbol == "parse_config"
    assert plan_query("how do we retry failed uploads").symbol is None


def test_plan_drops_stop_words_but_keeps_code_vocabulary():
    plan = plan_query("Return the number of lines in the file.")
    assert plan.terms == ("return", "number", "lines", "file")


def test_prose_gets_abbreviation_expansions_but_symbols_do_not():
    assert "config" in plan_query("load the configuration").expansions
    assert "init" in plan_query("initialize the database").expansions
    assert plan_query("getHTTPResponse").expansions == ()


def test_a_phrase_code_writes_as_its_initials_is_expanded_to_them():
    assert "fs" in plan_query("file system event watching").expansions
    assert "fs" in plan_query("operations on file systems").expansions  # the plural too
    assert {"std", "lib"} <= set(plan_query("standard library type implementations").expansions)
    assert "ast" in plan_query("walk the abstract syntax tree").expansions
    # only the words in that order and next to each other, and not for a symbol query
    assert "fs" not in plan_query("system file").expansions
    assert "fs" not in plan_query("file and system").expansions
    assert plan_query("FileSystem").expansions == ()


def test_a_query_of_stop_words_still_has_terms():
    assert plan_query("is it").terms == ("is", "it")


def test_asks_for_tests_and_stubs():
    assert "tests" in plan_query("tests for the parser").asks_for
    assert "stubs" in plan_query("type stub for Console").asks_for
    assert plan_query("parse the config").asks_for == frozenset()


def test_a_pasted_snippet_keeps_a_bounded_number_of_terms():
    snippet = " ".join(f"name_{i} = value_{i}" for i in range(200))
    assert len(plan_query(snippet).terms) == MAX_QUERY_TERMS


@pytest.mark.parametrize("query", ["Return the number of lines in the file.", "Parses a Cache-Control header string",
                                   "Writes a null-terminated String.", "Applies the theme to every cell",
                                   "Creates a CachePolicy instance from a serialized object"])
def test_prose_starting_with_a_verb_describes_behaviour(query):
    assert plan_query(query).behaviour


@pytest.mark.parametrize("query", ["how do we retry failed uploads", "filter handler for level-based record filtering",
                                   "log rotation and file handlers", "request context handling",
                                   "tests for the config parser", "parsing of URL query strings"])
def test_prose_naming_a_subject_does_not(query):
    assert not plan_query(query).behaviour


def test_only_prose_can_describe_behaviour():
    assert not plan_query("parse").behaviour  # one word: a keyword, or the name of a function
    assert not plan_query("parse_config").behaviour
