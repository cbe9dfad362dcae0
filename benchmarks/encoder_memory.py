"""Encoder memory over many batches of varied lengths: does the process stay at a bounded size?

torch's bfloat16 CPU kernels keep code generated for every new shape (see `bounded_shapes` in
model/attention.py). This runs our model in bfloat16 over `--batches` batches of random texts (1-40
sequences of 16-2048 tokens each, as an index run makes them) and prints the resident set size along
the way, with the size classes on (as shipped) or off, and malloc tuned (as `load_encoder` does on the
CPU) or left alone. Fewer layers than the base model's 22 keep it quick; the shapes, and so the kernel
caches, are the same in every layer.

    python benchmarks/encoder_memory.py                       # as shipped
    python benchmarks/encoder_memory.py --no-size-classes     # every batch shape as it comes
    python benchmarks/encoder_memory.py --malloc system       # glibc malloc left alone
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import model.attention  # noqa: E402
from benchmarks.encoder import BASE, PAD, random_sequences, run_ours  # noqa: E402
from model.allocator import keep_freed_memory  # noqa: E402
from model.config import ModernBertConfig  # noqa: E402
from model.encoder import set_precision  # noqa: E402
from model.modernbert import ModernBertModel  # noqa: E402
from tests.tinymodel import random_state_dict  # noqa: E402


def rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--every", type=int, default=15, help="print the RSS every this many batches")
    parser.add_argument("--no-size-classes", action="store_true", help="run every batch at its own shape")
    parser.add_argument("--malloc", choices=["tuned", "system"], default="tuned")
    args = parser.parse_args()

    tuned = args.malloc == "tuned" and keep_freed_memory()
    if args.no_size_classes:
        model.attention.bounded_shapes = lambda device, dtype: False
    state = random_state_dict(hidden=768, layers=args.layers, intermediate=1152, vocab=50368, bias=False, seed=0)
    encoder = ModernBertModel(ModernBertConfig.from_dict({**BASE, "num_hidden_layers": args.layers, "pad_token_id": PAD}))
    encoder.load_checkpoint_state(state)
    encoder = set_precision(encoder.eval(), "bfloat16")
    del state

    print(f"torch {torch.__version__}, {args.layers} layers, bfloat16, size classes "
          f"{'off' if args.no_size_classes else 'on'}, malloc {'tuned' if tuned else 'system'}")
    rng = torch.Generator().manual_seed(1)
    start, tokens, trace = time.perf_counter(), 0, [rss_mib()]
    for batch in range(1, args.batches + 1):
        count = int(torch.randint(1, 40, (1,), generator=rng))
        sequences = random_sequences(torch.randint(16, 2049, (count,), generator=rng).tolist(), rng)
        run_ours(encoder, sequences, 16384)
        tokens += sum(len(s) for s in sequences)
        if batch % args.every == 0:
            trace.append(rss_mib())
            print(f"after {batch:4d} batches: RSS {trace[-1]:5d} MiB, {tokens / (time.perf_counter() - start):.0f} tok/s")
            sys.stdout.flush()
    print(f"RSS grew {trace[-1] - trace[1]} MiB from batch {args.every} to {args.batches}")


if __name__ == "__main__":
    main()
