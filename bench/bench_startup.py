"""Start-up, whole-run rate and client CPU of `clue run` against a bare aiohttp loop, side by side. Prints a table.

    python bench/bench_startup.py                        # 1,000 MedNLI requests, concurrency 64, 5 rounds
    python bench/bench_startup.py --n 200 --rounds 1     # a smoke test
    python bench/bench_startup.py --before ../old-clue   # and a second clue, imported from another source tree

Two local stub servers (aiohttp, each its own process, 127.0.0.1 only) answer
every chat completion: one at once ("0 ms"), one after 100 ms + 5 ms per token
(``--tokens``, default 63: 415 ms). Each contender is a fresh process started
at t0, and each measurement alternates between the contenders (one interleaved
run; the median round of each is reported):

    bare   python + aiohttp: read the request bodies, POST them with ``--concurrency``
           workers; nothing else (the floor any client pays)
    clue   ``clue run --model openai:stub --base-url URL --tasks mednli`` on the same
           file: imports, loading and building the task, the run store, scoring,
           intervals, results; the same requests (the bodies the bare loop sends are
           the ones clue sent in a warm-up run, read from the stub)

Every tree's clue/ is compiled to bytecode first, as an installed package is.

Columns:

    start s         the whole process with ``--limit 1`` (one request) against the 0 ms server
    first req s     when that one request reached the server (t0 = process start)
    req/s 0 ms      ``--n`` requests / the whole process, against the 0 ms server
    req/s 415 ms    ``--n`` requests / the whole process, against the 415 ms server
    CPU ms/req      the client process's CPU (user + system, from its rusage) per request at
                    0 ms, less the ``--limit 1`` run's: what each further request costs

Targets (issue 22): clue's start within 1.5x the bare loop's; its whole run at
415 ms at 0.97x the loop's rate or better; its CPU per request at 0 ms half of
what it was before that issue's work or less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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
        if first_token or per_token:
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


@dataclass
class Timed:
    wall: float  # process start to exit, s
    cpu: float  # the process's user + system CPU, s
    first: float  # the first request at the server, s after the process started


def timed(cmd: list[str], base: str, expect: int, cwd: Path | None = None) -> Timed:
    """Run ``cmd`` to its end; its wall time, its own CPU (its rusage) and when its first request arrived."""
    stats(base)  # reset the server's counters
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env={**os.environ, "COLUMNS": "120"})
    _, err = proc.communicate()
    wall = time.time() - t0
    # communicate() reaped the child: its rusage is what RUSAGE_CHILDREN grew by (the servers still run)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{err[-2000:]}")
    s = stats(base)
    if s["count"] != expect:
        raise RuntimeError(f"{cmd[:4]}: the server answered {s['count']} requests, expected {expect}")
    return Timed(wall, cpu, s["first"] - t0)


def clue_cmd(url: str, data: Path, out: Path, concurrency: int, limit: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "clue.cli", "run", "--model", "openai:stub", "--base-url", url, "--tasks", "mednli",
           "--data", f"mednli={data}", "--output", str(out), "--concurrency", str(concurrency), "--refresh"]
    return cmd + (["--limit", str(limit)] if limit else [])


def bare_cmd(url: str, bodies: Path, concurrency: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--bare", url, str(bodies), str(concurrency)]


def start_server(tokens: int, latency: bool) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--tokens", str(tokens)]
    if not latency:
        cmd.append("--instant")
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("PORT "):
        raise RuntimeError(f"stub server did not start: {line!r}")
    return server, f"http://127.0.0.1:{int(line.split()[1])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="requests per run (MedNLI items)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=63, help="tokens per answer at the slow server (100 ms + 5 ms each)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a second clue, imported from this source tree (its clue/ folder)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--instant", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(0.0, 0.0, args.tokens, 3600) if args.instant else serve(0.1, 0.005, args.tokens, 3600)
        return
    if args.bare:
        bare(args.bare[0], args.bare[1], int(args.bare[2]))
        return

    trees: dict[str, Path | None] = {"clue": None}
    if args.before is not None:
        if not (args.before / "clue" / "__init__.py").is_file():
            raise SystemExit(f"--before {args.before}: no clue/ package there")
        trees = {"clue (before)": args.before.resolve(), "clue": None}
    # Every contender runs from compiled bytecode, as an installed package does: a tree without its .pyc
    # files (PYTHONDONTWRITEBYTECODE set, a fresh checkout) would pay for compiling each module on every start.
    for tree in [ROOT, *(t for t in trees.values() if t is not None)]:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "clue")], check=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    fast, fast_base = start_server(args.tokens, latency=False)
    slow, slow_base = start_server(args.tokens, latency=True)
    names = ["bare", *trees]
    rows: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    n = args.n
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = write_mednli(Path(tmp) / "mli_test_v1.jsonl", n + 3)  # 3 become the few-shot demonstrations
            # Warm-up: one clue run, whose request bodies the bare loop then sends verbatim.
            subprocess.run(clue_cmd(fast_base + "/v1", data, Path(tmp) / "warm", args.concurrency, None),
                           check=True, capture_output=True)
            sent = stats(fast_base, bodies=True)["bodies"]
            if len(sent) != n:
                raise RuntimeError(f"the warm-up run sent {len(sent)} requests, expected {n}")
            bodies = Path(tmp) / "bodies.jsonl"
            bodies.write_text("\n".join(sent) + "\n", encoding="utf-8")
            one = Path(tmp) / "one.jsonl"
            one.write_text(sent[0] + "\n", encoding="utf-8")

            def measure(name: str, base: str, limit: int | None, r: int) -> Timed:
                if name == "bare":
                    return timed(bare_cmd(base + "/v1", one if limit else bodies, args.concurrency),
                                 base, 1 if limit else n)
                out = Path(tmp) / f"{name.replace(' ', '_')}-{r}-{limit}-{base[-5:]}"
                cmd = clue_cmd(base + "/v1", data, out, args.concurrency, limit)
                return timed(cmd, base, 1 if limit else n, cwd=trees[name])

            for r in range(args.rounds):
                for name in names:
                    got = rows[name]
                    start = measure(name, fast_base, 1, r)
                    whole0 = measure(name, fast_base, None, r)
                    whole415 = measure(name, slow_base, None, r)
                    got.setdefault("start", []).append(start.wall)
                    got.setdefault("first", []).append(start.first)
                    got.setdefault("rate0", []).append(n / whole0.wall)
                    got.setdefault("rate415", []).append(n / whole415.wall)
                    got.setdefault("cpu", []).append(1000 * (whole0.cpu - start.cpu) / (n - 1))
    finally:
        for server in (fast, slow):
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(30)

    med = {name: {k: statistics.median(v) for k, v in got.items()} for name, got in rows.items()}
    load = os.getloadavg()
    print(f"\n{n} chat requests, concurrency {args.concurrency}; the slow server answers after "
          f"{100 + 5 * args.tokens} ms; median of {args.rounds} interleaved round(s); "
          f"{os.cpu_count()} CPUs, load {load[0]:.1f}; Python {sys.version.split()[0]}")
    print(f"| | start s | first req s | req/s 0 ms | req/s {100 + 5 * args.tokens} ms | client CPU ms/req |")
    print("|---|---|---|---|---|---|")
    for name, m in med.items():
        print(f"| {name} | {m['start']:.2f} | {m['first']:.2f} | {m['rate0']:.0f} | {m['rate415']:.1f} | {m['cpu']:.2f} |")
    b = med["bare"]
    for name in trees:
        m = med[name]
        print(f"{name}: start {m['start'] / b['start']:.2f}x the loop's (target <= 1.5x); whole run at "
              f"{100 + 5 * args.tokens} ms {m['rate415'] / b['rate415']:.3f}x the loop's rate (target >= 0.97x); "
              f"at 0 ms {m['rate0'] / b['rate0']:.2f}x its rate, {m['cpu'] / b['cpu']:.1f}x its CPU per request")
    if "clue (before)" in med:
        print(f"clue CPU per request at 0 ms: {med['clue']['cpu'] / med['clue (before)']['cpu']:.2f}x before "
              "(target <= 0.5x)")


if __name__ == "__main__":
    main()
