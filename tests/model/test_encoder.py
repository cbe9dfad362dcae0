"""The Encoder object: prompts, pooling, order, truncation, precision, Matryoshka, fingerprints."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model import DEFAULT_MODEL_ID, ModelError, load_encoder
from tests.model.reference import reference_hidden, reference_model
from tests.tinymodel import build_tiny_checkpoint

TEXTS = [
    "def parse_config(path):\n    return load(path)\n",
    "x",
    "class Reader:\n    def read(self, stream):\n        return stream.read()\n" * 12,  # > 65 tokens
    "",
    "func Open(path string) error { return nil }",
]


@pytest.fixture(scope="module")
def encoder(tiny_checkpoint):
    return load_encoder(tiny_checkpoint, dtype="float32")


def test_interface(encoder, tiny_checkpoint):
    assert DEFAULT_MODEL_ID == "Alibaba-NLP/gte-modernbert-base"
    assert (encoder.dim, encoder.max_tokens, encoder.dtype) == (64, 8192, "float32")
    assert encoder.model_id == str(tiny_checkpoint.resolve())
    vectors = encoder.embed_documents(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 64)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.embed_documents([]).shape == (0, 64)


def test_results_come_back_in_input_order(encoder):
    together = encoder.embed_documents(TEXTS)
    alone = np.stack([encoder.embed_documents([t])[0] for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-5
    assert np.abs(encoder.embed_documents(TEXTS[::-1]) - together[::-1]).max() < 1e-5


def test_small_token_budget_gives_the_same_vectors(tiny_checkpoint, encoder):
    small = load_encoder(tiny_checkpoint, dtype="float32", token_budget=1)  # raised to max_tokens
    assert small.token_budget == small.max_tokens
    assert np.abs(small.embed_documents(TEXTS) - encoder.embed_documents(TEXTS)).max() < 1e-5


def test_prompts_are_applied(encoder):
    assert np.abs(encoder.embed_queries(["open file"]) - encoder.embed(["search_query: open file"])).max() < 1e-6
    assert np.abs(encoder.embed_documents(["open file"]) - encoder.embed(["search_document: open file"])).max() < 1e-6
    assert np.abs(encoder.embed_queries(["open file"]) - encoder.embed_documents(["open file"])).max() > 1e-3


def test_count_tokens_includes_prompt_and_special_tokens(encoder):
    (n,) = encoder.count_tokens(["x"])
    prompt = len(encoder.tokenizer.encode("search_document: ", add_special_tokens=False).ids)
    assert n == prompt + 1 + 2


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_pooling_matches_sentence_transformers_definition(tmp_path, pooling):
    folder = build_tiny_checkpoint(tmp_path, pooling=pooling)
    enc = load_encoder(folder, dtype="float32")
    ids = [e.ids for e in enc.tokenizer.encode_batch(TEXTS)]
    states = reference_hidden(reference_model(folder), ids, pad_id=3)
    pooled = torch.stack([s[0] if pooling == "cls" else s.mean(0) for s in states])
    expected = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    assert np.abs(enc.embed(TEXTS) - expected).max() < 1e-4


def test_mean_pooling_without_the_prompt(tmp_path):
    """include_prompt false (sentence-transformers): mean over the tokens after [CLS] and the prompt."""
    folder = build_tiny_checkpoint(tmp_path, pooling="mean", include_prompt=False)
    enc = load_encoder(folder, dtype="float32")
    skip = len(enc.tokenizer.encode("search_query: ", add_special_tokens=False).ids) + 1
    ids = [e.ids for e in enc.tokenizer.encode_batch(["search_query: " + t for t in TEXTS])]
    states = reference_hidden(reference_model(folder), ids, pad_id=3)
    expected = torch.nn.functional.normalize(torch.stack([s[skip:].mean(0) for s in states]), dim=-1)
    assert np.abs(enc.embed_queries(TEXTS) - expected.numpy()).max() < 1e-4


def test_long_inputs_are_truncated_and_counted(tmp_path):
    enc = load_encoder(build_tiny_checkpoint(tmp_path, max_seq_length=40), dtype="float32")
    assert enc.max_tokens == 40
    long_text = "def read(self, stream): return stream.read()\n" * 20
    vectors = enc.embed([long_text, "x"])
    assert enc.truncated_inputs == 1
    ids = enc.tokenizer.encode(long_text).ids
    expected = enc.pool_batch([ids[:39] + ids[-1:]])[0].numpy()
    assert np.abs(vectors[0] - expected).max() < 1e-6
    assert enc.count_tokens([long_text])[0] > 40  # counts are not capped: callers split on them


def test_matryoshka_truncation(tiny_checkpoint, encoder):
    short = load_encoder(tiny_checkpoint, dtype="float32", truncate_dim=16)
    full = encoder.embed_documents(TEXTS)
    expected = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
    assert short.dim == 16 and np.abs(short.embed_documents(TEXTS) - expected).max() < 1e-5
    assert short.fingerprint != encoder.fingerprint
    with pytest.raises(ModelError):
        load_encoder(tiny_checkpoint, truncate_dim=65)


def test_fingerprint_follows_the_weights(tmp_path, encoder, tiny_checkpoint):
    same = load_encoder(build_tiny_checkpoint(tmp_path / "same"), dtype="float32")
    other = load_encoder(build_tiny_checkpoint(tmp_path / "other", seed=1), dtype="float32")
    assert same.fingerprint == encoder.fingerprint
    assert other.fingerprint != encoder.fingerprint


@pytest.mark.parametrize("dtype,min_cosine", [("bfloat16", 0.999), ("int8", 0.99)])
def test_reduced_precision_stays_close_to_float32(tiny_checkpoint, encoder, dtype, min_cosine):
    reduced = load_encoder(tiny_checkpoint, dtype=dtype)
    assert reduced.dtype == dtype
    cosines = (reduced.embed_documents(TEXTS) * encoder.embed_documents(TEXTS)).sum(axis=1)
    assert cosines.min() > min_cosine


def test_auto_keeps_bfloat16_only_when_the_probe_is_close(tiny_checkpoint, monkeypatch):
    auto = load_encoder(tiny_checkpoint)
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        assert (auto.dtype, auto.auto_cosine) == ("float32", None)
        return
    assert auto.dtype == ("bfloat16" if auto.auto_cosine >= 0.9999 else "float32")
    monkeypatch.setattr("model.encoder.AUTO_MIN_COSINE", 1.01)  # nothing is that close: float32
    strict = load_encoder(tiny_checkpoint)
    assert strict.dtype == "float32" and strict.auto_cosine < 1.01
    exact = load_encoder(tiny_checkpoint, dtype="float32")
    assert np.abs(strict.embed_documents(TEXTS) - exact.embed_documents(TEXTS)).max() < 1e-6


def test_bad_options(tiny_checkpoint):
    with pytest.raises(ModelError, match="dtype"):
        load_encoder(tiny_checkpoint, dtype="float8")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA"):
            load_encoder(tiny_checkpoint, device="cuda")
