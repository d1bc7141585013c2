"""One evaluation through the OpenAI backend and the run store, as `clue run` does it.

Used by test_resume.py as a subprocess that the test kills with SIGKILL and
then starts again. Usage: resume_run.py URL DATA_FILE RUN_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from clue.backends.openai_backend import OpenAIBackend
from clue.run.runner import RunConfig, evaluate
from clue.run.store import RunStore, stored_generate


def main(url: str, data: str, run_dir: str) -> None:
    out = Path(run_dir)
    config = RunConfig(
        model="openai:fake-model", tasks=["mednli"], output=out, data={"mednli": Path(data)}, command=["resume_run"]
    )
    backend = OpenAIBackend("fake-model", {"base_url": url, "concurrency": 4, "backoff_base": 0.01})
    with RunStore(out / "store.sqlite") as store:
        evaluate(config, backend, generate=lambda b, r: stored_generate(b, r, store))


if __name__ == "__main__":
    main(*sys.argv[1:4])
