"""Packing sequences into forward batches under a token budget."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.packing import pack_sequences


@given(st.lists(st.integers(1, 300), max_size=60), st.integers(1, 600))
def test_every_sequence_once_and_batches_within_budget(lengths, budget):
    batches = pack_sequences(lengths, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert batch
        assert sum(lengths[i] for i in batch) <= budget or len(batch) == 1
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)


def test_longest_first_and_greedy():
    assert pack_sequences([5, 10, 3, 10], 20) == [[1, 3], [0, 2]]


def test_oversized_sequence_gets_its_own_batch():
    assert pack_sequences([50, 2, 2], 10) == [[0], [1, 2]]


def test_budget_must_be_positive():
    with pytest.raises(ValueError):
        pack_sequences([1], 0)
