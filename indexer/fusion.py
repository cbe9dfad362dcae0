"""Fusion of ranked candidate lists (lexical, semantic) into one score per chunk.

Two methods, chosen by name so the benchmark can compare them on the same corpus:

- "rrf": weighted reciprocal-rank fusion, sum over lists of weight / (k + rank). It needs no score
  calibration, which matters because BM25 scores are unbounded and cosine scores of different models
  live on different scales.
- "scores": a weighted sum of normalised scores. It keeps how far ahead the top candidate is, which
  ranks carry no trace of. A list whose scores have a natural zero (BM25: no match) is divided by its
  best score; one without (cosine similarity, whose useful range is narrow and model-dependent) is
  min-max scaled over its candidates (`min_max` names those lists).

Every list is a sequence of (chunk_id, score) pairs, best first, higher score = better. Each fused
candidate keeps what each list added to its score (`Fused.shares`), so the ranking layer can tell the
lexical part of a hybrid score from the semantic part (indexer.ranking, definition_boost).

How much a semantic list is trusted depends on whether it agrees with the lexical one (`agreement`,
`semantic_trust`): a model that is any good ranks, near its top, chunks that also contain the query's
words. The BM25 scores of its best AGREEMENT_TOP candidates, summed and divided by the sum of BM25's
own best AGREEMENT_TOP, measure that (1: it favours what BM25 favours; about 0: its favourites share
no word with the query). A random or unsuitable model's favourites score like any chunk, so its
weight is scaled by agreement / AGREEMENT_FULL (at most 1): a weak model cannot outvote an exact
lexical answer, a real one keeps its weight (all-MiniLM-L6-v2 on the benchmark's dev split: median
0.73, tenth percentile 0.42; random tiny checkpoints on the test fixture: median 0.16). Only BM25
scores are compared, never cosines, so the rule does not depend on a model's similarity scale, and
dividing by BM25's own best keeps it independent of how many chunks contain the query's words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Mapping, Sequence

RRF_K = 60  # the constant of Cormack et al. (2009); it damps the head of each list
AGREEMENT_TOP = 10  # the semantic list's best candidates whose lexical scores measure its agreement
AGREEMENT_FULL = 0.4  # agreement from which the semantic list gets its full weight (below: in proportion)
FUSION_METHODS = ("rrf", "scores")

Ranked = Sequence[tuple[int, float]]


@dataclass
class Fused:
    """One fused candidate: its fused score and the per-list evidence behind it (for --explain)."""

    chunk_id: int
    score: float
    parts: dict[str, float] = field(default_factory=dict)  # "<list>" score, "<list>_rank" (1-based)
    shares: dict[str, float] = field(default_factory=dict)  # "<list>": what that list added to `score`


def _normalised(ranked: Ranked, min_max: bool) -> dict[int, float]:
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    hi, lo = max(scores), (min(scores) if min_max else 0.0)
    span = hi - lo
    return {cid: (max(s - lo, 0.0) / span if span > 0 else 1.0) for cid, s in ranked}


def fuse(lists: Mapping[str, Ranked], weights: Mapping[str, float], method: str = "rrf",
         rrf_k: int = RRF_K, min_max: Collection[str] = ()) -> list[Fused]:
    """Fuse named ranked lists into one list, best first; ties broken by chunk id for determinism.

    A candidate missing from a list simply gets nothing from it.
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"unknown fusion method {method!r}; expected one of {', '.join(FUSION_METHODS)}")
    fused: dict[int, Fused] = {}
    for name, ranked in lists.items():
        weight = weights.get(name, 1.0)
        normalised = _normalised(ranked, name in min_max) if method == "scores" else {}
        rank_name = f"{name}_rank"
        for rank, (cid, raw) in enumerate(ranked, start=1):
            entry = fused.get(cid)
            if entry is None:  # (not setdefault: that would build a Fused for every pair)
                entry = fused[cid] = Fused(cid, 0.0)
            entry.parts[name] = raw
            entry.parts[rank_name] = float(rank)
            share = weight / (rrf_k + rank) if method == "rrf" else weight * normalised[cid]
            entry.score += share
            entry.shares[name] = share
    return sorted(fused.values(), key=lambda f: (-f.score, f.chunk_id))


def agreement(lexical: Ranked, semantic: Ranked, top: int | None = None) -> float | None:
    """The lexical scores of the semantic list's `top` best candidates (0 for those the lexical list
    lacks), summed, over the sum of the lexical list's own `top` best (default AGREEMENT_TOP): 1 when
    the semantic side favours what BM25 favours, about 0 when its favourites contain none of the query's
    words. None without two lists to compare."""
    if not lexical or not semantic:
        return None
    top = AGREEMENT_TOP if top is None else top
    ideal = sum(max(score, 0.0) for _, score in lexical[:top])
    if ideal <= 0:
        return None
    scores = dict(lexical)
    return sum(max(scores.get(cid, 0.0), 0.0) for cid, _ in semantic[:top]) / ideal


def semantic_trust(agreement_value: float | None, full: float | None = None) -> float:
    """The factor for the semantic list's weight: agreement / `full` (default AGREEMENT_FULL), at most
    1; 1 without a lexical list to agree with (then there is nothing for the semantic side to outvote)."""
    if agreement_value is None:
        return 1.0
    return min(1.0, agreement_value / (AGREEMENT_FULL if full is None else full))
