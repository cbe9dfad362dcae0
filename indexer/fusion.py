"""Fusion of ranked candidate lists (lexical, semantic) into one score per chunk.

Two methods, chosen by name so the benchmark can compare them on the same corpus:

- "rrf": weighted reciprocal-rank fusion, sum over lists of weight / (k + rank). It needs no score
  calibration, which matters because BM25 scores are unbounded and cosine scores of different models
  live on different scales.
- "scores": a weighted sum of normalised scores. It keeps how far ahead the top candidate is, which
  ranks carry no trace of. A list whose scores have a natural zero (BM25: no match) is divided by its
  best score; one without (cosine similarity, whose useful range is narrow and model-dependent) is
  min-max scaled over its candidates (`min_max` names those lists).

Every list is a sequence of (chunk_id, score) pairs, best first, higher score = better.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Mapping, Sequence

RRF_K = 60  # the constant of Cormack et al. (2009); it damps the head of each list
FUSION_METHODS = ("rrf", "scores")

Ranked = Sequence[tuple[int, float]]


@dataclass
class Fused:
    """One fused candidate: its fused score and the per-list evidence behind it (for --explain)."""

    chunk_id: int
    score: float
    parts: dict[str, float] = field(default_factory=dict)  # "<list>" score, "<list>_rank" (1-based)


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
        for rank, (cid, raw) in enumerate(ranked, start=1):
            entry = fused.setdefault(cid, Fused(cid, 0.0))
            entry.parts[name] = raw
            entry.parts[f"{name}_rank"] = float(rank)
            if method == "rrf":
                entry.score += weight / (rrf_k + rank)
            else:
                entry.score += weight * normalised[cid]
    return sorted(fused.values(), key=lambda f: (-f.score, f.chunk_id))
