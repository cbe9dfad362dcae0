"""Identifier-aware tokens: whole identifiers plus their parts, case-folded."""
from indexer.lexical import FTS_COLUMNS, FTS_WEIGHTS, code_tokens, fts_row, split_identifier
from indexer.types import Chunk


def test_split_identifier_handles_camel_acronyms_snake_and_digits():
    assert split_identifier("getHTTPResponse") == ["get", "http", "response"]
    assert split_identifier("snake_case") == ["snake", "case"]
    assert split_identifier("XMLHttpRequest2") == ["xml", "http", "request", "2"]
    assert split_identifier("__init__") == ["init"]
    assert split_identifier("MAX_SIZE") == ["max", "size"]


def test_code_tokens_keep_the_whole_identifier_before_its_parts():
    assert code_tokens("def parse_config(path):") == ["def", "parse_config", "parse", "config", "path"]
    assert code_tokens("HttpClient.send()") == ["httpclient", "http", "client", "send"]


def test_identifiers_in_other_scripts_stay_whole():
    assert code_tokens("größe = naïve_bayes") == ["größe", "naïve_bayes", "naïve", "bayes"]
    assert split_identifier("café_getValue") == ["café", "get", "value"]


def test_code_tokens_do_not_split_single_word_identifiers():
    assert code_tokens("return value") == ["return", "value"]


def test_fts_row_has_one_value_per_column_with_path_and_symbol_parts():
    chunk = Chunk(path="src/net/http_client.py", kind="method", symbol="HttpClient.send", parent="HttpClient",
                  language="python", start_line=1, end_line=2, start_byte=0, end_byte=10,
                  text="def send(self, request): ...", embed_text="", content_hash="h")
    row = fts_row(chunk)
    assert len(row) == len(FTS_COLUMNS) == len(FTS_WEIGHTS)
    path, symbol, body = row
    assert {"src", "net", "http_client", "http", "client", "py"} <= set(path.split())
    assert {"httpclient", "send", "http", "client"} <= set(symbol.split())
    assert "request" in body.split()
