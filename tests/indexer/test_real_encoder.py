"""The real encoder plugs into the indexer unchanged: a tiny random ModernBERT checkpoint, its tokenizer
sizing the chunks, its vectors in FAISS."""
from __future__ import annotations

import numpy as np
import pytest

from indexer.chunking import embed_text
from indexer.pipeline import IndexOptions, index_repository
from indexer.index import open_index
from tests.indexer.helpers import consistency_problems

OPTIONS = IndexOptions(max_file_bytes=4096)


@pytest.fixture(scope="module")
def encoder(tiny_checkpoint):
    model = pytest.importorskip("model")
    return model.load_encoder(tiny_checkpoint)


def test_lexical_only_then_real_encoder(plain_repo, encoder):
    index_repository(plain_repo, plain_repo / ".codesearch", None, OPTIONS)
    summary = index_repository(plain_repo, plain_repo / ".codesearch", encoder, OPTIONS)
    assert not summary.lexical_only and summary.chunks_embedded > 0
    index = open_index(plain_repo / ".codesearch")
    assert index.meta["model_id"] == encoder.model_id and index.meta["weights_hash"] == encoder.fingerprint
    rows = index.conn.execute("SELECT id, path, symbol, text, tokens FROM chunks ORDER BY id").fetchall()
    texts = [embed_text(path, symbol, text) for _, path, symbol, text, _ in rows]
    assert [r[4] for r in rows] == encoder.count_tokens(texts)  # token counts by the real tokenizer
    sample = rows[:: max(1, len(rows) // 8)]
    expected = encoder.embed_documents([embed_text(p, s, t) for _, p, s, t, _ in sample])
    stored = np.stack([index.vectors.reconstruct(int(r[0])) for r in sample])
    # Vectors may differ in the last bits with batch composition (packed sequences): compare by cosine.
    assert np.min(np.sum(stored * expected, axis=1)) > 0.999
    assert consistency_problems(plain_repo / ".codesearch") == []
    again = index_repository(plain_repo, plain_repo / ".codesearch", encoder, OPTIONS)
    assert again.chunks_embedded == 0 and again.files_changed == 0


def test_query_encoder_finds_what_the_torch_encoder_finds(plain_repo, tiny_checkpoint):
    """A search embeds its query with model/query.py (no torch); the hits are the float32 Encoder's."""
    from indexer.search import SearchOptions, search
    from model import load_encoder
    from model.query import load_query_encoder

    exact = load_encoder(tiny_checkpoint, dtype="float32")
    index_repository(plain_repo, plain_repo / ".codesearch", exact, OPTIONS)
    index = open_index(plain_repo / ".codesearch")
    try:
        for query in ("parse the config file", "Reader", "where are tokens counted"):
            for mode in ("hybrid", "semantic"):
                options = SearchOptions(mode=mode, k=10)
                expected = search(index, query, exact, options).hits
                got = search(index, query, load_query_encoder(tiny_checkpoint), options).hits
                assert [h.chunk_id for h in got] == [h.chunk_id for h in expected]
                assert np.allclose([h.score for h in got], [h.score for h in expected], atol=1e-5)
    finally:
        index.close()
