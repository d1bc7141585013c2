"""Start-up and whole-run rate of `clue run` against a bare aiohttp loop, side by side. Prints a table; asserts nothing.

    python bench/bench_startup.py                 # 1,000 MedNLI requests, concurrency 64, 3 rounds each
    python bench/bench_startup.py --n 200 --rounds 1

A local stub server (aiohttp, its own process, 127.0.0.1 only) answers every
chat completion after 100 ms + 5 ms per token (``--tokens``, default 64:
415 ms) and records, per round, when the first request arrived and when the
last answer left. Each contender is a fresh process started at t0:

    bare   python + aiohttp: read the request bodies, POST them with ``--concurrency``
           workers; nothing else (the floor any client pays)
    clue   ``clue run --model openai:stub --base-url URL --tasks mednli`` on the same
           file: imports, loading and building the task, the run store, scoring,
           results; the same requests (the bodies the bare loop sends are the ones
           clue sent in a warm-up run, read from the stub)

    start      = first request at the server - t0
    whole-run  = requests / (last answer - t0), and the whole process (exit - t0)

Targets (issue 11): clue's start within 1.5x the bare loop's; clue's whole-run
rate >= 0.95x the bare loop's. Rounds alternate between the contenders; the
median round of each is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_openai import write_mednli  # the same synthetic MedNLI file, beside this script

ROOT = Path(__file__).resolve().parents[1]

# -- the stub server (run as: bench_startup.py --serve PORTFILE) ----------------------------------


def serve(first_token: float, per_token: float, tokens: int, max_seconds: float) -> None:
    from aiohttp import web

    state: dict = {"first": None, "last": None, "count": 0, "bodies": []}
    answer = " ".join(["entailment"] + ["word"] * (tokens - 1))

    async def chat(request: web.Request) -> web.Response:
        now = time.time()
        body = await request.read()
        if state["first"] is None:
            state["first"] = now
        state["bodies"].append(body.decode("utf-8"))
        await asyncio.sleep(first_token + per_token * tokens)
        state["count"] += 1
        state["last"] = time.time()
        payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "length"}],
                   "usage": {"prompt_tokens": 100, "completion_tokens": tokens}}
        return web.json_response(payload)

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "stub", "object": "model", "max_model_len": 8192}]})

    async def stats(request: web.Request) -> web.Response:
        out = {k: state[k] for k in ("first", "last", "count")}
        if request.query.get("bodies"):
            out["bodies"] = state["bodies"]
        state.update(first=None, last=None, count=0, bodies=[])
        return web.json_response(out)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_get("/v1/models", models)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"PORT {port}", flush=True)
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
        try:
            await asyncio.wait_for(stop, max_seconds)
        except asyncio.TimeoutError:
            pass
        await runner.cleanup()

    asyncio.run(main())


# -- the bare loop (run as: bench_startup.py --bare URL BODIES CONCURRENCY) ------------------------


def bare(url: str, bodies_path: str, concurrency: int) -> None:
    import aiohttp

    bodies = [line.encode("utf-8") for line in Path(bodies_path).read_text(encoding="utf-8").splitlines()]

    async def main() -> None:
        pending = list(reversed(bodies))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

            async def worker() -> None:
                while pending:
                    body = pending.pop()
                    async with session.post(url + "/chat/completions", data=body,
                                            headers={"Content-Type": "application/json"}) as response:
                        await response.read()

            await asyncio.gather(*(worker() for _ in range(min(concurrency, len(bodies)))))

    asyncio.run(main())


# -- the benchmark ---------------------------------------------------------------------------------


def stats(base: str, bodies: bool = False) -> dict:
    import urllib.request

    with urllib.request.urlopen(base + "/stats" + ("?bodies=1" if bodies else ""), timeout=30) as response:
        return json.loads(response.read())


def run_clue(url: str, data: Path, out: Path, concurrency: int) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "clue.cli", "run", "--model", "openai:stub", "--base-url", url, "--tasks", "mednli",
           "--data", f"mednli={data}", "--output", str(out), "--concurrency", str(concurrency), "--bootstrap", "0", "--refresh"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    if proc.returncode != 0:
        raise RuntimeError(f"clue run failed:\n{proc.stderr[-2000:]}")
    return t0, time.time()


def run_bare(url: str, bodies: Path, concurrency: int) -> tuple[float, float]:
    t0 = time.time()
    subprocess.run([sys.executable, __file__, "--bare", url, str(bodies), str(concurrency)], check=True)
    return t0, time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="requests per run (MedNLI items)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=64, help="tokens per answer (100 ms + 5 ms each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(0.1, 0.005, args.tokens, 3600)
        return
    if args.bare:
        bare(args.bare[0], args.bare[1], int(args.bare[2]))
        return

    server = subprocess.Popen([sys.executable, __file__, "--serve", "--tokens", str(args.tokens)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("PORT "):
            raise RuntimeError(f"stub server did not start: {line!r}")
        base = f"http://127.0.0.1:{int(line.split()[1])}"
        url = base + "/v1"
        with tempfile.TemporaryDirectory() as tmp:
            data = write_mednli(Path(tmp) / "mli_test_v1.jsonl", args.n + 3)  # 3 become the few-shot demonstrations
            # Warm-up: one clue run, whose request bodies the bare loop then sends verbatim.
            run_clue(url, data, Path(tmp) / "warm", args.concurrency)
            sent = stats(base, bodies=True)
            bodies = Path(tmp) / "bodies.jsonl"
            bodies.write_text("\n".join(sent["bodies"]) + "\n", encoding="utf-8")
            results: dict[str, list[tuple[float, float, float]]] = {"bare": [], "clue": []}
            for r in range(args.rounds):
                for name in ("bare", "clue"):
                    if name == "bare":
                        t0, end = run_bare(url, bodies, args.concurrency)
                    else:
                        t0, end = run_clue(url, data, Path(tmp) / f"run{r}", args.concurrency)
                    s = stats(base)
                    if s["count"] != len(sent["bodies"]):
                        raise RuntimeError(f"{name}: the server answered {s['count']} requests, expected {len(sent['bodies'])}")
                    results[name].append((s["first"] - t0, s["last"] - t0, end - t0))
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(30)

    n = len(sent["bodies"])
    load = os.getloadavg()
    print(f"\n{n} requests, concurrency {args.concurrency}, stub latency 100 ms + 5 ms x {args.tokens} tokens "
          f"= {100 + 5 * args.tokens} ms; {args.rounds} round(s), median shown; {os.cpu_count()} CPUs, load {load[0]:.1f}")
    print(f"ideal (no start, no client cost): {n / args.concurrency * (0.1 + 0.005 * args.tokens):.2f} s, "
          f"{args.concurrency / (0.1 + 0.005 * args.tokens):.1f} req/s")
    print(f"{'':8}{'start s':>10}{'last answer s':>15}{'whole-run req/s':>17}{'process s':>11}")
    med: dict[str, tuple[float, float, float]] = {}
    for name, rows in results.items():
        med[name] = tuple(statistics.median(r[i] for r in rows) for i in range(3))  # type: ignore[assignment]
        first, last, end = med[name]
        print(f"{name:8}{first:>10.3f}{last:>15.3f}{n / last:>17.1f}{end:>11.3f}")
    start_ratio = med["clue"][0] / med["bare"][0]
    rate_ratio = med["bare"][1] / med["clue"][1]
    print(f"clue start / bare start = {start_ratio:.2f}x (target <= 1.5x); "
          f"clue whole-run rate / bare = {rate_ratio:.3f}x (target >= 0.95x)")


if __name__ == "__main__":
    main()
