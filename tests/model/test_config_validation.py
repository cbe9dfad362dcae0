"""A model folder is untrusted input: a bad config.json, weights that do not fit it, or weights that make
non-finite vectors give one named ModelError, before any memory is allocated from the config."""
from __future__ import annotations

import json
import math
import resource

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from model import load_encoder
from model.config import ModernBertConfig
from model.errors import ModelError
from model.loading import check_weight_shapes, read_config
from tests.tinymodel import build_tiny_checkpoint


def edit_config(folder, **changes):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))
    return folder


@pytest.fixture
def folder(tmp_path):
    return build_tiny_checkpoint(tmp_path / "tiny")


def test_config_json_holding_a_list_is_a_model_error(folder):
    (folder / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(ModelError, match="JSON object"):
        read_config(folder)


@pytest.mark.parametrize("key, value, message", [
    ("hidden_size", "64", "hidden_size must be an integer"),
    ("hidden_size", 64.0, "hidden_size must be an integer"),
    ("num_hidden_layers", True, "num_hidden_layers must be an integer"),
    ("num_attention_heads", 0, "num_attention_heads must be at least 1"),
    ("hidden_size", -64, "hidden_size must be at least 1"),
    ("local_attention", -128, "local_attention must be at least 2"),
    ("local_attention", 0, "local_attention must be at least 2"),
    ("global_attn_every_n_layers", 0, "global_attn_every_n_layers must be at least 1"),
    ("pad_token_id", 512, "pad_token_id 512 is past the vocabulary"),
    ("cls_token_id", -1, "cls_token_id -1 is past the vocabulary"),
    ("norm_eps", float("nan"), "norm_eps must be a finite number above 0"),
    ("norm_eps", 0, "norm_eps must be a finite number above 0"),
    ("global_rope_theta", float("inf"), "global_rope_theta must be a finite number above 0"),
    ("norm_bias", "no", "norm_bias must be true or false"),
    ("hidden_activation", ["gelu"], "hidden_activation"),
    ("num_attention_heads", 3, "multiple of num_attention_heads"),
    ("num_attention_heads", 64, "even"),
    ("layer_types", "full_attention", "layer_types"),
    ("rope_parameters", [1], "rope_parameters"),
])
def test_bad_config_value_is_a_named_model_error(folder, key, value, message):
    edit_config(folder, **{key: value})
    with pytest.raises(ModelError, match=message):
        read_config(folder)


def test_model_error_names_the_config_file(folder):
    edit_config(folder, num_attention_heads=0)
    with pytest.raises(ModelError, match="config.json"):
        read_config(folder)


def test_default_config_is_valid():
    assert ModernBertConfig.from_dict({}).hidden_size == 768


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("hidden", [2048, 1_000_000_000])
def test_weights_smaller_than_the_config_claims_are_refused_before_allocating(folder, hidden):
    edit_config(folder, hidden_size=hidden, intermediate_size=hidden * 2)
    config = read_config(folder)
    before = peak_rss_mb()
    with pytest.raises(ModelError, match=r"has shape \(512, 64\), the config expects \(512, " + str(hidden)):
        check_weight_shapes(config, folder)
    assert peak_rss_mb() - before < 200  # hidden 2048 allocated 1.3 GB before the check; 1e9 tried 2 TB
    with pytest.raises(ModelError, match="has shape"):
        load_encoder(folder, dtype="float32")


def test_tokenizer_larger_than_the_embedding_table_is_refused(tmp_path):
    folder = build_tiny_checkpoint(tmp_path / "tiny", vocab=256)
    edit_config(folder, vocab_size=256)
    state = load_file(str(folder / "model.safetensors"))
    assert state["embeddings.tok_embeddings.weight"].shape[0] == 256
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    assert len(tokenizer["model"]["vocab"]) > 256 or pytest.skip("the tokenizer fits")
    with pytest.raises(ModelError, match="vocabulary"):
        load_encoder(folder, dtype="float32")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights_give_an_error_not_nan_vectors(folder, bad):
    state = load_file(str(folder / "model.safetensors"))
    state["layers.1.mlp.Wo.weight"][0, 0] = bad
    save_file(state, str(folder / "model.safetensors"))
    encoder = load_encoder(folder, dtype="float32")
    with pytest.raises(ModelError, match="non-finite"):
        encoder.embed_documents(["def parse_config(path): return path"])


def test_finite_weights_embed_finite_vectors(folder):
    vectors = load_encoder(folder, dtype="float32").embed_documents(["def parse_config(path): return path"])
    assert np.isfinite(vectors).all()
