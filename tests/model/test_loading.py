"""Checkpoint resolution and loading: config styles, key and shape checks, offline hub errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.config import GLOBAL, LOCAL, ModernBertConfig
from model.errors import ModelError
from model.loading import load_weights, read_config, read_sentence_transformers, resolve_checkpoint
from model.modernbert import ModernBertModel
from tests.tinymodel import build_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def test_both_config_key_styles_read_the_same(tmp_path):
    legacy = read_config(build_tiny_checkpoint(tmp_path / "legacy", config_style="legacy"))
    new = read_config(build_tiny_checkpoint(tmp_path / "new", config_style="new"))
    assert legacy == new
    assert legacy.layer_types == (GLOBAL, LOCAL, LOCAL, GLOBAL)
    assert (legacy.global_rope_theta, legacy.local_rope_theta) == (160000.0, 10000.0)
    assert legacy.half_window == 64


def test_unsupported_config_is_a_model_error():
    with pytest.raises(ModelError, match="bert"):
        ModernBertConfig.from_dict({"model_type": "bert"})
    with pytest.raises(ModelError, match="layer_types"):
        ModernBertConfig.from_dict({"num_hidden_layers": 2, "layer_types": ["full_attention"]})


def rewrite_weights(folder, change):
    state = load_file(str(folder / "model.safetensors"))
    change(state)
    save_file(state, str(folder / "model.safetensors"))


def load(folder):
    load_weights(ModernBertModel(read_config(folder)), folder)


def test_missing_weight_is_named(tmp_path):
    folder = build_tiny_checkpoint(tmp_path, prefix="model.")
    rewrite_weights(folder, lambda s: s.pop("model.layers.2.mlp.Wi.weight"))
    with pytest.raises(ModelError, match=r"'model\.layers\.2\.mlp\.Wi\.weight' is missing"):
        load(folder)


def test_wrong_shape_is_named_with_both_shapes(tmp_path):
    folder = build_tiny_checkpoint(tmp_path)
    rewrite_weights(folder, lambda s: s.update({"layers.1.attn.Wo.weight": torch.zeros(64, 32)}))
    with pytest.raises(ModelError, match=r"'layers\.1\.attn\.Wo\.weight' has shape \(64, 32\).*\(64, 64\)"):
        load(folder)


def test_unexpected_weight_is_named_but_heads_are_ignored(tmp_path):
    folder = build_tiny_checkpoint(tmp_path, prefix="model.")
    rewrite_weights(folder, lambda s: s.update({"head.dense.weight": torch.zeros(64, 64)}))
    load(folder)  # a masked-LM head beside the encoder is fine
    rewrite_weights(folder, lambda s: s.update({"model.layers.0.attn.extra": torch.zeros(1)}))
    with pytest.raises(ModelError, match=r"unexpected weight 'model\.layers\.0\.attn\.extra'"):
        load(folder)


def test_pickled_weights_are_refused(tmp_path):
    folder = build_tiny_checkpoint(tmp_path)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="never unpickle"):
        load(folder)


def test_missing_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        resolve_checkpoint(tmp_path / "nothing-here")


def test_sentence_transformers_files(tmp_path):
    info = read_sentence_transformers(build_tiny_checkpoint(tmp_path / "a", pooling="mean", max_seq_length=100))
    assert (info.pooling, info.max_seq_length) == ("mean", 100)
    assert info.prompts == {"query": "search_query: ", "document": "search_document: "}
    bare = read_sentence_transformers(build_tiny_checkpoint(tmp_path / "b", sentence_transformers=False))
    assert (bare.pooling, bare.prompts, bare.max_seq_length) == ("mean", {}, None)


def test_offline_and_not_cached_gives_one_line_how_to(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(ROOT)}
    code = (
        "from model import load_encoder, ModelNotAvailable\n"
        "try:\n    load_encoder('Alibaba-NLP/gte-modernbert-base')\n"
        "except ModelNotAvailable as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    message = result.stdout.strip()
    assert result.returncode == 0, result.stderr
    assert "\n" not in message and "Alibaba-NLP/gte-modernbert-base" in message
    assert "folder" in message and "download" in message
