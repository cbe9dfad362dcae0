"""Rank captured candidates again under other ranking or fusion constants: seconds per setting instead of
a benchmark run each, and a leave-one-repository-out estimate of what choosing among them is worth.

    python -m benchmarks.replay capture                       # lexical candidates of the dev split
    python -m benchmarks.replay capture --mode hybrid         # with all-MiniLM-L6-v2 (its indexes built)
    python -m benchmarks.replay capture --docstrings /tmp/q   # + the docstring set of
                                                              #   `python -m benchmarks.quality.run --keep /tmp/q`
                                                              #   (hybrid: built with --minilm)
    python -m benchmarks.replay grid --set indexer.ranking.FILE_WORDS_BOOST=0.3,0.6,1.0 \\
                                     --set "indexer.query.FUSION_WEIGHTS[mixed]=1.0:0.4,1.0:1.2"

`capture` runs every query of the public benchmark's dev split (benchmarks/semble.py: same indexes, same
queries) through `indexer.search.retrieve`, the retrieval half of a search, and keeps what it found
(the plan, each retriever's ranked list, the loaded chunks) in `--work`. `grid` then calls
`indexer.search.rank`, the other half, on copies of those candidates for every combination of the
values given: the ranking layer and fusion as committed, only module constants patched. It prints
file-level NDCG@10 as benchmarks/semble.py defines it (mean over repositories), the docstring set's if
captured, and, over the whole grid, the leave-one-repository-out estimate: for each repository, the
combination best on the other 19, scored on that one; the mean of those is what the choice is worth on
repositories it was not made on (the benchmark's held-out ones).

Retrieval does not depend on the constants replayed (FTS5 column weights and candidate counts do: those
need `benchmarks/semble.py`), and only constants read when a function runs can be replayed: one bound
as a parameter's default is fixed at import. `--set` takes a module attribute and comma-separated
values: numbers, or tuples written a:b; `NAME[key]` sets one entry of a dict constant (DEMOTIONS[tests],
FUSION_WEIGHTS[mixed]). In hybrid mode the docstring set's index must hold the same model's vectors
(`benchmarks.quality.run --minilm --keep DIR`).
"""
from __future__ import annotations

import argparse
import importlib
import itertools
import pickle
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks import semble
from indexer.search import Candidates, SearchOptions, rank, retrieve

CUTOFF = semble.CUTOFF


def capture(data: Path, work: Path, mode: str, encoder_name: str, docstrings: Path | None) -> dict:
    """{"mode", "queries": [{"group", "targets", "candidates"}]}: every dev query's candidates (and the
    docstring set's, in group "docstrings", with exact target paths)."""
    from indexer.evaluate import load_queries
    from indexer.index import open_index

    encoder = semble.make_encoder(encoder_name) if mode != "lexical" else None
    if docstrings is not None and encoder is not None:
        index = open_index(docstrings / "index")
        stored = index.meta.get("model_id")
        index.close()
        if stored != encoder.model_id:
            raise SystemExit(f"{docstrings / 'index'} holds {stored or 'no'} vectors, not {encoder.model_id}'s: "
                             f"build it with `python -m benchmarks.quality.run --minilm --keep {docstrings}`")
    options = SearchOptions(mode=mode, k=CUTOFF, files_only=True)
    captured = []
    for repo, queries in semble.load_benchmark(data):
        index = open_index(semble.index_repo(data, repo, work, encoder))
        try:
            captured += [{"group": q.repo, "targets": [t.path for t in q.targets],
                          "candidates": retrieve(index, q.text, encoder, options)} for q in queries]
        finally:
            index.close()
    if docstrings is not None:
        index = open_index(docstrings / "index")
        try:
            for q in load_queries(docstrings / "docstring_queries.jsonl"):
                captured.append({"group": "docstrings", "targets": list(dict.fromkeys(t.path for t in q.relevant)),
                                 "candidates": retrieve(index, q.query, encoder, options)})
        finally:
            index.close()
    return {"mode": mode, "queries": captured}


def replayed_files(candidates: Candidates, mode: str) -> list[str]:
    """The files a files-only search returns for these candidates with today's constants."""
    copies = {cid: replace(h, explain=dict(h.explain)) for cid, h in candidates.hits.items()}
    hits = rank(replace(candidates, hits=copies), SearchOptions(mode=mode, k=CUTOFF, files_only=True))
    return [h.path for h in hits]


def scores(captured: dict) -> dict[str, float]:
    """File NDCG@10 per group (repository, or "docstrings") of the captured queries, replayed."""
    by_group: dict[str, list[float]] = {}
    for q in captured["queries"]:
        files = replayed_files(q["candidates"], captured["mode"])
        exact = q["group"] == "docstrings"
        ranks = [next((i + 1 for i, f in enumerate(files) if (f == t if exact else semble.path_matches(f, t))), None)
                 for t in q["targets"]]
        by_group.setdefault(q["group"], []).append(semble.ndcg(ranks, len(q["targets"])))
    return {group: statistics.mean(values) for group, values in by_group.items()}


