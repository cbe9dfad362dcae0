"""The Encoder: texts in, L2-normalised float32 embeddings out (tokenise, pack, run, pool, normalise).

`load_encoder(path_or_model_id, device="cpu", dtype="auto")` builds one from a checkpoint folder or a
Hugging Face model id. Precision (`dtype`):

- `"float32"`: exact against the reference implementation.
- `"bfloat16"`: linear layers and attention in bfloat16, the residual stream, norms and RoPE in float32.
- `"int8"`: dynamic int8 quantisation of the linear layers (CPU only), the rest in float32.
- `"auto"` (default): float32 unless the hardware runs bfloat16 natively (CPUs with AVX-512 BF16 or
  AMX, CUDA GPUs with bf16 support). There, when the checkpoint is loaded, the probe texts below are
  embedded in both precisions and bfloat16 is kept only if every pooled cosine against float32 is
  >= 0.9999 (`encoder.auto_cosine` records the measured minimum); otherwise float32 is used. int8
  loses more than that (see BENCHMARKS.md), so auto never picks it. The decision is remembered per
  checkpoint fingerprint, device, torch version and probe (`model/cache.py`), so only the first load
  on a machine runs the probe.

The model is built without random initialisation (its parameters are created on torch's meta device)
and then given the checkpoint's tensors, which safetensors memory-maps: the weights are read once.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import warnings
from typing import Sequence

import numpy as np
import torch
from torch import nn

from model import cache
from model.allocator import keep_freed_memory
from model.errors import ModelError
from model.loading import (
    SentenceTransformersInfo,
    check_tokenizer,
    check_weight_shapes,
    load_tokenizer,
    load_weights,
    read_config,
    read_sentence_transformers,
    resolve_checkpoint,
    weight_files,
    weights_fingerprint,
)
from model.modernbert import ModernBertModel
from model.packing import pack_sequences

DEFAULT_MODEL_ID = "Alibaba-NLP/gte-modernbert-base"
AUTO_MIN_COSINE = 0.9999  # "auto" keeps a reduced precision only if its pooled cosine vs float32 is this close
# Code and prose of several lengths (one past the 129-token local window) on which "auto" checks a
# reduced precision against float32 when the checkpoint is loaded.
PROBE_TEXTS = [
    "search_query: how do I read a config file",
    "def parse_config(path):\n    with open(path) as f:\n        return json.load(f)\n",
    "func (s *Server) Close() error {\n\treturn s.listener.Close()\n}\n",
    "class LRUCache:\n    \"\"\"Keeps the most recently used items.\"\"\"\n"
    + "".join(f"    def method_{i}(self, key, value=None):\n        return self.items.get(key, value)\n" for i in range(12)),
]
DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16", "int8": "int8"}


class Encoder:
    """A loaded ModernBERT embedding model; satisfies the indexer's `Encoder` protocol."""

    def __init__(
        self,
        model: ModernBertModel,
        tokenizer,
        info: SentenceTransformersInfo,
        *,
        model_id: str,
        fingerprint: str,
        device: torch.device,
        dtype: str,
        truncate_dim: int | None = None,
        token_budget: int = 16384,
    ):
        self.model, self.tokenizer, self.info = model, tokenizer, info
        self.model_id, self.device, self.dtype = model_id, device, dtype
        config = model.config
        self.max_tokens = min(config.max_position_embeddings, info.max_seq_length or config.max_position_embeddings)
        if truncate_dim is not None and not 0 < truncate_dim <= config.hidden_size:
            raise ModelError(f"truncate_dim must be between 1 and {config.hidden_size}, not {truncate_dim}")
        self.dim = truncate_dim or config.hidden_size  # Matryoshka truncation keeps the first `dim` values
        # Weights and width only: bf16 and float32 vectors of one model are interchangeable (cosine
        # >= 0.9999), so moving an index to a machine that picks another precision needs no re-embedding.
        self.fingerprint = f"{fingerprint}-{self.dim}"
        self.token_budget = max(token_budget, self.max_tokens)
        self.truncated_inputs = 0  # inputs cut to max_tokens by the last embed call
        self.auto_cosine: float | None = None  # the probe's cosine when dtype="auto" chose a precision

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text as `embed_documents` sees it (prompt and special tokens included)."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(self._with_prompt("document", texts))]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(self._with_prompt("document", texts), self._pooled_from("document"))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(self._with_prompt("query", texts), self._pooled_from("query"))

    def embed(self, texts: Sequence[str], pooled_from: int = 0) -> np.ndarray:
        """float32 `(len(texts), dim)`, L2-normalised, in input order; no prompt is added.

        Mean pooling starts at token `pooled_from` of each text (see `_pooled_from`).
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [self._truncate(e.ids) for e in self.tokenizer.encode_batch(list(texts))]
        self.truncated_inputs = sum(truncated for _, truncated in ids)
        sequences = [seq for seq, _ in ids]
        for batch in pack_sequences([len(s) for s in sequences], self.token_budget):
            pooled = self.pool_batch([sequences[i] for i in batch], pooled_from)
            out[batch] = pooled.numpy()
        bad = int(np.count_nonzero(~np.isfinite(out).all(axis=1)))
        if bad:  # stored, a NaN vector would make semantic search find nothing, without a word
            raise ModelError(f"{self.model_id} made non-finite embeddings (NaN or inf) for {bad} of {len(texts)} "
                             "texts: its weights hold non-finite values or overflow in this precision")
        return out

    @torch.inference_mode()
    def pool_batch(self, sequences: list[list[int]], pooled_from: int = 0) -> torch.Tensor:
        """Pooled, truncated, L2-normalised float32 embeddings of token-id sequences, on the CPU."""
        seqlens = [len(s) for s in sequences]
        input_ids = torch.tensor([t for s in sequences for t in s], dtype=torch.long, device=self.device)
        hidden = self.model(input_ids, seqlens)  # (total_tokens, hidden)
        pooled = pool(hidden, seqlens, self.info.pooling, pooled_from)[:, : self.dim]  # (batch, dim)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu()

    def _with_prompt(self, kind: str, texts: Sequence[str]) -> list[str]:
        prompt = self.info.prompts.get(kind, "")
        return [prompt + t for t in texts]

    def _pooled_from(self, kind: str) -> int:
        """Tokens that mean pooling skips: with include_prompt false, [CLS] and the prompt's tokens,
        counted the way sentence-transformers counts them (the prompt tokenised alone, less [SEP])."""
        prompt = self.info.prompts.get(kind, "")
        if self.info.pooling != "mean" or self.info.include_prompt or not prompt:
            return 0
        return len(self.tokenizer.encode(prompt).ids) - 1

    def _truncate(self, ids: list[int]) -> tuple[list[int], bool]:
        """Keep the first max_tokens - 1 tokens and the closing special token ([SEP])."""
        if len(ids) <= self.max_tokens:
            return ids, False
        return ids[: self.max_tokens - 1] + ids[-1:], True


def pool(hidden: torch.Tensor, seqlens: list[int], mode: str, pooled_from: int = 0) -> torch.Tensor:
    """sentence-transformers pooling of packed hidden states: CLS = first token, mean = over all tokens
    from `pooled_from` on (at least the last token of each sequence)."""
    lengths = torch.tensor(seqlens, device=hidden.device)
    starts = torch.cumsum(lengths, 0) - lengths
    if mode == "cls":
        return hidden[starts]  # (batch, hidden)
    seq_index = torch.repeat_interleave(torch.arange(len(seqlens), device=hidden.device), lengths)
    skipped = torch.clamp(lengths - 1, max=pooled_from)  # (batch,)
    kept = torch.arange(hidden.shape[0], device=hidden.device) - starts[seq_index] >= skipped[seq_index]
    sums = hidden.new_zeros(len(seqlens), hidden.shape[1]).index_add_(0, seq_index[kept], hidden[kept])
    return sums / (lengths - skipped)[:, None].to(hidden.dtype)  # (batch, hidden)


def resolve_dtype(dtype: str, device: torch.device) -> str:
    """The precision `dtype` names, with "auto" resolved for this device (see the module docstring)."""
    if dtype == "auto":
        if device.type == "cuda":
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
        return "bfloat16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "float32"
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or int8")
    if DTYPES[dtype] == "int8" and device.type != "cpu":
        raise ModelError("int8 dynamic quantisation runs on the CPU only")
    return DTYPES[dtype]


def set_precision(model: ModernBertModel, dtype: str) -> nn.Module:
    """Cast (or quantise) the linear layers; norms and embeddings stay float32."""
    if dtype == "bfloat16":
        for module in model.layers.modules():
            if isinstance(module, nn.Linear):
                module.to(torch.bfloat16)
        model.compute_dtype = torch.bfloat16
    elif dtype == "int8":
        with warnings.catch_warnings():  # torch deprecates eager quantisation in favour of torchao
            warnings.simplefilter("ignore")
            torch.ao.quantization.quantize_dynamic(model.layers, {nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


def load_encoder(
    path_or_model_id: str | os.PathLike = DEFAULT_MODEL_ID,
    device: str = "cpu",
    dtype: str = "auto",
    *,
    truncate_dim: int | None = None,
    token_budget: int = 16384,
) -> Encoder:
    """Load a ModernBERT embedding checkpoint (folder or Hugging Face id) for inference.

    Raises `ModelNotAvailable` when the model is neither a folder nor cached and cannot be downloaded,
    `ModelError` for a broken checkpoint or a bad option.
    """
    try:
        torch_device = torch.device(device)
    except RuntimeError:
        raise ModelError(f"unknown device {device!r}") from None
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but no CUDA GPU is available")
    precision = resolve_dtype(dtype, torch_device)
    if torch_device.type == "cpu":
        keep_freed_memory()  # large activations are reused, not page-faulted in anew (model/allocator.py)
    folder = resolve_checkpoint(path_or_model_id)
    config = read_config(folder)
    check_weight_shapes(config, folder)  # before the config sizes any allocation
    info = read_sentence_transformers(folder)
    tokenizer = load_tokenizer(folder)
    check_tokenizer(tokenizer, config, folder)
    fingerprint = cache.fingerprint(
        folder, [folder / "config.json", *weight_files(folder)], lambda: weights_fingerprint(folder)
    )
    model, cosine = load_model(config, folder, torch_device), None
    if dtype == "auto" and precision != "float32":
        key = auto_precision_key(fingerprint, torch_device, precision)
        decided = cache.auto_precision(key)
        if decided is None:
            decided = probe_precision(model, tokenizer, info.pooling, precision)
            cache.remember_auto_precision(key, *decided)
        precision, cosine = decided
    set_precision(model, precision)
    path = os.fspath(path_or_model_id)
    encoder = Encoder(
        model, tokenizer, info, model_id=str(folder) if os.path.isdir(path) else path,
        fingerprint=fingerprint, device=torch_device, dtype=precision,
        truncate_dim=truncate_dim, token_budget=token_budget,
    )
    encoder.auto_cosine = cosine
    return encoder


def load_model(config, folder, device: torch.device) -> ModernBertModel:
    """The float32 model holding the checkpoint's weights. Built on the meta device, it allocates and
    initialises nothing: the checkpoint's (memory-mapped) tensors become its parameters."""
    with torch.device("meta"):
        model = ModernBertModel(config)
    load_weights(model, folder)
    return model.eval().to(device)


