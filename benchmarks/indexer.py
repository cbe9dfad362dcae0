"""Indexer benchmark: full index, no-op reindex and one-file-changed reindex of a generated repository.

Uses the deterministic FakeEncoder (no model), so it measures the indexer itself: walk, stat pass,
tree-sitter chunking, SQLite/FTS5 writes and FAISS upkeep. The reference, timed side by side in the
same run on the same files, is `git status` (git's own stat pass over its index), the floor for noticing
what changed; reindex times are printed as ratios to it.

    python benchmarks/indexer.py                 # 10,000 files
    python benchmarks/indexer.py --files 2000    # quicker
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.encoder import FakeEncoder  # noqa: E402
from indexer.pipeline import IndexOptions, index_repository  # noqa: E402

WORDS = ("parse load store fetch render queue cache token index route user order invoice retry "
         "batch stream window buffer config schema client server session metric report").split()


def python_file(rng: random.Random, n: int) -> str:
    parts = [f'"""Module {n}: {" ".join(rng.sample(WORDS, 6))}."""\nimport os\n']
    for c in range(rng.randint(1, 3)):
        methods = "\n".join(
            f"    def {rng.choice(WORDS)}_{m}(self, {rng.choice(WORDS)}):\n"
            f"        \"\"\"{' '.join(rng.sample(WORDS, 5))}.\"\"\"\n"
            f"        return self.{rng.choice(WORDS)} + {rng.randint(0, 999)}\n"
            for m in range(rng.randint(2, 5))
        )
        parts.append(f"\nclass {rng.choice(WORDS).title()}{n}x{c}:\n{methods}")
    for f in range(rng.randint(1, 4)):
        parts.append(
            f"\ndef {rng.choice(WORDS)}_{n}_{f}(path, limit={rng.randint(1, 99)}):\n"
            f"    items = [line.strip() for line in open(path)][:limit]\n"
            f"    return {{item: len(item) for item in items if '{rng.choice(WORDS)}' in item}}\n"
        )
    return "".join(parts)


def go_file(rng: random.Random, n: int) -> str:
    funcs = "\n".join(
        f"// {rng.choice(WORDS).title()}{f} {' '.join(rng.sample(WORDS, 4))}.\n"
        f"func {rng.choice(WORDS).title()}{n}x{f}(xs []int) int {{\n\ttotal := {rng.randint(0, 9)}\n"
        f"\tfor _, x := range xs {{\n\t\ttotal += x\n\t}}\n\treturn total\n}}\n"
        for f in range(rng.randint(2, 6))
    )
    return f"package p{n % 50}\n\ntype State{n} struct {{\n\tcount int\n}}\n\n{funcs}"


def js_file(rng: random.Random, n: int) -> str:
    funcs = "\n".join(
        f"export function {rng.choice(WORDS)}{n}x{f}(input) {{\n  const out = input.map((x) => x * {f + 1});\n"
        f"  return out.filter(Boolean);\n}}\n"
        for f in range(rng.randint(2, 6))
    )
    return f"// {' '.join(rng.sample(WORDS, 8))}\n{funcs}"


def markdown_file(rng: random.Random, n: int) -> str:
    sections = "\n".join(f"## {rng.choice(WORDS).title()} {s}\n\n{' '.join(rng.choices(WORDS, k=40))}.\n"
                         for s in range(rng.randint(1, 4)))
    return f"# Notes {n}\n\n{sections}"


MAKERS = ((".py", python_file), (".go", go_file), (".js", js_file), (".md", markdown_file))


def generate(root: Path, count: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    total = 0
    for n in range(count):
        suffix, make = MAKERS[n % len(MAKERS)]
        path = root / f"area{n % 20}" / f"part{(n // 20) % 25}" / f"file{n}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = make(rng, n)
        path.write_text(text)
        total += len(text.encode())
    return total


def git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(runs: int, fn) -> tuple[float, object]:
    results = [timed(fn) for _ in range(runs)]
    return min(results, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="number of generated source files")
    parser.add_argument("--dim", type=int, default=768, help="FakeEncoder width (768 = gte-modernbert-base)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="codesearch-bench-"))
    try:
        root = work / "repo"
        source_bytes = generate(root, args.files)
        git(root, "init", "-q")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "generated")
        encoder = FakeEncoder(dim=args.dim)
        options = IndexOptions()
        index_dir = root / ".codesearch"
        run = lambda: index_repository(root, index_dir, encoder, options)  # noqa: E731
        git_status = lambda: git(root, "status", "--porcelain")  # noqa: E731

        full_s, full = timed(run)
        noop_s, noop = best_of(3, run)
        noop_git_s, _ = best_of(3, git_status)
        target = root / "area3" / "part0" / "file3.md"
        changed_runs = []
        for i in range(3):
            target.write_text(target.read_text() + f"\nOne more line {i}.\n")
            changed_runs.append(timed(run))
        one_s, one = min(changed_runs, key=lambda r: r[0])
        one_git_s, _ = best_of(3, git_status)
        index_bytes = sum(p.stat().st_size for p in index_dir.iterdir() if p.name != "lock")
        sqlite_bytes = sum(p.stat().st_size for p in index_dir.glob("index.sqlite*"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"files: {args.files}, source: {source_bytes / 1e6:.1f} MB, chunks: {full.chunks_total}, dim: {args.dim}")
    print(f"{'measure':34} {'codesearch':>12} {'git status':>12} {'ratio':>8}")
    print(f"{'full index (FakeEncoder)':34} {full_s:11.2f}s {'':>12} {'':>8}"
          f"   ({args.files / full_s:.0f} files/s, {full.chunks_total / full_s:.0f} chunks/s)")
    print(f"{'no-op reindex':34} {noop_s:11.3f}s {noop_git_s:11.3f}s {noop_s / noop_git_s:7.1f}x")
    print(f"{'one file changed reindex':34} {one_s:11.3f}s {one_git_s:11.3f}s {one_s / one_git_s:7.1f}x"
          f"   ({one.chunks_embedded} chunks embedded)")
    print(f"{'index size / source size':34} {index_bytes / source_bytes:11.2f}x"
          f"   (SQLite {sqlite_bytes / 1e6:.1f} MB, FAISS {(index_bytes - sqlite_bytes) / 1e6:.1f} MB)")
    assert noop.files_unchanged == args.files and noop.chunks_embedded == 0


if __name__ == "__main__":
    main()