def parse_setting(spec: str) -> tuple[str, str | None, list]:
    """`module.NAME=v1,v2` or `module.NAME[key]=v1,v2` -> ("module.NAME", key or None, [values])."""
    target, _, values = spec.partition("=")
    key = None
    if target.endswith("]") and "[" in target:
        target, _, key = target[:-1].partition("[")
    if "." not in target or not values:
        raise SystemExit(f"bad --set {spec!r}: expected module.NAME=v1,v2 or module.NAME[key]=v1,v2")
    try:
        parsed = [tuple(float(x) for x in v.split(":")) if ":" in v else float(v) for v in values.split(",")]
    except ValueError:
        raise SystemExit(f"bad --set {spec!r}: values are numbers, or tuples of numbers written a:b") from None
    return target, key, parsed


def apply(target: str, key: str | None, value) -> None:
    """Set one constant (or one entry of a dict constant), then empty the ranking layer's caches, some
    of which hold results computed from constants (demotions)."""
    module_name, _, name = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise SystemExit(f"no module {module_name!r} to set {name} in") from None
    if not hasattr(module, name):
        raise SystemExit(f"{module_name} has no {name}")
    if key is None:
        setattr(module, name, type(getattr(module, name))(value) if not isinstance(value, tuple) else value)
    else:
        getattr(module, name)[key] = value
    ranking = importlib.import_module("indexer.ranking")
    for attribute in vars(ranking).values():
        if callable(getattr(attribute, "cache_clear", None)):  # the functools.lru_cache functions
            attribute.cache_clear()


def leave_one_out(table: dict[tuple, dict[str, float]], groups: list[str]) -> float:
    """For each group, the combination best on the others, scored on it; the mean over groups."""
    held = []
    for group in groups:
        best = max(table, key=lambda combo: statistics.mean(table[combo][g] for g in groups if g != group))
        held.append(table[best][group])
    return statistics.mean(held)


def grid(captured: dict, settings: list[tuple[str, str | None, list]]) -> None:
    names = [f"{t.rsplit('.', 1)[-1]}{f'[{k}]' if k else ''}" for t, k, _ in settings]
    table: dict[tuple, dict[str, float]] = {}
    print("| " + " | ".join(names) + " | dev | docstrings |\n|" + "---|" * (len(names) + 2))
    for combo in itertools.product(*(values for _, _, values in settings)):
        for (target, key, _), value in zip(settings, combo):
            apply(target, key, value)
        table[combo] = by_group = scores(captured)
        dev = statistics.mean(v for g, v in by_group.items() if g != "docstrings")
        doc = f"{by_group['docstrings']:.4f}" if "docstrings" in by_group else ""
        shown = [":".join(f"{x:g}" for x in v) if isinstance(v, tuple) else f"{v:g}" for v in combo]
        print("| " + " | ".join(shown) + f" | {dev:.4f} | {doc} |", flush=True)
    groups = sorted({g for by_group in table.values() for g in by_group if g != "docstrings"})
    best = max(table, key=lambda combo: statistics.mean(table[combo][g] for g in groups))
    print(f"\nbest on all {len(groups)} repositories: {best} "
          f"{statistics.mean(table[best][g] for g in groups):.4f}; leave one repository out: "
          f"{leave_one_out(table, groups):.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("capture", "grid"))
    parser.add_argument("--data", type=Path, default=semble.DEFAULT_DATA, help="the benchmark folder")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "codesearch-semble",
                        help="the indexes (as benchmarks/semble.py keeps them) and the captured candidates")
    parser.add_argument("--mode", choices=("lexical", "hybrid"), default="lexical")
    parser.add_argument("--encoder", default="minilm", help="hybrid: minilm or fake")
    parser.add_argument("--docstrings", type=Path, metavar="DIR",
                        help="capture: also the docstring set of `benchmarks.quality.run --keep DIR`")
    parser.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=V1,V2",
                        help="grid: values of one constant (repeatable; every combination is run)")
    args = parser.parse_args(argv)
    path = args.work / f"replay-{args.mode}.pickle"
    if args.action == "capture":
        started = time.perf_counter()
        captured = capture(args.data, args.work, args.mode, args.encoder, args.docstrings)
        path.write_bytes(pickle.dumps(captured))
        print(f"{len(captured['queries'])} queries captured in {time.perf_counter() - started:.0f}s: {path}")
        return 0
    if not path.is_file():
        raise SystemExit(f"nothing captured at {path}: run `python -m benchmarks.replay capture` first")
    grid(pickle.loads(path.read_bytes()), [parse_setting(s) for s in args.set])
    return 0


if __name__ == "__main__":
    sys.exit(main())
