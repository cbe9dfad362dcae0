"""Attention over a packed stream of sequences (no padding between them), on the CPU or a GPU.

Tokens of all sequences sit back to back in one `(total_tokens, heads, head_dim)` tensor, delimited by
`cu_seqlens`. Global layers attend within each sequence; local layers attend to keys with
|i - j| <= half_window within the sequence (ModernBERT: 64, i.e. 129 keys).

- Global: one SDPA call per run of equal-length sequences (the packer sorts by length, so equal
  lengths are adjacent and a run is a contiguous slice of the stream).
- Local, sequences longer than half_window + 1: blocked attention. Each sequence is cut into query
  blocks of `half_window` tokens; a block attends to itself and its two neighbours (3 blocks of keys)
  under a band mask, all blocks of all sequences in one batched SDPA call: O(n * window), not O(n^2).
  Shorter sequences fit entirely inside the window, so they take the global path.
- CUDA with flash-attn installed and half-precision tensors: flash-attn's varlen kernel, which handles
  the packed layout and the window natively. A CUDA kernel is never chosen for CPU tensors.

References: ModernBERT (Warner et al., 2024); transformers' `modeling_modernbert.py`, whose local mask
is `|i - j| < sliding_window + 1` with sliding_window = local_attention // 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

try:  # the optional GPU kernel (pip install codesearch[gpu])
    from flash_attn import flash_attn_varlen_func
except ImportError:  # CPU machines and GPUs without flash-attn use torch's SDPA below
    flash_attn_varlen_func = None


@dataclass(frozen=True)
class Run:
    """`count` sequences of `length` tokens each, stored contiguously from token `start`."""

    start: int
    count: int
    length: int


@dataclass(frozen=True)
class BlockPlan:
    """How the long sequences of a batch are cut into blocks for local attention."""

    slot_token: torch.Tensor  # (blocks * block,) token index per block slot; total_tokens = padding
    token_slot: torch.Tensor  # (long_tokens,) block slot of each token of the long sequences
    long_tokens: torch.Tensor  # (long_tokens,) token indices of the long sequences
    mask: torch.Tensor  # (blocks, 1, block, 3 * block) bool, True where attention is allowed
    block: int


@dataclass(frozen=True)
class AttentionPlan:
    """Everything the attention kernels need about a packed batch, computed once per forward."""

    seqlens: tuple[int, ...]
    cu_seqlens: torch.Tensor  # (batch + 1,) int32
    max_seqlen: int
    runs: tuple[Run, ...]
    half_window: int
    blocks: BlockPlan | None  # None when no sequence is longer than half_window + 1


def plan_attention(seqlens: list[int], half_window: int, device: torch.device) -> AttentionPlan:
    """Precompute runs of equal lengths and the local block layout for a packed batch."""
    starts = [0]
    for n in seqlens:
        starts.append(starts[-1] + n)
    cu_seqlens = torch.tensor(starts, dtype=torch.int32, device=device)
    runs: list[Run] = []
    for i, n in enumerate(seqlens):
        if runs and runs[-1].length == n and runs[-1].start + runs[-1].count * n == starts[i]:
            runs[-1] = Run(runs[-1].start, runs[-1].count + 1, n)
        else:
            runs.append(Run(starts[i], 1, n))
    long_ones = [(starts[i], n) for i, n in enumerate(seqlens) if n > half_window + 1]
    blocks = _plan_blocks(long_ones, half_window, starts[-1], device) if long_ones else None
    return AttentionPlan(tuple(seqlens), cu_seqlens, max(seqlens), tuple(runs), half_window, blocks)


def _plan_blocks(long_ones: list[tuple[int, int]], block: int, total: int, device) -> BlockPlan:
    slot_token, token_slot, long_tokens, seq_id, position = [], [], [], [], []
    slots = 0
    for index, (start, n) in enumerate(long_ones):
        padded = -(-n // block) * block
        tokens = torch.arange(start, start + n)
        slot_token += [tokens, torch.full((padded - n,), total)]
        token_slot.append(torch.arange(slots, slots + n))
        long_tokens.append(tokens)
        seq_id += [torch.full((n,), index), torch.full((padded - n,), -1 - index)]
        position.append(torch.arange(padded))
        slots += padded
    n_blocks = slots // block
    seq_id_t = torch.cat(seq_id).view(n_blocks, block)
    position_t = torch.cat(position).view(n_blocks, block)

    def context(x: torch.Tensor, fill: int) -> torch.Tensor:  # (blocks, block) -> (blocks, 3 * block)
        edge = torch.full((1, block), fill)
        padded = torch.cat([edge, x, edge])
        return torch.cat([padded[:-2], padded[1:-1], padded[2:]], dim=1)

    key_seq, key_pos = context(seq_id_t, -(10**9)), context(position_t, -(10**9))
    # Padding slots get their own negative sequence id, so a padding query still sees itself (no
    # all-masked row, which would give NaN) while a real query never sees padding.
    mask = (seq_id_t[:, :, None] == key_seq[:, None, :]) & (
        (position_t[:, :, None] - key_pos[:, None, :]).abs() <= block
    )
    return BlockPlan(
        slot_token=torch.cat(slot_token).to(device),
        token_slot=torch.cat(token_slot).to(device),
        long_tokens=torch.cat(long_tokens).to(device),
        mask=mask[:, None].to(device),  # (blocks, 1, block, 3 * block)
        block=block,
    )


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, plan: AttentionPlan, local: bool) -> torch.Tensor:
    """Attention of packed `(total_tokens, heads, head_dim)` q, k, v; returns the same shape."""
    if flash_attn_varlen_func is not None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        window = (plan.half_window, plan.half_window) if local else (-1, -1)
        return flash_attn_varlen_func(
            q, k, v, plan.cu_seqlens, plan.cu_seqlens, plan.max_seqlen, plan.max_seqlen, window_size=window
        )
    out = torch.empty_like(q)
    for run in plan.runs:
        if local and run.length > plan.half_window + 1:
            continue  # handled by the blocked kernel below
        end = run.start + run.count * run.length
        shape = (run.count, run.length) + q.shape[1:]
        qs, ks, vs = (x[run.start:end].view(shape).transpose(1, 2) for x in (q, k, v))  # (n, heads, len, dim)
        out[run.start:end] = F.scaled_dot_product_attention(qs, ks, vs).transpose(1, 2).reshape(-1, *q.shape[1:])
    if local and plan.blocks is not None:
        out[plan.blocks.long_tokens] = _blocked_local(q, k, v, plan.blocks)
    return out


def _blocked_local(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, blocks: BlockPlan) -> torch.Tensor:
    """Banded attention of the long sequences; returns `(long_tokens, heads, head_dim)`."""
    heads, dim, b = q.shape[1], q.shape[2], blocks.block
    zero = q.new_zeros(1, heads, dim)

    def to_blocks(x: torch.Tensor) -> torch.Tensor:  # (tokens, h, d) -> (blocks, block, h, d)
        return torch.cat([x, zero])[blocks.slot_token].view(-1, b, heads, dim)

    def with_neighbours(x: torch.Tensor) -> torch.Tensor:  # (blocks, block, h, d) -> (blocks, 3 * block, h, d)
        edge = x.new_zeros(1, b, heads, dim)
        padded = torch.cat([edge, x, edge])
        return torch.cat([padded[:-2], padded[1:-1], padded[2:]], dim=1)

    qb = to_blocks(q).transpose(1, 2)  # (blocks, heads, block, dim)
    kb = with_neighbours(to_blocks(k)).transpose(1, 2)  # (blocks, heads, 3 * block, dim)
    vb = with_neighbours(to_blocks(v)).transpose(1, 2)
    ob = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=blocks.mask)  # (blocks, heads, block, dim)
    return ob.transpose(1, 2).reshape(-1, heads, dim)[blocks.token_slot]  # (long_tokens, heads, dim)
