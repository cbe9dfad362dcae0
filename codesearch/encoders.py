"""Loads the encoder a command needs, importing torch only then, and decides the lexical fallback.

`index` and hybrid `search` fall back to lexical-only work with one notice when the model is not
available offline; only an unavailable model falls back: a broken checkpoint is an error.
"""
from __future__ import annotations

from dataclasses import dataclass

from indexer.encoder import Encoder


@dataclass(frozen=True)
class EncoderChoice:
    encoder: Encoder | None  # None: work lexically
    notice: str | None  # one line for stderr saying why there is no encoder
    unavailable: str | None = None  # ModelNotAvailable's message (it says how to get the model)


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu"; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load(model: str, device: str, dtype: str) -> Encoder:
    """The encoder for a model folder or hub id; raises model.errors.ModelError subclasses."""
    from model import load_encoder

    return load_encoder(model, device=resolve_device(device), dtype=dtype)


def load_or_fallback(model: str, device: str, dtype: str, *, fallback: str) -> EncoderChoice:
    """Load the model, or explain in one line that the work goes on as `fallback` describes."""
    from model.errors import ModelNotAvailable

    try:
        return EncoderChoice(load(model, device, dtype), None)
    except ModelNotAvailable as exc:
        notice = f"model {model} is not available offline, so {fallback}; give a model folder with --model"
        return EncoderChoice(None, notice, unavailable=str(exc))
