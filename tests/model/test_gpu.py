"""The CUDA path (flash-attn varlen when installed, else SDPA) against the CPU float32 path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model import load_encoder
from model.attention import flash_attn_varlen_func, use_flash

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

TEXTS = ["def f(x): return x", "class Reader:\n    def read(self): pass\n" * 30, "x"]


@pytest.mark.parametrize("dtype,tolerance", [("float32", 1e-4), ("bfloat16", 1e-2)])
def test_cuda_embeddings_match_cpu_float32(tiny_checkpoint, dtype, tolerance):
    cpu = load_encoder(tiny_checkpoint, device="cpu", dtype="float32").embed_documents(TEXTS)
    gpu = load_encoder(tiny_checkpoint, device="cuda", dtype=dtype).embed_documents(TEXTS)
    assert np.abs(cpu - gpu).max() < tolerance


def test_flash_is_used_only_for_cuda_half_precision():
    assert not use_flash(torch.device("cpu"), torch.bfloat16)
    assert not use_flash(torch.device("cuda"), torch.float32)
    assert use_flash(torch.device("cuda"), torch.bfloat16) == (flash_attn_varlen_func is not None)
