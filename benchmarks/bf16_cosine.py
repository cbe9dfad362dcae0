"""How exact is bfloat16? Our bf16 encoder against transformers' own bf16 autocast, both vs float32.

Two sets of base-size random weights: those of benchmarks/encoder.py (scaled so every layer moves the
residual stream as trained weights do) and transformers' own initialisation (which barely moves it).
Prints the pooled (CLS) cosine of each bf16 run against the float32 reference.

    python benchmarks/bf16_cosine.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from encoder import BASE, PAD, random_sequences, run_ours, run_reference  # noqa: E402
from model.config import ModernBertConfig  # noqa: E402
from model.encoder import set_precision  # noqa: E402
from model.modernbert import ModernBertModel  # noqa: E402
from tests.tinymodel import random_state_dict  # noqa: E402


def main() -> None:
    from transformers import ModernBertConfig as HFConfig
    from transformers import ModernBertModel as HFModel

    hf_config = HFConfig(**BASE, pad_token_id=PAD)
    hf_config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    reference = HFModel(hf_config).eval()
    weights = {
        "scaled random weights": random_state_dict(
            hidden=768, layers=22, intermediate=1152, vocab=50368, bias=False, seed=0
        ),
        "transformers' own init": {k: v.clone() for k, v in reference.state_dict().items()},
    }
    rng = torch.Generator().manual_seed(0)
    sequences = random_sequences(torch.randint(16, 513, (16,), generator=rng).tolist(), rng)
    for label, state in weights.items():
        reference.load_state_dict(state, strict=True)
        ours = ModernBertModel(ModernBertConfig.from_dict({**BASE, "pad_token_id": PAD}))
        ours.load_checkpoint_state(state)
        set_precision(ours.eval(), "bfloat16")
        truth = run_reference(reference, sequences)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = run_reference(reference, sequences)
        mine = run_ours(ours, sequences, 16384)
        for name, pooled in (("transformers bf16 autocast", autocast), ("ours bf16", mine)):
            cos = torch.nn.functional.cosine_similarity(pooled, truth)
            print(f"{label:>22} | {name:>26}: cosine vs float32 min {cos.min():.7f} mean {cos.mean():.7f}")

if __name__ == "__main__":
    main()
