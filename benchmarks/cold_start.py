"""Cold start: wall and CPU time of one `codesearch` process, hybrid search against lexical.

Indexes a copy of fixtures/repo with a base-size random checkpoint (22 layers, hidden 768, 12 heads,
intermediate 1152, vocab 50368, built by tests/tinymodel.py as in benchmarks/encoder.py), then runs
`python -m codesearch` as a new process per command, the cases interleaved, and prints the median wall
and CPU time (user + system, all threads) of each case and, for searches, its CPU time over the
lexical search's:

- search, lexical: `--mode lexical` (no model);
- search, hybrid: the default, the query embedded by model/query.py (numpy, no torch);
- search, hybrid, torch: `--dtype bfloat16`, which loads the torch Encoder;
- index, nothing changed: an update that loads the model (torch) with auto precision, read from the
  checkpoint cache (model/cache.py), which one untimed run fills first;
- index, nothing changed, cache off: `CODESEARCH_CACHE_DIR=off`: every load probes bfloat16 against
  float32 and hashes the weights, as every load did before the cache.

    python benchmarks/cold_start.py                          # builds the checkpoint in a temporary folder
    python benchmarks/cold_start.py --checkpoint /tmp/base --repeats 7
    python benchmarks/cold_start.py --code /tmp/old-checkout   # the same runs with other code (PYTHONPATH)

`--code` runs the CLI of another checkout (say `git archive REV | tar -x -C /tmp/old`) on the same
index and checkpoint, for a before/after comparison.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERY = "refill the token bucket"
BASE = dict(hidden=768, layers=22, heads=12, intermediate=1152, vocab=50368)


def run_cli(code: Path, args: list[str], env_extra: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the child, the finished process) of one `python -m codesearch` run."""
    env = {**os.environ, "PYTHONPATH": str(code), "COLUMNS": "100", **env_extra}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # From the checkout's folder: `python -m` puts the working directory first on the path.
    proc = subprocess.run([sys.executable, "-m", "codesearch", *args], cwd=code, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"codesearch {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, cpu, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="a base-size checkpoint folder (built there if missing)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose CLI is timed (default: this one)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from tests.tinymodel import build_tiny_checkpoint

    work = Path(tempfile.mkdtemp(prefix="cold-start-"))
    try:
        checkpoint = args.checkpoint or work / "base"
        if not (checkpoint / "model.safetensors").exists():
            print(f"building a base-size random checkpoint in {checkpoint}", file=sys.stderr)
            build_tiny_checkpoint(checkpoint, **BASE)
        repo = work / "repo"
        shutil.copytree(ROOT / "fixtures" / "repo", repo, symlinks=True, ignore=shutil.ignore_patterns(".codesearch"))
        cache = {"CODESEARCH_CACHE_DIR": str(work / "cache")}
        print("indexing fixtures/repo with it", file=sys.stderr)
        run_cli(ROOT, ["index", str(repo), "--model", str(checkpoint), "--quiet"], cache)

        search = ["search", QUERY, str(repo), "-k", "5"]
        update = ["index", str(repo), "--quiet"]
        cases = {
            "search, lexical": (search + ["--mode", "lexical"], cache),
            "search, hybrid": (search, cache),
            "search, hybrid, torch": (search + ["--dtype", "bfloat16"], cache),
            "index, nothing changed": (update, cache),
            "index, nothing changed, cache off": (update, {"CODESEARCH_CACHE_DIR": "off"}),
        }
        _, _, first = run_cli(args.code, search, cache)  # a check
        if "notice" in first.stderr:
            raise SystemExit(f"the hybrid search did not use the model:\n{first.stderr}")
        run_cli(args.code, update, cache)  # fills the checkpoint cache
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, (cli_args, env) in cases.items():
                wall, cpu, _ = run_cli(args.code, cli_args, env)
                times[name].append((wall, cpu))

        lexical_cpu = statistics.median(cpu for _, cpu in times["search, lexical"])
        print(f"\ncold `codesearch` processes, code: {args.code}, {args.repeats} runs each, medians\n")
        print("| case                              | wall s | CPU s | CPU / lexical search |")
        print("|-----------------------------------|-------:|------:|---------------------:|")
        for name, samples in times.items():
            wall = statistics.median(w for w, _ in samples)
            cpu = statistics.median(c for _, c in samples)
            ratio = f"{cpu / lexical_cpu:.1f}x" if name.startswith("search") else ""
            print(f"| {name:<33} | {wall:6.2f} | {cpu:5.2f} | {ratio:>20} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
