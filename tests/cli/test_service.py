"""The server's core in-process (no subprocess): request parsing, find_related, following another
writer, and which file changes the watcher lets through."""
from __future__ import annotations

import shutil
import socket
import time

import pytest

from codesearch import client, operations
from codesearch.core import SearchRequest, request_from_params
from codesearch.errors import UsageProblem
from codesearch.service import IndexService
from codesearch.settings import load_settings
from codesearch.watch import relevant


def _service(root) -> IndexService:
    return IndexService(root, load_settings(root), model_chosen=False)


def test_search_arguments_take_one_kind_or_a_list_and_reject_unknown_ones():
    assert request_from_params({"query": "x", "kind": "method"}).kinds == ("method",)
    assert request_from_params({"query": "x", "kind": ["class", "file"], "k": 3}).kinds == ("class", "file")
    assert request_from_params(SearchRequest("x", k=2, langs=("go",)).params()) == SearchRequest("x", 2, langs=("go",))
    for bad, message in (({"query": "x", "limit": 3}, "unknown search argument 'limit'"), ({"k": 3}, "needs a query"),
                         ({"query": "x", "kind": "module"}, "kind must be one of"),
                         ({"query": "x", "mode": "fuzzy"}, "mode must be one of"), ({"query": " "}, "empty")):
        with pytest.raises(UsageProblem, match=message):
            request_from_params(bad)


def test_find_related_without_vectors_returns_lexical_neighbours_but_not_the_chunk_or_its_file(repo, cli):
    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    service = _service(repo)
    related = operations.find_related(service, {"path": "src/rate_limiter.ex", "line": 10, "k": 5})
    assert related["by"] == "lexical" and 0 < len(related["hits"]) <= 5
    assert not [h for h in related["hits"] if h["path"] == "src/rate_limiter.ex"
                and h["line_span"]["start"] <= 10 <= h["line_span"]["end"]]  # neither the chunk nor around it
    with pytest.raises(UsageProblem, match="line"):
        operations.find_related(service, {"path": "src/rate_limiter.ex", "line": 0})


def test_the_service_follows_another_writers_update_and_a_rebuild_from_scratch(indexed, cli):
    service = _service(indexed)
    opened = service.index
    before = service.index.vectors.ntotal
    (indexed / "src" / "added.py").write_text("def capybara_xylophone_tuner():\n    return 1\n")
    assert cli("index", indexed, "--quiet").exit_code == 0
    found = service.search(SearchRequest("capybara xylophone tuner", mode="semantic", k=3))
    assert "src/added.py" in {h.path for h in found.hits}
    assert service.index is opened and service.index.vectors.ntotal > before  # caught up in memory

    shutil.rmtree(indexed / ".codesearch")
    (indexed / "src" / "added.py").unlink()
    assert cli("index", indexed, "--quiet").exit_code == 0
    found = service.search(SearchRequest("capybara xylophone tuner", mode="semantic", k=50))
    assert service.index is not opened  # a new database file: opened anew
    assert "src/added.py" not in {h.path for h in found.hits}
    service.close()


def test_the_watcher_lets_through_changes_to_indexed_or_indexable_files_only(indexed):
    (indexed / "build" / "out.py").write_text("x = 1\n")  # build/ is in the fixture's .gitignore
    (indexed / "src" / "new.py").write_text("y = 2\n")
    service = _service(indexed)
    assert not relevant(service, {"build/out.py"})  # ignored as `codesearch index` ignores it
    assert not relevant(service, {"src/gone_long_ago.py"})  # neither on disk nor in the index
    assert relevant(service, {"src/new.py"})  # a new file the index would take
    assert relevant(service, {"build/out.py", "src/rate_limiter.ex"})  # an indexed file (changed or deleted)
    assert relevant(service, {"docs/.gitignore"})  # the rules themselves changed
    service.close()


def test_a_socket_deeper_than_a_socket_address_holds_still_binds_and_connects(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / client.SOCKET_NAME
    with socket.socket(socket.AF_UNIX) as listener, socket.socket(socket.AF_UNIX) as caller:
        with client.bindable(path) as address:
            listener.bind(address)
        listener.listen()
        with client.bindable(path) as address:
            caller.connect(address)
        assert path.exists() and len(str(path)) > 108


def test_the_server_embeds_queries_as_the_cli_does_and_documents_at_the_configured_precision(tiny_indexed,
                                                                                              tiny_checkpoint):
    import dataclasses

    import numpy as np

    from model import load_encoder
    from model.encoder import Encoder
    from model.query import load_query_encoder

    service = _service(tiny_indexed)
    assert isinstance(service.encoder, Encoder) and service.encoder.dtype == "float32"
    queries = ["parse the config", "token bucket rate limiter"]
    np.testing.assert_allclose(service.encoder.embed_queries(queries),
                               load_query_encoder(tiny_checkpoint).embed_queries(queries), atol=1e-5)
    (tiny_indexed / "src" / "added.py").write_text("def capybara_xylophone_tuner():\n    return 1\n")
    assert service.reindex().files_new == 1
    assert service._document_encoder().dtype == load_encoder(tiny_checkpoint, dtype="auto").dtype  # as `index`
    assert "src/added.py" in {h.path for h in service.search(SearchRequest("capybara xylophone tuner")).hits}
    service.close()

    settings = dataclasses.replace(load_settings(tiny_indexed), dtype="float32")
    service = IndexService(tiny_indexed, settings, model_chosen=False)
    assert service._document_encoder() is service.encoder  # one model in memory
    service.close()


def test_the_warm_up_keeps_the_common_terms_and_answers_stay_those_of_a_cold_search(repo, cli):
    from indexer.bm25 import common_terms
    from indexer.index import open_index
    from indexer.search import SearchOptions, search

    assert cli("index", repo, "--lexical-only", "--quiet").exit_code == 0
    service = _service(repo)
    service.warm_up().join(timeout=120)
    common = common_terms(service.index_dir / "index.sqlite")
    assert service.warmed_terms and 0 < service.warmed_terms <= len(common)
    kept = set(service.index.term_cache._terms)
    assert kept and kept <= set(common)  # only the index's own tokens, each its own stem
    cold = open_index(service.index_dir)
    for query in ("return the value", "refill the token bucket", "parse_config", "temperatures converted"):
        warm = service.search(SearchRequest(query, mode="lexical")).hits
        assert [(h.chunk_id, h.score) for h in warm] == [
            (h.chunk_id, h.score) for h in search(cold, query, None, SearchOptions(mode="lexical", root=str(repo))).hits]
    cold.close()

    (repo / "src" / "zoo.py").write_text("def zebra_return():\n    return 'return'\n")
    assert cli("index", repo, "--quiet").exit_code == 0  # another writer: the kept scores go, then come back
    assert "src/zoo.py" in {h.path for h in service.search(SearchRequest("zebra return", mode="lexical")).hits}
    deadline = time.monotonic() + 120
    while service.warmed_terms is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # after a change, only the words queries asked for are computed again, not the whole vocabulary
    assert 0 < service.warmed_terms <= len(service.index.term_cache.asked) < len(common)
    service.close()
