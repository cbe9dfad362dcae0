"""Group sequences into forward batches under a token budget, so memory is bounded whatever the input.

Sequences are ordered longest first and packed greedily; each batch's token count stays within the
budget (a single sequence longer than the budget gets a batch of its own). Callers map results back
to input order through the indices each batch carries.
"""
from __future__ import annotations


def pack_sequences(lengths: list[int], token_budget: int) -> list[list[int]]:
    """Indices into `lengths`, grouped into batches of at most `token_budget` tokens.

    Within a batch the indices are ordered by decreasing length, so equal lengths are adjacent.
    """
    if token_budget < 1:
        raise ValueError(f"token_budget must be positive, not {token_budget}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    used = 0
    for i in order:
        if not batches or used + lengths[i] > token_budget:
            batches.append([])
            used = 0
        batches[-1].append(i)
        used += lengths[i]
    return batches
