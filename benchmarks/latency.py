"""Query latency at 100k chunks: warm hybrid search through `codesearch serve` and in-process, and cold
`codesearch search` processes (hybrid and lexical, with and without a server running).

The query encoder is a base-size random checkpoint (22 layers, 768 wide, as gte-modernbert-base), so
embedding a query costs what it costs with the real model. The stored vectors come from FakeEncoder at
width 768 under that checkpoint's model id, so the 100k-chunk index of generated Python files (the
generator of benchmarks/indexer.py) builds in minutes rather than hours; retrieval and fusion then work
on 100k real 768-wide vectors. Warm figures are per query after warm-up queries; cold ones are whole
processes (wall and CPU time, the CPU time of all threads).

    python benchmarks/latency.py                          # 100k chunks, in a temporary folder
    python benchmarks/latency.py --keep /tmp/latency      # keep (and reuse) the corpus and its index
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.indexer import python_file  # noqa: E402
from codesearch import client, core  # noqa: E402
from codesearch.settings import load_settings  # noqa: E402
from indexer.encoder import FakeEncoder  # noqa: E402
from indexer.pipeline import IndexOptions, index_repository  # noqa: E402

QUERIES = [
    "retry the failed batch", "where is the session cache refreshed", "parse the config schema",
    "render an invoice report", "stream tokens into the window buffer", "fetch_3", "route user orders",
    "metric report for the server", "load and store the index", "queue retry with backoff",
    "client session token", "Cache.fetch", "how are invoices rendered", "schema config parse_2",
    "buffer the stream window", "report metrics per user", "order queue", "store session", "index route",
    "batch token fetch",
]
FILES_PER_ROUND = 4000


def build_checkpoint(dest: Path) -> Path:
    from tests.tinymodel import build_tiny_checkpoint

    if not (dest / "model.safetensors").is_file():
        build_tiny_checkpoint(dest, hidden=768, layers=22, heads=12, intermediate=1152, vocab=50368,
                              local_attention=128)
    return dest


def build_corpus(repo: Path, model_id: str, chunks: int) -> int:
    """Generated Python files indexed with FakeEncoder(768) under `model_id`, until >= `chunks` chunks."""
    encoder = FakeEncoder(dim=768, model_id=model_id)
    rng = random.Random(0)
    written = len(list((repo / "src").glob("*.py"))) if (repo / "src").is_dir() else 0
    while True:
        summary = index_repository(repo, repo / ".codesearch", encoder, IndexOptions())
        print(f"  {written} files, {summary.chunks_total} chunks ({summary.seconds:.0f}s)", flush=True)
        if summary.chunks_total >= chunks:
            return summary.chunks_total
        (repo / "src").mkdir(parents=True, exist_ok=True)
        for n in range(written, written + FILES_PER_ROUND):
            (repo / "src" / f"module_{n}.py").write_text(python_file(rng, n))
        written += FILES_PER_ROUND


def percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   (n={len(ms)})"


def warm_in_process(repo: Path, rounds: int) -> list[float]:
    from indexer.store import open_index

    settings = load_settings(repo)
    index = open_index(settings.index_path(repo))
    encoder, unavailable = core.load_query_encoder(index, settings, model_chosen=False)
    assert encoder is not None, unavailable
    for query in QUERIES[:3]:
        core.search(index, core.SearchRequest(query), encoder, "", repo)
    times = []
    for _ in range(rounds):
        for query in QUERIES:
            start = time.perf_counter()
            answer = core.search(index, core.SearchRequest(query), encoder, "", repo)
            times.append(time.perf_counter() - start)
            assert answer.mode == "hybrid" and answer.hits
    index.close()
    return times


def warm_through_server(index_dir: Path, rounds: int) -> list[float]:
    for query in QUERIES[:3]:
        client.call(index_dir, "search", {"query": query, "full": True})
    times = []
    for _ in range(rounds):
        for query in QUERIES:
            start = time.perf_counter()
            result = client.call(index_dir, "search", {"query": query, "full": True})
            times.append(time.perf_counter() - start)
            assert result and result["mode"] == "hybrid" and result["hits"]
    return times


def cold_cli(repo: Path, mode: str, repeats: int) -> str:
    """Wall and CPU seconds of whole `codesearch search` processes (median of `repeats`)."""
    walls, cpus = [], []
    for n in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "codesearch", "search", QUERIES[n % len(QUERIES)], str(repo),
                              "--mode", mode, "--json"], env=_env(), capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        assert run.returncode == 0, run.stderr
    return f"wall {statistics.median(walls):5.2f} s   CPU {statistics.median(cpus):5.2f} s   (n={repeats})"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="index size (default 100,000)")
    parser.add_argument("--rounds", type=int, default=5, help="warm passes over the 20 queries")
    parser.add_argument("--cold-repeats", type=int, default=3, help="cold processes per mode")
    parser.add_argument("--keep", type=Path, help="work folder to keep and reuse (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="codesearch-latency-"))
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = build_checkpoint(work / "base-checkpoint")
    repo = work / "repo"
    repo.mkdir(exist_ok=True)
    print(f"corpus in {repo} (query encoder: base-size random checkpoint {checkpoint})", flush=True)
    chunks = build_corpus(repo, str(checkpoint), args.chunks)
    index_dir = repo / ".codesearch"

    import torch

    print(f"\n{chunks:,} chunks, 768-dim vectors; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load {os.getloadavg()[0]:.1f}")
    rows = [("warm hybrid, in-process", percentiles(warm_in_process(repo, args.rounds)))]
    server = subprocess.Popen([sys.executable, "-m", "codesearch", "serve", str(repo), "--detached"], env=_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while client.server_info(index_dir) is None:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        rows.append(("warm hybrid, through the server", percentiles(warm_through_server(index_dir, args.rounds))))
        rows.append(("cold CLI hybrid, server running", cold_cli(repo, "hybrid", args.cold_repeats)))
        rows.append(("cold CLI lexical, server running", cold_cli(repo, "lexical", args.cold_repeats)))
    finally:
        server.terminate()
        server.wait(timeout=60)
    rows.append(("cold CLI hybrid, no server", cold_cli(repo, "hybrid", args.cold_repeats)))
    rows.append(("cold CLI lexical, no server", cold_cli(repo, "lexical", args.cold_repeats)))
    width = max(len(name) for name, _ in rows)
    for name, figures in rows:
        print(f"{name:<{width}}  {figures}")
    print(f"load {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
