"""The packed attention kernels against dense masked attention computed the obvious way."""
from __future__ import annotations

import pytest
import torch

from model.attention import LOCAL_BLOCK, attend, plan_attention, size_class, use_flash


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
@pytest.mark.parametrize("half_window", [64, 5, 100])  # ModernBERT's, one below a block, one above two
def test_packed_attention_matches_dense(seqlens, local, half_window):
    gen = torch.Generator().manual_seed(len(seqlens))
    heads, dim = 2, 8
    plan = plan_attention(seqlens, half_window, torch.device("cpu"), torch.float32)
    q, k, v = (torch.randn(plan.rows, heads, dim, generator=gen) for _ in range(3))
    got = attend(q, k, v, plan, local)[plan.tokens]
    real = plan.tokens
    expected = dense_reference(q[real], k[real], v[real], seqlens, half_window, local)
    assert (got - expected).abs().max().item() < 1e-5


def test_padding_rows_stay_finite_and_zero():
    plan = plan_attention([100, 7], 64, torch.device("cpu"), torch.float32)
    # half_window rows in front, the 107 tokens rounded up to whole blocks and a size class, half_window behind
    assert plan.offset == 64 and plan.rows == 64 + size_class(-(-107 // LOCAL_BLOCK) * LOCAL_BLOCK, LOCAL_BLOCK) + 64
    q, k, v = (torch.randn(plan.rows, 2, 8) for _ in range(3))
    out = attend(q, k, v, plan, local=True)
    assert torch.isfinite(out).all()
    assert out[: plan.offset].abs().max() == 0 and out[plan.tokens.stop:].abs().max() == 0


def test_short_sequences_need_no_blocks():
    plan = plan_attention([65, 3, 1], 64, torch.device("cpu"), torch.float32)
    assert plan.local_mask is None and plan.offset == 0 and plan.rows == 69
    assert plan.positions.tolist() == list(range(65)) + [0, 1, 2, 0]


def test_bfloat16_streams_are_padded_to_a_size_class():
    plan = plan_attention([65, 3, 1], 64, torch.device("cpu"), torch.bfloat16)
    assert plan.local_mask is None and plan.offset == 0 and plan.rows == size_class(69) == 72
    assert plan.positions.tolist()[:69] == list(range(65)) + [0, 1, 2, 0]
    q, k, v = (torch.randn(plan.rows, 2, 8, dtype=torch.bfloat16) for _ in range(3))
    assert attend(q, k, v, plan, local=False)[69:].abs().max() == 0  # the size class's padding rows


@pytest.mark.parametrize("local", [False, True])
def test_bfloat16_attention_with_padded_shapes_matches_float32(local):
    seqlens = [203, 203, 700, 66, 5]  # 203 and 700 are not size classes: their global attention is padded
    assert size_class(203) > 203 and size_class(700) > 700
    gen = torch.Generator().manual_seed(3)
    exact = plan_attention(seqlens, 64, torch.device("cpu"), torch.float32)
    half = plan_attention(seqlens, 64, torch.device("cpu"), torch.bfloat16)
    assert half.rows > exact.rows
    q, k, v = (torch.randn(exact.rows, 2, 8, generator=gen) for _ in range(3))
    expected = attend(q, k, v, exact, local)[exact.tokens]

    def padded(x):
        out = x.new_zeros(half.rows, 2, 8).bfloat16()
        out[half.tokens] = x[exact.tokens].bfloat16()
        return out

    got = attend(padded(q), padded(k), padded(v), half, local)
    assert (got[half.tokens].float() - expected).abs().max().item() < 2e-2
    assert got[half.tokens.stop:].abs().max() == 0


def test_size_classes_bound_both_the_padding_and_the_number_of_shapes():
    classes = {size_class(n) for n in range(1, 16385)}
    assert len(classes) <= 140  # what oneDNN may cache a kernel for (see size_class)
    for n in range(1, 20000, 7):
        rows = size_class(n)
        assert rows >= n and (rows <= max(n + 7, n * 1.0625))
        assert size_class(n, 32) % 32 == 0 and size_class(n, 32) >= rows
    assert [size_class(n) for n in (1, 9, 64, 65, 1000, 15368, 16384)] == [8, 16, 64, 68, 1024, 15872, 16384]


def test_cpu_tensors_never_get_the_cuda_kernel():
    assert not use_flash(torch.device("cpu"), torch.bfloat16)
    assert not use_flash(torch.device("cpu"), torch.float16)
    plan = plan_attention([300], 64, torch.device("cpu"), torch.bfloat16)
    assert not plan.flash and plan.local_mask is not None
