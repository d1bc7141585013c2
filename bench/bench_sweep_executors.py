"""How much faster a sweep runs spread over Ray workers than one model after another. Prints numbers; asserts nothing.

    python bench/bench_sweep_executors.py            # 6 models x 60 requests, ~4 minutes on 2 cores
    python bench/bench_sweep_executors.py --quick    # 6 models x 10 requests, a smoke test

Six models, each served by its own fake OpenAI-compatible server
(tests/helpers/fakeserver.py, one process each) answering after 100 ms plus
5 ms per token (64 tokens: 0.42 s a request), one request in flight per model
(concurrency 1: each model is latency-bound, as a single GPU server often is).
The same sweep file (a synthetic MedNLI file, ``max_new_tokens = 64``) runs:

  sequential  ``clue sweep`` with the local executor: one model after another
  ray         ``clue sweep --executor ray`` on a local Ray cluster with 3 CPUs: 3 models at once

Wall time of the sweep (load, generate, score, write of every model). The Ray
cluster is started before the timer, as a cluster is running before a sweep
is sent to it; its start-up is printed apart. Target: ray >= 2.5x sequential.
Both sweeps must produce byte-identical results.json files (checked, printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

MODELS = 6
WORKERS = 3
FIRST_TOKEN_S, PER_TOKEN_S, TOKENS = 0.100, 0.005, 64

from bench_openai import fake_server, write_mednli

from clue.pipeline.executors import LocalExecutor, RayExecutor
from clue.pipeline.sweep import load_sweep, run_sweep


def write_sweep(path: Path, out: Path, urls: list[str], data: Path) -> Path:
    lines = [f'output = "{out}"', 'tasks = "mednli"', "seed = 42", f'data = {{ mednli = "{data}" }}',
             f"max_new_tokens = {TOKENS}", ""]
    for i, url in enumerate(urls):
        lines += ["[[models]]", 'spec = "openai:fake-model"', f'name = "model-{i}"',
                  f'options = {{ base_url = "{url}", concurrency = 1, max_retries = 0 }}', ""]
    path.write_text("\n".join(lines))
    return path


def timed_sweep(config: Path, executor) -> tuple[float, list]:
    plan = load_sweep(config)
    t0 = time.perf_counter()
    outcomes = run_sweep(plan, log=lambda line: None, executor=executor)
    seconds = time.perf_counter() - t0
    bad = [(o.name, o.error) for o in outcomes if o.status != "done"]
    if bad:
        raise SystemExit(f"the sweep failed: {bad}")
    return seconds, plan.models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 requests per model instead of 60")
    args = parser.parse_args()
    # Ray binds to the machine's interface and talks to itself there: only in a loopback-only namespace.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.helpers.netns import PROXY_VARIABLES, in_loopback_namespace, not_loopback_only_reason, only_loopback

    if not only_loopback():
        argv = in_loopback_namespace([sys.executable, *sys.argv])
        if argv is None:
            sys.exit(f"bench_sweep_executors: {not_loopback_only_reason()}")
        env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
        os.execvpe(argv[0], argv, env)
    with tempfile.TemporaryDirectory(prefix="clue-bench-sweep-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        # MedNLI keeps 3 items for its few-shot demonstrations; the rest are the requests.
        data = write_mednli(root / "mednli.jsonl", (10 if args.quick else 60) + 3)
        urls = [stack.enter_context(fake_server(FIRST_TOKEN_S, PER_TOKEN_S, TOKENS)) for _ in range(MODELS)]
        seq_s, seq_models = timed_sweep(write_sweep(root / "seq.toml", root / "seq", urls, data), LocalExecutor())
        requests = sum(json.loads((m.output / "results.json").read_text())["cost"]["requests"] for m in seq_models)

        t0 = time.perf_counter()
        ray_executor = RayExecutor(init_options={"num_cpus": WORKERS, "num_gpus": 0, "include_dashboard": False})
        startup_s = time.perf_counter() - t0
        try:
            ray_s, ray_models = timed_sweep(write_sweep(root / "ray.toml", root / "ray", urls, data), ray_executor)
        finally:
            ray_executor.close()
        same = all((a.output / "results.json").read_bytes() == (b.output / "results.json").read_bytes()
                   for a, b in zip(seq_models, ray_models))
        ideal = requests * (FIRST_TOKEN_S + PER_TOKEN_S * TOKENS)
        print(f"{MODELS} models x {requests // MODELS} requests, {FIRST_TOKEN_S * 1000:.0f} ms + "
              f"{PER_TOKEN_S * 1000:.0f} ms/token x {TOKENS} tokens, concurrency 1 per model")
        print(f"  sequential (local executor)   {seq_s:7.1f} s   (pure latency: {ideal:.1f} s)")
        print(f"  ray, {WORKERS} workers               {ray_s:7.1f} s   (+ {startup_s:.1f} s to start the local cluster)")
        print(f"  speed-up                      {seq_s / ray_s:7.2f} x   (target >= 2.5 x; "
              f"{seq_s / (ray_s + startup_s):.2f} x counting the cluster's start)")
        print(f"  results.json identical        {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
