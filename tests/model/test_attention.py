"""The packed attention kernels against dense masked attention computed the obvious way."""
from __future__ import annotations

import pytest
import torch

from model.attention import attend, plan_attention, use_flash


def dense_reference(q, k, v, seqlens, half_window, local):
    out, start = [], 0
    for n in seqlens:
        qs, ks, vs = (x[start:start + n].transpose(0, 1) for x in (q, k, v))  # (heads, n, dim)
        scores = qs @ ks.transpose(-1, -2) / q.shape[-1] ** 0.5
        if local:
            i = torch.arange(n)
            scores = scores.masked_fill((i[:, None] - i[None, :]).abs() > half_window, float("-inf"))
        out.append((scores.softmax(-1) @ vs).transpose(0, 1).reshape(n, -1))
        start += n
    return torch.cat(out)


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("seqlens", [[1], [65], [66], [3, 200, 64, 64, 129, 1], [700, 700, 5]])
def test_packed_attention_matches_dense(seqlens, local):
    gen = torch.Generator().manual_seed(len(seqlens))
    heads, dim, half_window = 2, 8, 64
    plan = plan_attention(seqlens, half_window, torch.device("cpu"), torch.float32)
    q, k, v = (torch.randn(plan.rows, heads, dim, generator=gen) for _ in range(3))
    got = attend(q, k, v, plan, local)[plan.tokens]
    real = plan.tokens
    expected = dense_reference(q[real], k[real], v[real], seqlens, half_window, local)
    assert (got - expected).abs().max().item() < 1e-5


def test_padding_rows_stay_finite_and_zero():
    plan = plan_attention([100, 7], 64, torch.device("cpu"), torch.float32)
    assert plan.offset == 64 and plan.rows % 64 == 0
    q, k, v = (torch.randn(plan.rows, 2, 8) for _ in range(3))
    out = attend(q, k, v, plan, local=True)
    assert torch.isfinite(out).all()
    assert out[: plan.offset].abs().max() == 0 and out[-64:].abs().max() == 0


def test_short_sequences_need_no_blocks():
    plan = plan_attention([65, 3, 1], 64, torch.device("cpu"), torch.float32)
    assert plan.local_mask is None and plan.offset == 0 and plan.rows == 69
    assert plan.positions.tolist() == list(range(65)) + [0, 1, 2, 0]


def test_cpu_tensors_never_get_the_cuda_kernel():
    assert not use_flash(torch.device("cpu"), torch.bfloat16)
    assert not use_flash(torch.device("cpu"), torch.float16)
    plan = plan_attention([300], 64, torch.device("cpu"), torch.bfloat16)
    assert not plan.flash and plan.local_mask is not None
