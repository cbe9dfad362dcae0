"""Embed a search query without torch: ModernBERT's forward pass over one short sequence, in numpy.

A cold `codesearch search` embeds one query of a few tokens, and importing torch costs it more CPU time
than everything else together, the lexical search included (BENCHMARKS.md, cold start). This is the
forward pass of model/modernbert.py for a single sequence, in float32, reading the weights where
safetensors files keep them (memory-mapped, nothing copied but the rows of the query's tokens), with
the pooling, prompts and truncation of model/encoder.py. Its vectors match the torch Encoder's float32
ones (tests/model/test_query.py), and a bfloat16 index's within the cosine that auto precision demands.

Not for documents: one sequence per call, no packing, no reduced precision (the torch Encoder does those).
Checkpoint layout as stored: q and k rotate dimension i with i + head_dim / 2 ("rotate half").
"""
from __future__ import annotations

import json
import math
import mmap
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from model import cache
from model.config import LOCAL, ModernBertConfig
from model.errors import ModelError
from model.loading import (
    KEY_PREFIXES,
    load_tokenizer,
    read_config,
    read_sentence_transformers,
    resolve_checkpoint,
    weight_files,
    weights_fingerprint,
)

# safetensors dtype names -> numpy; BF16 is widened to float32 by hand (numpy has no bfloat16).
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16, "I64": np.int64,
           "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


