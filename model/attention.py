"""Attention over a packed stream of sequences (no padding between them), on the CPU or a GPU.

Tokens of all sequences sit back to back in one stream of rows, delimited by `cu_seqlens`. Global
layers attend within each sequence; local layers attend to keys with |i - j| <= half_window within the
sequence (ModernBERT: 64 to either side, 129 keys). q, k and v arrive as `(rows, heads, head_dim)`
views (rows may be strided: they are slices of the fused qkv projection).

- Global layers: one SDPA call per run of equal-length sequences (the packer sorts by length, so
  equal lengths are adjacent and a run is one contiguous slice of the stream).
- Local layers, when some sequence is longer than half_window + 1: blocked attention over the whole
  stream. The stream is cut into query blocks of `LOCAL_BLOCK` rows; each block attends to the
  `LOCAL_BLOCK + 2 * half_window` rows around it (read as an overlapping strided view: no copies)
  under a mask that keeps keys of the same sequence within the window. One batched SDPA call for all
  sequences; cost O(n * window), not O(n^2). For this the stream carries half_window padding rows in
  front and pads its end to whole blocks plus half_window rows; padding rows are never visible to
  real tokens. Blocks of 32 compute 160 scores per query for the 129 the window needs (blocks of 64:
  192); end to end the two measured the same within noise.
  When every sequence fits inside the window, local attention is global attention.
- CUDA with flash-attn installed and half-precision tensors: flash-attn's varlen kernel, which handles
  the packed layout and the window natively. A CUDA kernel is never chosen for CPU tensors.

Reference: transformers' `modeling_modernbert.py`, whose local mask is |i - j| < local_attention // 2 + 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

try:  # the optional GPU kernel (pip install codesearch[gpu])
    from flash_attn import flash_attn_varlen_func
except ImportError:  # CPU machines and GPUs without flash-attn use torch's SDPA below
    flash_attn_varlen_func = None

LOCAL_BLOCK = 32  # query rows per block of local attention (see above)


@dataclass(frozen=True)
class Run:
    """`count` sequences of `length` tokens each, stored contiguously from stream row `start`."""

    start: int
    count: int
    length: int


@dataclass(frozen=True)
class AttentionPlan:
    """How a packed batch is laid out in the stream and attended, computed once per forward."""

    seqlens: tuple[int, ...]
    offset: int  # padding rows before the first real token
    rows: int  # stream rows: padding + real tokens + padding
    positions: torch.Tensor  # (rows,) position of each row within its sequence (0 for padding)
    runs: tuple[Run, ...]
    half_window: int
    local_mask: torch.Tensor | None  # (blocks, 1, LOCAL_BLOCK, keys) additive mask; None: local == global
    cu_seqlens: torch.Tensor | None  # (batch + 1,) int32, for flash-attn only

    @property
    def tokens(self) -> slice:
        """The stream rows that hold real tokens."""
        return slice(self.offset, self.offset + sum(self.seqlens))

    @property
    def flash(self) -> bool:
        return self.cu_seqlens is not None


def use_flash(device: torch.device, dtype: torch.dtype) -> bool:
    """flash-attn only for CUDA tensors in half precision, and only when it is installed."""
    return flash_attn_varlen_func is not None and device.type == "cuda" and dtype in (torch.float16, torch.bfloat16)


SHORT_ROWS, SHORT_STEP = 64, 8  # up to 64 rows (a search query), sizes step by 8: 8 classes


def size_class(rows: int, multiple: int = 1) -> int:
    """`rows` rounded up to one of 16 sizes per octave (at most 6.25% more), a multiple of `multiple`;
    up to 64 rows, to a multiple of 8. A query of 9 tokens padded to 64 rows would cost as much as 64
    tokens: in bfloat16 on this CPU, 70 ms instead of 45 for a base-size model (BENCHMARKS.md, Latency)."""
    if rows <= SHORT_ROWS:
        step = max(multiple, SHORT_STEP)
        return max(step, -(-rows // step) * step)
    step = max(multiple, 1 << max(rows.bit_length() - 5, 2))
    return -(-rows // step) * step


def bounded_shapes(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether matmul and attention shapes are rounded to size classes: half precision on the CPU.

    torch's CPU kernels for bfloat16 (oneDNN matmuls, the brgemm micro-kernels of flash attention)
    generate code for every new shape and keep it for the life of the process, 0.5-2 MB a shape
    (measured with torch 2.13; float32 goes through MKL and keeps nothing). Batches of texts of
    varied lengths make new shapes all the time: a run grew by ~17 MB a batch, without bound
    (`python benchmarks/encoder_memory.py --no-size-classes`). Padding the stream's rows, and each global attention to its sequence length's size class,
    leaves at most ~140 shapes of each kind, for at most 6.25% more rows (7 more below 64).
    """
    return device.type == "cpu" and dtype in (torch.bfloat16, torch.float16)


