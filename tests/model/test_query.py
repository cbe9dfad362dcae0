"""The torch-free query encoder (model/query.py) against the torch Encoder in float32."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from model import ModelError, load_encoder
from model.query import load_query_encoder
from tests.conftest import ROOT
from tests.tinymodel import build_tiny_checkpoint

QUERIES = [
    "how do I read a config file",
    "x",
    "",
    "class Reader:\n    def read(self, stream):\n        return stream.read()\n" * 12,  # past the local window
]


def assert_same_vectors(query_encoder, encoder, texts=QUERIES):
    ours, reference = query_encoder.embed_queries(texts), encoder.embed_queries(texts)
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("variant", [
    {},
    {"pooling": "mean"},
    {"pooling": "mean", "include_prompt": False},
    {"bias": True, "activation": "silu", "prefix": "model."},
    {"config_style": "new", "activation": "gelu_pytorch_tanh", "prefix": "0.auto_model."},
    {"max_seq_length": 40, "sentence_transformers": True},
])
def test_query_vectors_match_the_torch_encoder_in_float32(tmp_path, variant):
    folder = build_tiny_checkpoint(tmp_path, **variant)
    query_encoder, encoder = load_query_encoder(folder), load_encoder(folder, dtype="float32")
    assert_same_vectors(query_encoder, encoder)
    assert (query_encoder.model_id, query_encoder.dim, query_encoder.max_tokens, query_encoder.fingerprint) == (
        encoder.model_id, encoder.dim, encoder.max_tokens, encoder.fingerprint)


def test_matryoshka_truncation_matches(tiny_checkpoint):
    assert_same_vectors(load_query_encoder(tiny_checkpoint, truncate_dim=16),
                        load_encoder(tiny_checkpoint, dtype="float32", truncate_dim=16))


def test_bfloat16_weights_are_widened(tmp_path):
    folder = build_tiny_checkpoint(tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, str(folder / "model.safetensors"))
    assert_same_vectors(load_query_encoder(folder), load_encoder(folder, dtype="float32"))


def test_broken_weights_are_named(tmp_path):
    folder = build_tiny_checkpoint(tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["layers.1.attn.Wo.weight"] = torch.zeros(64, 32)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ModelError, match=r"'layers\.1\.attn\.Wo\.weight' has shape \(64, 32\)"):
        load_query_encoder(folder)
    del state["layers.1.attn.Wo.weight"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ModelError, match=r"'layers\.1\.attn\.Wo\.weight' is missing"):
        load_query_encoder(folder)
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelError, match="cannot read"):
        load_query_encoder(folder)


def test_embeds_without_importing_torch(tiny_checkpoint):
    script = ("import sys; from model.query import load_query_encoder; "
              f"v = load_query_encoder({str(tiny_checkpoint)!r}).embed_queries(['parse the config']); "
              "print(v.shape, 'torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "(1, 64) False", run.stderr
