"""Query latency at 100k chunks: warm hybrid search through `codesearch serve` and in-process, and cold
`codesearch search` processes (hybrid and lexical, with and without a server running).

The query encoder is a base-size random checkpoint (22 layers, 768 wide, as gte-modernbert-base), so
embedding a query costs what it costs with the real model. The index holds generated Python files (the
generator of benchmarks/indexer.py), indexed lexically, plus one random unit vector of width 768 per
chunk stored under that checkpoint's model id through the store's own functions, so that the
100k-chunk index builds in minutes rather than hours; retrieval and fusion then work on 100k 768-wide
vectors. Warm figures are per query after warm-up queries; cold ones are whole
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
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `codesearch serve` sets it (service.quiet_openmp)

from benchmarks.indexer import python_file  # noqa: E402
from codesearch import client, core  # noqa: E402
from codesearch.settings import load_settings  # noqa: E402
from indexer.pipeline import IndexOptions, index_repository  # noqa: E402

QUERIES = [
    "retry the failed batch", "where is the session cache refreshed", "parse the config schema",
    "render an invoice report", "stream tokens into the window buffer", "fetch_3", "route user orders",
    "metric report for the server", "load and store the index", "queue retry with backoff",
    "client session token", "Cache.fetch", "how are invoices rendered", "schema config parse_2",
    "buffer the stream window", "report metrics per user", "order queue", "store session", "index route",
    "batch token fetch",
]
FILES_PER_ROUND = 4200  # 12.5 chunks per file: two rounds make 100k chunks


def build_checkpoint(dest: Path) -> Path:
    from tests.tinymodel import build_tiny_checkpoint

    if not (dest / "model.safetensors").is_file():
        build_tiny_checkpoint(dest, hidden=768, layers=22, heads=12, intermediate=1152, vocab=50368,
                              local_attention=128)
    return dest


def build_corpus(repo: Path, model_id: str, chunks: int) -> int:
    """Generated Python files, indexed lexically in rounds until the index holds >= `chunks` chunks; then
    one random unit vector of width 768 per chunk text, stored as `model_id`'s embeddings."""
    rng = random.Random(0)
    written = len(list((repo / "src").glob("*.py"))) if (repo / "src").is_dir() else 0
    while True:
        summary = index_repository(repo, repo / ".codesearch", None, IndexOptions())
        print(f"  {written} files, {summary.chunks_total} chunks ({summary.seconds:.0f}s)", flush=True)
        if summary.chunks_total >= chunks:
            break
        (repo / "src").mkdir(parents=True, exist_ok=True)
        for n in range(written, written + FILES_PER_ROUND):
            (repo / "src" / f"module_{n}.py").write_text(python_file(rng, n))
        written += FILES_PER_ROUND
    store_random_vectors(repo / ".codesearch", model_id)
    return summary.chunks_total