def plan_attention(seqlens: list[int], half_window: int, device: torch.device, dtype: torch.dtype) -> AttentionPlan:
    """Lay out a packed batch (runs of equal lengths, padding, the local mask) for `attend`."""
    total = sum(seqlens)
    seq_id = torch.repeat_interleave(torch.arange(len(seqlens)), torch.tensor(seqlens))  # (total,)
    starts = torch.tensor([0] + seqlens[:-1]).cumsum(0)
    positions = torch.arange(total) - starts[seq_id]  # (total,)
    flash = use_flash(device, dtype)
    blocked = not flash and max(seqlens) > half_window + 1
    block = LOCAL_BLOCK
    offset = half_window if blocked else 0
    # Real rows, rounded up to whole blocks when blocked, then (on the CPU) to a size class.
    body = -(-total // block) * block if blocked else total
    if bounded_shapes(device, dtype):
        body = size_class(body, block if blocked else 1)
    rows = 2 * offset + body

    runs: list[Run] = []
    for start, n in zip((offset + s for s in starts.tolist()), seqlens):
        if runs and runs[-1].length == n and runs[-1].start + runs[-1].count * n == start:
            runs[-1] = Run(runs[-1].start, runs[-1].count + 1, n)
        else:
            runs.append(Run(start, 1, n))

    row_positions = torch.zeros(rows, dtype=torch.long)
    row_positions[offset:offset + total] = positions
    local_mask = None
    if blocked:
        # Padding rows get sequence id -1 and their row index as position: a padding query sees at
        # least itself (no all-masked row, which would give NaN), a real query never sees padding.
        row_seq = torch.full((rows,), -1)
        row_seq[offset:offset + total] = seq_id
        row_pos = torch.arange(rows)
        row_pos[offset:offset + total] = positions
        keys = block + 2 * half_window
        query_seq = row_seq[offset:rows - offset].view(-1, block, 1)  # (blocks, block, 1)
        query_pos = row_pos[offset:rows - offset].view(-1, block, 1)
        key_seq = row_seq.unfold(0, keys, block)[:, None, :]  # (blocks, 1, keys)
        key_pos = row_pos.unfold(0, keys, block)[:, None, :]
        allowed = (query_seq == key_seq) & ((query_pos - key_pos).abs() <= half_window)
        local_mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, float("-inf"))
        local_mask = local_mask[:, None].to(device)  # (blocks, 1, block, keys)
    cu_seqlens = None
    if flash:
        cu_seqlens = torch.tensor([0] + seqlens, dtype=torch.int32).cumsum(0, dtype=torch.int32).to(device)
    return AttentionPlan(
        tuple(seqlens), offset, rows, row_positions.to(device), tuple(runs), half_window, local_mask, cu_seqlens
    )


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, plan: AttentionPlan, local: bool) -> torch.Tensor:
    """Attention of `(rows, heads, head_dim)` q, k, v (any row stride); returns `(rows, heads * head_dim)`.

    Padding rows of the result are zero, so they stay finite through the following layers.
    """
    rows, heads, dim = q.shape
    if plan.flash:
        window = (plan.half_window, plan.half_window) if local else (-1, -1)
        out = flash_attn_varlen_func(
            q, k, v, plan.cu_seqlens, plan.cu_seqlens, max(plan.seqlens), max(plan.seqlens), window_size=window
        )
        return out.reshape(rows, heads * dim)
    out = q.new_empty(rows, heads, dim)
    if local and plan.local_mask is not None:
        blocks, _, block, keys = plan.local_mask.shape
        front = plan.offset  # half_window rows: the first block's keys start at row 0
        qb = q[front:rows - front].view(blocks, block, heads, dim).transpose(1, 2)  # (blocks, heads, block, dim)
        kb, vb = (  # overlapping windows of `keys` rows, one per block: (blocks, heads, keys, dim), no copy
            x.as_strided((blocks, heads, keys, dim), (block * x.stride(0), x.stride(1), x.stride(0), 1), x.storage_offset())
            for x in (k, v)
        )
        mask = plan.local_mask.to(q.dtype)  # (blocks, 1, block, keys)
        ob = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask)  # (blocks, heads, block, dim)
        out[front:rows - front].view(blocks, block, heads, dim).copy_(ob.transpose(1, 2))
        out[:front] = out[plan.tokens.stop:] = 0  # padding queries attended only to themselves
        return out.view(rows, heads * dim)
    pad = bounded_shapes(q.device, q.dtype)
    for run in plan.runs:
        end = run.start + run.count * run.length
        qs, ks, vs = (x[run.start:end].view(run.count, run.length, heads, dim) for x in (q, k, v))
        padded = size_class(run.length) if pad and run.length > 64 else run.length  # <= 64: few shapes anyway
        if padded > run.length:
            o = _padded_attention(qs, ks, vs, padded)
        else:
            o = F.scaled_dot_product_attention(qs.transpose(1, 2), ks.transpose(1, 2), vs.transpose(1, 2))
        out[run.start:end].view(run.count, run.length, heads, dim).copy_(o.transpose(1, 2))
    out[: plan.offset] = 0
    out[plan.tokens.stop:] = 0
    return out.view(rows, heads * dim)


def _padded_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, padded: int) -> torch.Tensor:
    """Global attention of `(count, length, heads, dim)` q, k, v computed at length `padded` (see
    `bounded_shapes`): zero rows appended, their keys masked out. Returns `(count, heads, length, dim)`."""
    count, length, heads, dim = q.shape
    qp, kp, vp = (x.new_zeros(count, padded, heads, dim) for x in (q, k, v))
    for dst, src in ((qp, q), (kp, k), (vp, v)):
        dst[:, :length] = src
    mask = q.new_zeros(1, 1, 1, padded)
    mask[..., length:] = float("-inf")
    o = F.scaled_dot_product_attention(qp.transpose(1, 2), kp.transpose(1, 2), vp.transpose(1, 2), attn_mask=mask)
    return o[:, :, :length]
