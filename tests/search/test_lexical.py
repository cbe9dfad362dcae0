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


def test_a_query_word_in_the_path_outweighs_the_same_word_repeated_in_another_body(tmp_path):
    """The column weights decide: `session/cookie.py` names the word once, in its path; `util.py` says it
    three times in a body of the same length. With the path column weighted as the body (1, 1, 1) the
    repeated body word wins; with FTS_WEIGHTS the file named for it does."""
    from indexer import bm25
    from indexer.index import open_index
    from indexer.pipeline import IndexOptions, index_repository

    repo = tmp_path / "repo"
    (repo / "src" / "session").mkdir(parents=True)
    (repo / "src" / "session" / "cookie.py").write_text(
        "def save(jar, store):\n    store.put(jar.dump(), expires=jar.max_age)\n    return store\n")
    (repo / "src" / "util.py").write_text(
        "def helper(jar, box):\n    box.put('cookie cookie cookie', jar.max_age)\n    return box\n")
    index_repository(repo, repo / ".codesearch", None, IndexOptions())
    index = open_index(repo / ".codesearch")
    paths = dict(index.conn.execute("SELECT id, path FROM chunks"))

    def best(weights):
        score_sql = f"-bm25(chunks_fts, {', '.join(map(str, weights))})"
        rows = index.conn.execute(f"SELECT rowid, {score_sql} AS s FROM chunks_fts WHERE chunks_fts MATCH 'cookie'"
                                  " ORDER BY s DESC").fetchall()
        return paths[rows[0][0]]

    assert best((1.0, 1.0, 1.0)) == "src/util.py"
    assert best(FTS_WEIGHTS) == "src/session/cookie.py"
    assert paths[bm25.ranked(index.conn, ["cookie"], 1)[0][0]] == "src/session/cookie.py"
    index.close()
