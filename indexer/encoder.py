"""The narrow interface through which the indexer and search use a text encoder, and a fake for tests.

`model.load_encoder(...)` returns an object that satisfies `Encoder`; the indexer never imports torch.
"""
from __future__ import annotations

import hashlib
import re
from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    model_id: str  # e.g. "Alibaba-NLP/gte-modernbert-base" or a local folder path
    dim: int  # embedding width after any Matryoshka truncation
    max_tokens: int  # longest input the model embeds without truncation, special tokens included
    fingerprint: str  # changes when the weights change (recorded in the index meta table)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (len(texts), dim), L2-normalised, in input order."""

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like embed_documents, with the checkpoint's query prompt applied."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token count of each text as embed_documents would see it (special tokens included)."""


_WORD = re.compile(r"[A-Za-z0-9]+")


class FakeEncoder:
    """Deterministic bag-of-words hashing encoder: no torch, no weights. For tests above the model.

    Texts sharing words get similar vectors, so semantic search over it behaves plausibly.
    """

    def __init__(self, dim: int = 64, max_tokens: int = 8192, model_id: str = "fake-encoder"):
        self.dim = dim
        self.max_tokens = max_tokens
        self.model_id = model_id
        self.fingerprint = f"{model_id}-{dim}"
        self.calls = 0  # number of texts embedded, so tests can check what was (not) re-embedded

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + 2 for t in texts]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm > 0 else np.eye(1, self.dim, 0, dtype=np.float32)
        self.calls += len(texts)
        return out

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)