def auto_precision_key(fingerprint: str, device: torch.device, candidate: str) -> str:
    """What an auto decision depends on: the weights, the hardware, torch, and the probe and its rule."""
    probe = hashlib.sha256(json.dumps([PROBE_TEXTS, AUTO_MIN_COSINE, candidate]).encode()).hexdigest()[:16]
    if device.type == "cuda":
        hardware = f"cuda {torch.cuda.get_device_name(device)}"
    else:
        hardware = f"cpu {_cpu_name()} {torch.backends.cpu.get_cpu_capability()}"
    return json.dumps([fingerprint, hardware, torch.__version__, probe])


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def probe_precision(model: ModernBertModel, tokenizer, pooling: str, candidate: str) -> tuple[str, float]:
    """Embed the probe texts in float32 and in `candidate` and keep the candidate only if every pooled
    cosine is >= AUTO_MIN_COSINE; returns (precision, min cosine) with the model left in that precision.
    Falling back needs no second load: the float32 tensors are kept aside while the candidate runs."""
    exact = probe_embeddings(model, tokenizer, pooling)
    float32_state = model.state_dict()  # references to the float32 tensors, not copies
    set_precision(model, candidate)
    cosine = float((probe_embeddings(model, tokenizer, pooling) * exact).sum(-1).min())
    if cosine >= AUTO_MIN_COSINE:
        return candidate, cosine
    model.load_state_dict(float32_state, assign=True)
    model.compute_dtype = torch.float32
    return "float32", cosine


@torch.inference_mode()
def probe_embeddings(model: ModernBertModel, tokenizer, pooling: str) -> torch.Tensor:
    """Pooled, normalised embeddings of PROBE_TEXTS, for comparing precisions of one checkpoint."""
    ids = [e.ids for e in tokenizer.encode_batch(PROBE_TEXTS)]
    lengths = [len(i) for i in ids]
    device = next(model.parameters()).device
    hidden = model(torch.tensor([t for s in ids for t in s], device=device), lengths)  # (tokens, hidden)
    return torch.nn.functional.normalize(pool(hidden, lengths, pooling), dim=-1).cpu()
