"""Helpers that run transformers' ModernBertModel (the reference) on a tiny checkpoint folder."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from model.loading import KEY_PREFIXES


def reference_model(folder: Path):
    """transformers.ModernBertModel with the folder's weights, in float32 eval mode, SDPA attention."""
    from transformers import ModernBertConfig, ModernBertModel

    raw = json.loads((folder / "config.json").read_text())
    config = ModernBertConfig(**{k: v for k, v in raw.items() if k not in ("architectures", "model_type")})
    config._attn_implementation = "sdpa"
    model = ModernBertModel(config).eval()
    state = load_file(str(folder / "model.safetensors"))
    prefix = next(p for p in KEY_PREFIXES if p + "embeddings.tok_embeddings.weight" in state)
    model.load_state_dict({k[len(prefix):]: v for k, v in state.items()}, strict=True)
    return model


@torch.inference_mode()
def reference_hidden(model, sequences: list[list[int]], pad_id: int) -> list[torch.Tensor]:
    """Last hidden states of the real tokens of each sequence, from one padded batch."""
    longest = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    return [hidden[row, : len(seq)] for row, seq in enumerate(sequences)]