def store_random_vectors(index_dir: Path, model_id: str, dim: int = 768) -> None:
    """What indexing with a `dim`-wide model leaves, written through the store's and the FAISS layer's
    own functions (the embedding cache, the meta rows search reads, vectors.faiss)."""
    import numpy as np

    from indexer import store, vectors
    from indexer.lock import WriteLock

    with WriteLock(index_dir, store.LOCK_NAME):
        conn = store.open_for_write(index_dir)
        rows = conn.execute("SELECT id, content_hash FROM chunks ORDER BY id").fetchall()
        hashes = sorted({digest for _, digest in rows})
        matrix = np.random.default_rng(0).standard_normal((len(hashes), dim), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        conn.execute("BEGIN IMMEDIATE")
        store.store_embeddings(conn, model_id, hashes, matrix)
        store.write_meta(conn, {"model_id": model_id, "dim": str(dim), "weights_hash": "random-768"})
        conn.execute("COMMIT")
        row_of = {digest: i for i, digest in enumerate(hashes)}
        ids = np.array([cid for cid, _ in rows], dtype=np.int64)
        faiss_index = vectors.build_index(dim, "flat", ids, matrix[[row_of[digest] for _, digest in rows]])
        vectors.write_atomic(faiss_index, index_dir / store.VECTORS_NAME)
        conn.close()


def percentiles(seconds: list[float], cpu_seconds: float) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    cpu = cpu_seconds * 1000 / len(ms)
    return f"p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   CPU {cpu:6.1f} ms/query   (n={len(ms)})"


def warm_in_process(repo: Path, rounds: int) -> list[tuple[str, str]]:
    """Rows for the query embedding alone (the CLI's numpy encoder; torch in float32 on its default threads
    and on one; torch in bfloat16), for the vector search alone (FAISS's flat search of one query, and
    indexer.vectors.score_query, which search uses), and for whole hybrid searches as the server runs
    them (core.search, per-term BM25 kept)."""
    import torch

    from indexer import vectors
    from indexer.index import open_index

    settings = load_settings(repo)
    index = open_index(settings.index_path(repo))
    index.keep_term_scores()  # as the server does
    encoder, unavailable = core.load_query_encoder(index, settings, model_chosen=False, queries=True)
    assert encoder is not None, unavailable
    for query in QUERIES[:3]:
        core.search(index, core.SearchRequest(query), encoder, "", repo)
    threads = torch.get_num_threads()

    def embed_on_one_thread(query: str) -> None:
        torch.set_num_threads(1)
        encoder.embed_queries([query])
        torch.set_num_threads(threads)

    from model import load_encoder
    from model.query import load_query_encoder

    bf16, numpy_encoder = load_encoder(encoder.model_id, dtype="bfloat16"), load_query_encoder(encoder.model_id)
    query_vectors = {q: encoder.embed_queries([q]) for q in QUERIES}
    cases = (
        ("query embedding alone, numpy (the CLI's)", lambda q: numpy_encoder.embed_queries([q])),
        (f"query embedding alone, torch {threads} threads", lambda q: encoder.embed_queries([q])),
        (f"query embedding alone, torch bfloat16, {threads} threads", lambda q: bf16.embed_queries([q])),
        ("query embedding alone, torch 1 thread", embed_on_one_thread),
        ("vector search alone, FAISS flat search, top 200", lambda q: index.vectors.search(query_vectors[q], 200)),
        ("vector search alone, score_query, top 200 + 400 more",
         lambda q: vectors.score_query(index.vectors, query_vectors[q], 200, also=range(1, 800, 2))),
        ("warm hybrid, in-process", lambda q: core.search(index, core.SearchRequest(q), encoder, "", repo)),
    )
    rows = []
    for name, run in cases:
        times, cpu = [], time.process_time()
        for _ in range(rounds):
            for query in QUERIES:
                start = time.perf_counter()
                run(query)
                times.append(time.perf_counter() - start)
        rows.append((name, percentiles(times, time.process_time() - cpu)))
    index.close()
    return rows


def warm_through_server(index_dir: Path, pid: int, rounds: int, mode: str = "hybrid", warmup: int = 3) -> str:
    """Per-query figures after `warmup` queries: with the default 3, the first pass meets most of its
    words for the first time (the server's per-term BM25 cache, indexer.bm25, fills as it goes)."""
    for query in QUERIES[:warmup]:
        client.call(index_dir, "search", {"query": query, "full": True, "mode": mode})
    times, cpu = [], _process_cpu(pid)
    for _ in range(rounds):
        for query in QUERIES:
            start = time.perf_counter()
            result = client.call(index_dir, "search", {"query": query, "full": True, "mode": mode})
            times.append(time.perf_counter() - start)
            assert result and result["mode"] == mode and result["hits"]
    return percentiles(times, _process_cpu(pid) - cpu)


def start_server(repo: Path, env: dict[str, str]) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "codesearch", "serve", str(repo), "--detached"], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    started = time.monotonic()
    # Up and done with its warm-up (the common terms' BM25, codesearch/service.py: warm_up).
    while (client.server_info(repo / ".codesearch") or {}).get("warmed_terms") is None:
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise SystemExit("the server did not start")
        time.sleep(0.1)
    print(f"  server ready, common terms kept, after {time.monotonic() - started:.1f} s", flush=True)
    return server


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=60)


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    rows = warm_in_process(repo, args.rounds)
    server = start_server(repo, _env())
    try:
        rows.append(("warm hybrid, through the server", warm_through_server(index_dir, server.pid, args.rounds)))
        rows.append(("warm hybrid, through the server, words seen before",
                     warm_through_server(index_dir, server.pid, args.rounds, warmup=len(QUERIES))))
        rows.append(("warm lexical, through the server",
                     warm_through_server(index_dir, server.pid, args.rounds, "lexical")))
        rows.append(("cold CLI hybrid, server running", cold_cli(repo, "hybrid", args.cold_repeats)))
        rows.append(("cold CLI lexical, server running", cold_cli(repo, "lexical", args.cold_repeats)))
    finally:
        stop_server(server)
    # What `auto` picks for trained weights on a CPU with native bfloat16 (this random checkpoint fails
    # its probe and stays float32): documents and queries in bfloat16.
    server = start_server(repo, dict(_env(), CODESEARCH_DTYPE="bfloat16"))
    try:
        rows.append(("warm hybrid, through the server, bfloat16",
                     warm_through_server(index_dir, server.pid, args.rounds)))
    finally:
        stop_server(server)
    rows.append(("cold CLI hybrid, no server", cold_cli(repo, "hybrid", args.cold_repeats)))
    rows.append(("cold CLI lexical, no server", cold_cli(repo, "lexical", args.cold_repeats)))
    width = max(len(name) for name, _ in rows)
    for name, figures in rows:
        print(f"{name:<{width}}  {figures}")
    print(f"load {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
