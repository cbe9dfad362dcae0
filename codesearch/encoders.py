"""Loads the encoder a command needs, importing torch only then, and tells when the model is unavailable.

A search embeds one query, which model/query.py does without torch; indexing (and `eval`) load the
torch Encoder.

`index` and hybrid `search` go on lexically, with one notice, when the model is not available offline;
only an unavailable model allows that: a broken checkpoint or a bad device is an error.
"""
from __future__ import annotations

from indexer.encoder import Encoder


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" when torch sees a GPU, else "cpu"; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load(model: str, device: str, dtype: str, batch_tokens: int = 0) -> Encoder:
    """The encoder for a model folder or hub id; raises model.errors.ModelError subclasses."""
    from model import load_encoder

    budget = {"token_budget": batch_tokens} if batch_tokens else {}
    return load_encoder(model, device=resolve_device(device), dtype=dtype, **budget)


def load_query(model: str):
    """The query side of an `Encoder` (model_id, dim, max_tokens, fingerprint, embed_queries) for a
    model folder or hub id, from model/query.py: numpy, float32, no torch."""
    from model.query import load_query_encoder

    return load_query_encoder(model)


def load_if_available(
    model: str, device: str, dtype: str, batch_tokens: int = 0, *, one_query: bool = False, queries: bool = False
) -> tuple[Encoder | None, str]:
    """(encoder, "") or, when the model cannot be had offline, (None, a one-line reason saying how to
    get it). Unless another device or a reduced precision is asked for, queries are embedded in float32,
    and so give the same vectors in every front end (within 1e-5: tests/model/test_query.py):
    - `one_query`: the process embeds one search query and nothing else, without torch (model/query.py),
      whose import would cost more than the rest of the search (BENCHMARKS.md, cold start);
    - `queries`: a long-lived process embeds many, with the torch Encoder in float32, twice as fast as
      numpy's forward pass once loaded (BENCHMARKS.md, Latency)."""
    from model.errors import ModelNotAvailable

    try:
        default_precision = device in ("auto", "cpu") and dtype in ("auto", "float32")
        if one_query and default_precision:
            return load_query(model), ""
        if queries and default_precision:
            return load(model, "cpu", "float32", batch_tokens), ""
        return load(model, device, dtype, batch_tokens), ""
    except ModelNotAvailable as exc:
        return None, " ".join(str(exc).split())
