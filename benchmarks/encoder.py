"""Encoder throughput: our packed ModernBERT against transformers' ModernBertModel, side by side.

Base-size config (22 layers, hidden 768, 12 heads, intermediate 1152, vocab 50368) with random weights
shared by both models. Cases: 32x128, 8x512, a mixed batch of 32 sequences with lengths uniform in
16-1024, and 1x8192. For each precision it prints real (unpadded) tokens per second of both, the ratio,
and the cosine of our CLS-pooled embeddings against the float32 reference.

    python benchmarks/encoder.py                          # everything (long: the reference is slow)
    python benchmarks/encoder.py --cases mixed 1x8192 --precisions bfloat16 --repeats 1
    python benchmarks/encoder.py --no-reference --precisions float32 bfloat16 int8   # ours only
    python benchmarks/encoder.py --device cuda            # on a GPU (flash-attn when installed)
    python benchmarks/encoder.py --no-reference --cases mixed --precisions bfloat16 --profile   # where time goes
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.allocator import keep_freed_memory  # noqa: E402
from model.config import ModernBertConfig  # noqa: E402
from model.encoder import pool, set_precision  # noqa: E402
from model.modernbert import ModernBertModel  # noqa: E402
from model.packing import pack_sequences  # noqa: E402
from tests.tinymodel import random_state_dict  # noqa: E402

BASE = dict(vocab_size=50368, hidden_size=768, intermediate_size=1152, num_hidden_layers=22, num_attention_heads=12)
CLS, SEP, PAD = 50281, 50282, 50283
CASES = ["32x128", "8x512", "mixed", "1x8192"]


def case_lengths(name: str, rng: torch.Generator) -> list[int]:
    if name == "mixed":
        return torch.randint(16, 1025, (32,), generator=rng).tolist()
    count, length = (int(x) for x in name.split("x"))
    return [length] * count


def random_sequences(lengths: list[int], rng: torch.Generator) -> list[list[int]]:
    return [[CLS] + torch.randint(0, 50280, (n - 2,), generator=rng).tolist() + [SEP] for n in lengths]


@torch.inference_mode()
def run_ours(model: ModernBertModel, sequences: list[list[int]], token_budget: int) -> torch.Tensor:
    """CLS embeddings in input order, batched the way the Encoder batches them."""
    out = torch.empty(len(sequences), model.config.hidden_size)
    device = model.embeddings.tok_embeddings.weight.device
    for batch in pack_sequences([len(s) for s in sequences], token_budget):
        seqlens = [len(sequences[i]) for i in batch]
        ids = torch.tensor([t for i in batch for t in sequences[i]], device=device)
        out[batch] = pool(model(ids, seqlens), seqlens, "cls").float().cpu()
    return out


@torch.inference_mode()
def run_reference(model, sequences: list[list[int]]) -> torch.Tensor:
    longest = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), longest), PAD)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    device = model.embeddings.tok_embeddings.weight.device
    return model(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state[:, 0].float().cpu()


def timed(fn, repeats: int):
    fn()  # warm-up
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()  # its result is copied to the CPU, which waits for a GPU to finish
        best = min(best, time.perf_counter() - start)
    return best, result


def print_profile(fn) -> None:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])]) as prof:
        fn()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of ours after a warm-up (best is kept)")
    parser.add_argument("--no-reference", action="store_true", help="time only our model")
    parser.add_argument("--token-budget", type=int, default=16384)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (both models run there)")
    parser.add_argument("--profile", action="store_true", help="after each of our timings, torch.profiler's top ops")
    args = parser.parse_args()
    # What load_encoder does on the CPU; it applies to the whole process, so to the reference as well.
    print(f"malloc keeps freed memory: {keep_freed_memory()}")

    from transformers import ModernBertConfig as HFConfig
    from transformers import ModernBertModel as HFModel

    hf_config = HFConfig(**BASE, pad_token_id=PAD)
    hf_config._attn_implementation = "sdpa"
    device = torch.device(args.device)
    reference = HFModel(hf_config).eval()
    # Weights scaled so every layer moves the residual stream as much as trained ones do (transformers'
    # own init barely changes it, which would make any precision look exact).
    state = random_state_dict(hidden=768, layers=22, intermediate=1152, vocab=50368, bias=False, seed=0)
    reference.load_state_dict(state, strict=True)
    reference_bf16 = copy.deepcopy(reference).to(device, torch.bfloat16)  # a copy: casting back would lose bits
    reference = reference.to(device)

    def ours_in(precision: str) -> ModernBertModel:
        model = ModernBertModel(ModernBertConfig.from_dict({**BASE, "pad_token_id": PAD}))
        model.load_checkpoint_state(state)
        return set_precision(model.eval().to(device), precision)

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}, load {os.getloadavg()[0]:.1f}")
    print(f"{'case':>8} {'precision':>9} {'tokens':>6} {'ours tok/s':>10} {'ref tok/s':>9} {'ratio':>6} {'cos min':>8} {'cos mean':>8}")
    rng = torch.Generator().manual_seed(0)
    # All cases are drawn in one fixed order, so a subset sees the same sequences as a full run.
    every = {name: random_sequences(case_lengths(name, rng), rng) for name in CASES}
    cases = {name: every[name] for name in args.cases}
    models = {p: ours_in(p) for p in args.precisions}
    for name, sequences in cases.items():
        tokens = sum(len(s) for s in sequences)
        start = time.perf_counter()
        if args.no_reference:  # our float32 model stands in (it matches the reference, see tests/model)
            truth = run_ours(models.get("float32") or ours_in("float32"), sequences, args.token_budget)
        else:  # float32 reference embeddings for the cosine, and the reference's float32 timing
            truth = run_reference(reference, sequences)
        ref_seconds = {"float32": time.perf_counter() - start}
        for precision in args.precisions:
            seconds, pooled = timed(lambda: run_ours(models[precision], sequences, args.token_budget), args.repeats)
            cosines = torch.nn.functional.cosine_similarity(pooled, truth)
            if args.profile:
                print_profile(lambda: run_ours(models[precision], sequences, args.token_budget))
            ref_rate, ratio = "-", "-"
            if not args.no_reference and precision in ("float32", "bfloat16"):
                if precision not in ref_seconds:  # one run: the reference is slow, and steady
                    start = time.perf_counter()
                    run_reference(reference_bf16, sequences)
                    ref_seconds[precision] = time.perf_counter() - start
                ref_rate = f"{tokens / ref_seconds[precision]:.0f}"
                ratio = f"{ref_seconds[precision] / seconds:.1f}x"
            print(f"{name:>8} {precision:>9} {tokens:>6} {tokens / seconds:>10.0f} {ref_rate:>9} {ratio:>6} {cosines.min():>8.6f} {cosines.mean():>8.6f}")
            sys.stdout.flush()
    print(f"load {os.getloadavg()[0]:.1f} at the end; cosine of CLS embeddings vs the float32 reference, min and mean over the case's sequences")


if __name__ == "__main__":
    main()
