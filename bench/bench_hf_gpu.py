"""Benchmark: the ``hf:`` backend on one GPU, against the card's memory-bandwidth limit.

    python bench/bench_hf_gpu.py [--arch llama-3.2-1b|llama-3.1-8b] [--task mednli]
        [--requests 256] [--batch-sizes 1,8,32,64] [--max-new-tokens 64] [--bandwidth-gbs N]

Builds a random-weight model of a real architecture (the config of
Llama-3.2-1B or Llama-3.1-8B, written out here: nothing is downloaded) in
bfloat16 on the GPU, saves it with a tokenizer trained on the spot, and loads
it back through ``HFBackend``, exactly as ``clue run --model hf:FOLDER`` would.
The requests are one CLUE task's real prompts (the bundled demo data, or
``--data FILE``), repeated to ``--requests``.

For each batch size it prints decode tokens per second and the bound set by
memory bandwidth: each decode step reads every weight once, so a batch of b
sequences can make at most b * bandwidth / (weight bytes + b * KV bytes read)
tokens per second. Prefill time (measured with max_new_tokens=1) is
subtracted before dividing. Needs a CUDA GPU with torch and transformers; on a
machine without one it says so and exits.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))  # tiny_model.py

# Published configurations, written out (no hub access on the GPU machines).
ARCHS: dict[str, dict] = {
    # For a smoke check of this script on a CPU (--device cpu --arch tiny).
    "tiny": dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=2, head_dim=64),
    "llama-3.2-1b": dict(
        hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
        num_key_value_heads=8, head_dim=64, vocab_size=128256, max_position_embeddings=131072,
        rope_theta=500000.0, tie_word_embeddings=True, rms_norm_eps=1e-5,
    ),
    "llama-3.1-8b": dict(
        hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, head_dim=128, vocab_size=128256, max_position_embeddings=131072,
        rope_theta=500000.0, tie_word_embeddings=False, rms_norm_eps=1e-5,
    ),
}
# Peak memory bandwidth in GB/s, from the vendors' data sheets.
BANDWIDTH_GBS = {
    "H200": 4800, "H100 SXM": 3350, "H100 80GB HBM3": 3350, "H100 PCIe": 2000, "H100 NVL": 3900,
    "A100-SXM4-80GB": 2039, "A100 80GB PCIe": 1935, "A100-SXM4-40GB": 1555, "A100-PCIE-40GB": 1555,
    "L40S": 864, "L4": 300, "A10G": 600, "RTX 4090": 1008,
}


def card_bandwidth(name: str, given: float | None) -> float | None:
    if given:
        return given
    for key, value in BANDWIDTH_GBS.items():
        if key.lower() in name.lower():
            return float(value)
    return None


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed_generate(backend, requests) -> tuple[float, int]:
    sync()
    start = time.perf_counter()
    completions = list(backend.generate(requests))
    sync()
    elapsed = time.perf_counter() - start
    failed = [c for c in completions if not c.ok]
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0].error}")
    return elapsed, sum(c.meta["completion_tokens"] for c in completions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="llama-3.2-1b")
    parser.add_argument("--task", default="mednli")
    parser.add_argument("--data", type=Path, help="the task's file (default: bundled demo data)")
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--batch-sizes", default="1,8,32,64")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--bandwidth-gbs", type=float, help="the card's peak memory bandwidth, if not in the table")
    parser.add_argument("--folder", type=Path, help="where to save the model (default: a temp folder)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu, for a smoke check with --arch tiny")
    args = parser.parse_args()

    import torch

    on_gpu = args.device.startswith("cuda")
    if on_gpu and not torch.cuda.is_available():
        raise SystemExit("bench_hf_gpu: no CUDA device; this benchmark needs a GPU")
    gpu = torch.cuda.get_device_name(0) if on_gpu else "cpu"
    bandwidth = card_bandwidth(gpu, args.bandwidth_gbs)
    dtype = "bfloat16" if on_gpu else "float32"
    folder = args.folder or Path(tempfile.mkdtemp(prefix=f"clue-bench-{args.arch}-"))
    try:
        measure(args, folder, gpu, bandwidth, dtype, on_gpu)
    finally:
        if args.folder is None:  # a 1B model is 2.5 GB on disk, an 8B one 16 GB
            shutil.rmtree(folder, ignore_errors=True)


def measure(args: argparse.Namespace, folder: Path, gpu: str, bandwidth: float | None, dtype: str, on_gpu: bool) -> None:
    from tiny_model import CHATML, build_model_folder

    from clue.models.hf import HFBackend
    from clue.tasks import BuildContext, get_task

    t0 = time.perf_counter()
    # Realistic weight scale (0.02): random logits stop at EOS about as rarely as any token.
    config = {**ARCHS[args.arch], "initializer_range": 0.02}
    build_model_folder(folder, CHATML, max_positions=8192, config=config, dtype=dtype, device=args.device)
    print(f"{args.arch}: random weights built and saved in {time.perf_counter() - t0:.1f} s ({folder})")

    task = get_task(args.task)
    items = task.load(args.data or get_task(args.task).demo_path())
    print(f"GPU: {gpu}; peak memory bandwidth: {bandwidth or 'unknown (pass --bandwidth-gbs)'} GB/s")
    print(f"task {args.task}: {args.requests} requests, max_new_tokens {args.max_new_tokens}, greedy")
    print("batch  prefill_s  decode_s  decode_tok/s  bound_tok/s  share_of_bound")
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        backend = HFBackend(str(folder), {"batch_size": batch_size, "dtype": dtype, "device": args.device})
        ctx = BuildContext(seed=42, tokenizer=backend.tokenizer, context_length=backend.context_length)
        base = [c.request for c in task.build(items, replace(ctx, max_new_tokens=args.max_new_tokens))]
        requests = [replace(base[i % len(base)], id=f"{base[i % len(base)].id}#{i}") for i in range(args.requests)]
        prefill_only = [replace(r, decoding=replace(r.decoding, max_new_tokens=1)) for r in requests]
        timed_generate(backend, requests[: batch_size])  # warm-up: kernels, allocator
        prefill_s, _ = timed_generate(backend, prefill_only)
        total_s, tokens = timed_generate(backend, requests)
        decode_s = max(total_s - prefill_s, 1e-9)
        decode_tokens = tokens - len(requests)
        rate = decode_tokens / decode_s
        weight_bytes = sum(p.numel() * p.element_size() for p in backend.model.parameters())
        cfg = backend.model.config
        # KV bytes read per token of context: 2 (K and V) * layers * kv heads * head dim * 2 bytes.
        kv_per_token = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * (2 if on_gpu else 4)
        mean_context = sum(len(backend.encode_prompt(backend.prompt_text(r), True)) for r in base) / len(base)
        mean_context += args.max_new_tokens / 2
        bound = None
        if bandwidth:
            step_bytes = weight_bytes + batch_size * mean_context * kv_per_token
            bound = batch_size * bandwidth * 1e9 / step_bytes
        share = f"{rate / bound:.0%}" if bound else "-"
        print(
            f"{batch_size:>5}  {prefill_s:>9.2f}  {decode_s:>8.2f}  {rate:>12.0f}  "
            f"{(f'{bound:.0f}' if bound else '-'):>11}  {share:>14}"
        )
        backend.close()


if __name__ == "__main__":
    main()