class SafetensorsWeights:
    """The tensors of a checkpoint's safetensors files as float32 arrays over one read-only mmap each."""

    def __init__(self, files: Sequence[Path]):
        self.arrays: dict[str, np.ndarray] = {}
        for file in files:
            try:
                with open(file, "rb") as f:
                    view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                (length,) = np.frombuffer(view, dtype="<u8", count=1)
                header = json.loads(bytes(view[8 : 8 + int(length)]))
                base = 8 + int(length)
                for key, entry in header.items():
                    if key == "__metadata__":
                        continue
                    begin, end = entry["data_offsets"]
                    count = math.prod(entry["shape"])
                    data = np.frombuffer(view, dtype=_DTYPES[entry["dtype"]], count=count, offset=base + begin)
                    if data.nbytes != end - begin:
                        raise ValueError(f"{key}: {end - begin} bytes for shape {entry['shape']}")
                    self.arrays[key] = data.reshape(entry["shape"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ModelError(f"cannot read {file}: {exc}") from None

    def float32(self, key: str) -> np.ndarray:
        array = self.arrays[key]
        if array.dtype == np.uint16:  # bfloat16: the high half of a float32
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array.astype(np.float32, copy=False)


def expected_shapes(config: ModernBertConfig) -> dict[str, tuple[int, ...]]:
    """Every weight of the encoder (checkpoint key names, no prefix) and its shape."""
    hidden, inter = config.hidden_size, config.intermediate_size
    shapes = {"embeddings.tok_embeddings.weight": (config.vocab_size, hidden)}

    def norm(name: str) -> None:
        shapes[f"{name}.weight"] = (hidden,)
        if config.norm_bias:
            shapes[f"{name}.bias"] = (hidden,)

    def linear(name: str, n_out: int, n_in: int, bias: bool) -> None:
        shapes[f"{name}.weight"] = (n_out, n_in)
        if bias:
            shapes[f"{name}.bias"] = (n_out,)

    norm("embeddings.norm")
    for i in range(config.num_hidden_layers):
        if i:
            norm(f"layers.{i}.attn_norm")
        linear(f"layers.{i}.attn.Wqkv", 3 * hidden, hidden, config.attention_bias)
        linear(f"layers.{i}.attn.Wo", hidden, hidden, config.attention_bias)
        norm(f"layers.{i}.mlp_norm")
        linear(f"layers.{i}.mlp.Wi", 2 * inter, hidden, config.mlp_bias)
        linear(f"layers.{i}.mlp.Wo", hidden, inter, config.mlp_bias)
    norm("final_norm")
    return shapes


class QueryEncoder:
    """Embeds queries like `Encoder.embed_queries`, one at a time, in float32 numpy."""

    def __init__(self, folder: Path, *, model_id: str, fingerprint: str, truncate_dim: int | None = None):
        self.config = config = read_config(folder)
        self.info = read_sentence_transformers(folder)
        self.tokenizer = load_tokenizer(folder)
        self.model_id = model_id
        self.max_tokens = min(config.max_position_embeddings, self.info.max_seq_length or config.max_position_embeddings)
        if truncate_dim is not None and not 0 < truncate_dim <= config.hidden_size:
            raise ModelError(f"truncate_dim must be between 1 and {config.hidden_size}, not {truncate_dim}")
        self.dim = truncate_dim or config.hidden_size
        self.fingerprint = f"{fingerprint}-{self.dim}"  # as Encoder.fingerprint
        self.activation = _ACTIVATIONS.get(config.hidden_activation)
        if self.activation is None:
            raise ModelError(f"unsupported hidden_activation {config.hidden_activation!r} in config.json")
        self._weights = SafetensorsWeights(weight_files(folder))
        arrays = self._weights.arrays
        anchor = "embeddings.tok_embeddings.weight"
        self._prefix = next((p for p in KEY_PREFIXES if p + anchor in arrays), None)
        if self._prefix is None:
            raise ModelError(f"{folder}: no {anchor} in the weights under any of the prefixes {list(KEY_PREFIXES)}")
        self._shapes = expected_shapes(config)  # other tensors in the files (heads) are never read
        for key, shape in self._shapes.items():
            name = self._prefix + key
            if name not in arrays:
                raise ModelError(f"{folder}: weight {name!r} is missing from the checkpoint")
            if arrays[name].shape != shape:
                raise ModelError(f"{folder}: weight {name!r} has shape {arrays[name].shape}, the config expects {shape}")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """float32 `(len(texts), dim)`, L2-normalised: the query prompt added, as Encoder.embed_queries."""
        prompt = self.info.prompts.get("query", "")
        pooled_from = 0
        if self.info.pooling == "mean" and not self.info.include_prompt and prompt:
            pooled_from = len(self.tokenizer.encode(prompt).ids) - 1  # as Encoder._pooled_from
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self.tokenizer.encode(prompt + text).ids
            if len(ids) > self.max_tokens:  # keep the closing [SEP], as Encoder._truncate
                ids = ids[: self.max_tokens - 1] + ids[-1:]
            # Matrices of a few rows: more BLAS threads add little but spin-wait (5x the CPU time
            # on a busy 2-core machine).
            with threadpool_limits(1, user_api="blas"):
                hidden = self.forward(ids)  # (tokens, hidden)
            if self.info.pooling == "cls":
                pooled = hidden[0]
            else:
                pooled = hidden[min(len(ids) - 1, pooled_from):].mean(axis=0)
            pooled = pooled[: self.dim]
            out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out

    def forward(self, ids: list[int]) -> np.ndarray:
        """Final hidden states `(tokens, hidden)` of one sequence (model/modernbert.py, unpacked)."""
        config = self.config
        n, heads, head_dim = len(ids), config.num_attention_heads, config.head_dim
        x = self._norm(self._embedding_rows(ids), "embeddings.norm")  # (n, hidden)
        positions = np.arange(n, dtype=np.float32)
        outside_window = np.abs(positions[:, None] - positions[None, :]) > config.half_window  # (n, n)
        rotations = {kind: _rotations(positions, config.rope_theta(kind), head_dim) for kind in set(config.layer_types)}
        for i, kind in enumerate(config.layer_types):
            p = f"layers.{i}."
            h = self._norm(x, p + "attn_norm") if i else x  # layer 0: the embedding norm did it
            qkv = self._linear(h, p + "attn.Wqkv").reshape(n, 3, heads, head_dim).transpose(1, 2, 0, 3)
            q, k, v = qkv  # (heads, n, head_dim) each
            cos, sin = rotations[kind]
            q, k = _rotate_half(q, cos, sin), _rotate_half(k, cos, sin)
            scores = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(head_dim))  # (heads, n, n)
            if kind == LOCAL:
                scores = np.where(outside_window, np.float32(-np.inf), scores)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attended = (scores / scores.sum(axis=-1, keepdims=True)) @ v  # (heads, n, head_dim)
            x = x + self._linear(attended.transpose(1, 0, 2).reshape(n, heads * head_dim), p + "attn.Wo")
            inputs, gate = np.split(self._linear(self._norm(x, p + "mlp_norm"), p + "mlp.Wi"), 2, axis=-1)
            x = x + self._linear(self.activation(inputs) * gate, p + "mlp.Wo")  # (n, hidden)
        return self._norm(x, "final_norm")

    def _tensor(self, key: str) -> np.ndarray:
        return self._weights.float32(self._prefix + key)

    def _embedding_rows(self, ids: list[int]) -> np.ndarray:
        table = self._weights.arrays[self._prefix + "embeddings.tok_embeddings.weight"]
        if max(ids) >= table.shape[0]:
            raise ModelError(f"token id {max(ids)} is outside the vocabulary of {table.shape[0]}")
        rows = table[np.asarray(ids)]  # only these rows of the table are read from disk
        if rows.dtype == np.uint16:
            return (rows.astype(np.uint32) << 16).view(np.float32)
        return rows.astype(np.float32)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        y = x @ self._tensor(name + ".weight").T
        return y + self._tensor(name + ".bias") if name + ".bias" in self._shapes else y

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = np.square(x - mean).mean(axis=-1, keepdims=True)
        y = (x - mean) / np.sqrt(variance + np.float32(self.config.norm_eps)) * self._tensor(name + ".weight")
        return y + self._tensor(name + ".bias") if name + ".bias" in self._shapes else y


def _rotations(positions: np.ndarray, theta: float, head_dim: int) -> tuple[np.ndarray, np.ndarray]:
    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    angles = positions[:, None] * inv_freq.astype(np.float32)  # (n, head_dim / 2)
    return np.cos(angles), np.sin(angles)


def _rotate_half(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """RoPE as checkpoints store q and k: dimension i pairs with i + head_dim / 2."""
    first, second = np.split(x, 2, axis=-1)  # (heads, n, head_dim / 2) each
    return np.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none, and float32 holds no more."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


_ACTIVATIONS = {
    "gelu": lambda x: (0.5 * x * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(np.float32),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_new": _gelu_tanh,
}


def load_query_encoder(path_or_model_id: str | os.PathLike, *, truncate_dim: int | None = None) -> QueryEncoder:
    """A QueryEncoder for a checkpoint folder or Hugging Face id (the same errors as load_encoder)."""
    folder = resolve_checkpoint(path_or_model_id)
    fingerprint = cache.fingerprint(
        folder, [folder / "config.json", *weight_files(folder)], lambda: weights_fingerprint(folder)
    )
    path = os.fspath(path_or_model_id)
    model_id = str(folder) if os.path.isdir(path) else path
    return QueryEncoder(folder, model_id=model_id, fingerprint=fingerprint, truncate_dim=truncate_dim)
