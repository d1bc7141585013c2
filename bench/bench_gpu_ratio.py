"""The ``hf:`` backend and BERTScore against their plain counterparts, on one GPU. Prints ratios; asserts nothing.

    python bench/bench_gpu_ratio.py [--arch llama-3.2-1b] [--requests 256] [--batch-size 32] [--max-new-tokens 64]
        [--bertscore-n 2700] [--device cuda|cpu]
    python bench/bench_gpu_ratio.py --dry-run        # what it would measure; needs neither torch nor a GPU

1. Generation: one random-weight model of a real architecture (bench_hf_gpu.py's
   configurations, built on the spot, nothing downloaded) is saved once and timed
   twice on the same requests (a CLUE task's demo prompts, repeated): through
   ``HFBackend`` as ``clue run --model hf:FOLDER`` runs it, and through a plain
   transformers loop (the chat template, left padding, ``model.generate`` greedy,
   batches in request order). Ratio = clue's tokens/s over the loop's.
2. BERTScore: ``--bertscore-n`` synthetic pairs scored by clue's metric and by
   ``bert_score.score`` directly, on a random BERT of SciBERT's shape (layer 8).
   Ratio = clue's pairs/s over the direct call's.

The CPU CI runs only ``--dry-run`` (tests/core/test_bench_scripts.py); the numbers
come from a machine with a GPU (``--device cpu --arch tiny`` is a smoke check).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "helpers"))  # tiny_model.py


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="llama-3.2-1b", help="a configuration of bench_hf_gpu.py (tiny for a CPU check)")
    parser.add_argument("--task", default="mednli")
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--bertscore-n", type=int, default=2700, help="pairs for the BERTScore ratio (0: skip it)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="print what would be measured and exit (no torch needed)")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> list[str]:
    from bench_hf_gpu import ARCHS

    if args.arch not in ARCHS:
        raise SystemExit(f"unknown --arch {args.arch!r}; known: {', '.join(sorted(ARCHS))}")
    lines = [
        f"generation: {args.arch} random weights on {args.device}, {args.requests} {args.task} requests, "
        f"batch {args.batch_size}, max_new_tokens {args.max_new_tokens}, greedy: hf: backend vs plain generate loop",
    ]
    if args.bertscore_n:
        lines.append(f"bertscore: {args.bertscore_n} pairs, random SciBERT-shaped BERT (layer 8): clue's metric vs bert_score.score")
    return lines


def requests_for(args: argparse.Namespace, backend) -> list:
    from clue.tasks import BuildContext, get_task

    task = get_task(args.task)
    ctx = BuildContext(seed=42, tokenizer=backend.tokenizer, context_length=backend.context_length, max_new_tokens=args.max_new_tokens)
    base = [c.request for c in task.build(task.load(task.demo_path()), ctx)]
    return [replace(base[i % len(base)], id=f"{base[i % len(base)].id}#{i}") for i in range(args.requests)]


def time_clue(folder: Path, args: argparse.Namespace, dtype: str) -> tuple[float, int, list]:
    from bench_hf_gpu import sync

    from clue.models.hf import HFBackend

    backend = HFBackend(str(folder), {"batch_size": args.batch_size, "dtype": dtype, "device": args.device})
    requests = requests_for(args, backend)
    list(backend.generate(requests[: args.batch_size]))  # warm-up
    sync()
    start = time.perf_counter()
    completions = list(backend.generate(requests))
    sync()
    elapsed = time.perf_counter() - start
    backend.close()
    tokens = sum(c.meta.get("completion_tokens", 0) for c in completions if c.ok)
    return tokens / elapsed, tokens, requests


def time_plain(folder: Path, args: argparse.Namespace, dtype: str, requests: list) -> tuple[float, int]:
    import torch
    from bench_hf_gpu import sync
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).to(args.device).eval()
    texts = [tok.apply_chat_template([{"role": m.role, "content": m.content} for m in r.messages],
                                     add_generation_prompt=True, tokenize=False) for r in requests]

    def run(batch_texts: list[str]) -> int:
        made = 0
        for i in range(0, len(batch_texts), args.batch_size):
            enc = tok(batch_texts[i : i + args.batch_size], return_tensors="pt", padding=True, add_special_tokens=False).to(args.device)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=args.max_new_tokens, do_sample=False, pad_token_id=pad)
            new = out[:, enc["input_ids"].shape[1]:]
            for row in new.tolist():
                n = len(row)
                for j, t in enumerate(row):
                    if t == tok.eos_token_id:
                        n = j
                        break
                made += n
        return made

    run(texts[: args.batch_size])  # warm-up
    sync()
    start = time.perf_counter()
    tokens = run(texts)
    sync()
    return tokens / (time.perf_counter() - start), tokens


def bertscore_ratio(args: argparse.Namespace) -> tuple[float, float]:
    """Pairs/s of clue's metric and of ``bert_score.score`` on the same model, layer and texts (models loaded before timing)."""
    from bench_bertscore import scibert_shaped, texts
    from bert_score import BERTScorer

    from clue.metrics.bertscore import BertScore, BertScoreConfig, load_scorer
    from clue.store.metric_cache import MetricCache

    preds, refs = texts(args.bertscore_n, 1)
    with tempfile.TemporaryDirectory() as tmp:
        model = str(scibert_shaped(Path(tmp) / "scibert-shaped"))
        config = BertScoreConfig(model=model, layer=8, device=args.device, batch_size=64)
        metric = BertScore(config, MetricCache(Path(tmp) / "cache.sqlite"))
        load_scorer(metric.model, config)
        start = time.perf_counter()
        metric.score(preds, refs)
        clue_rate = len(preds) / (time.perf_counter() - start)
        plain = BERTScorer(model_type=model, num_layers=8, device=args.device, batch_size=64)
        start = time.perf_counter()
        plain.score(preds, refs)
        plain_rate = len(preds) / (time.perf_counter() - start)
    return clue_rate, plain_rate


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    for line in plan(args):
        print(line)
    if args.dry_run:
        return
    import torch
    from bench_hf_gpu import ARCHS
    from tiny_model import CHATML, build_model_folder

    on_gpu = args.device.startswith("cuda")
    if on_gpu and not torch.cuda.is_available():
        raise SystemExit("bench_gpu_ratio: no CUDA device (use --device cpu --arch tiny for a smoke check)")
    dtype = "bfloat16" if on_gpu else "float32"
    folder = Path(tempfile.mkdtemp(prefix=f"clue-ratio-{args.arch}-"))
    try:
        build_model_folder(folder, CHATML, max_positions=8192, config={**ARCHS[args.arch], "initializer_range": 0.02},
                           dtype=dtype, device=args.device)
        clue_rate, clue_tokens, requests = time_clue(folder, args, dtype)
        plain_rate, plain_tokens = time_plain(folder, args, dtype, requests)
        print(f"generation tokens/s: clue hf: {clue_rate:.0f} ({clue_tokens} tokens), plain generate {plain_rate:.0f} "
              f"({plain_tokens} tokens), ratio {clue_rate / plain_rate:.2f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.bertscore_n:
        clue_bs, plain_bs = bertscore_ratio(args)
        print(f"bertscore pairs/s: clue {clue_bs:.0f}, bert_score.score {plain_bs:.0f}, ratio {clue_bs / plain_bs:.2f}x")


if __name__ == "__main__":
    main()
