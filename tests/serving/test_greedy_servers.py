"""Greedy means greedy behind a server: hidden sampler defaults are neutralised where the server is known.

A fake server that applies a repeat penalty unless ``repeat_penalty: 1.0`` is sent stands in for
llama.cpp's (and llama-cpp-python's) server; a real llama-cpp-python server is used when the package
and the packaged SmolLM2 are present.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.helpers.serving import need_serving_packages, write_mednli

need_serving_packages()

from clue.models.openai import samplers
from clue.pipeline.config import RunSpec
from clue.pipeline.run import run_model


def run(server, tmp_path, name, **options):
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 6)
    config = RunSpec(model="openai:fake-model", tasks=["mednli"], output=tmp_path / name, data={"mednli": data},
                     bootstrap_resamples=0)
    run_model(config.with_changes(options={"base_url": server.url, "concurrency": 2, **options}))
    manifest = json.loads((tmp_path / name / "manifest.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / name / "predictions" / "mednli.jsonl").read_text().splitlines()]
    return manifest, rows


@pytest.mark.parametrize(("owned_by", "kind"), [("llamacpp", "llama.cpp"), ("me", "llama-cpp-python")])
def test_a_recognised_server_gets_the_neutral_repeat_penalty(serve, tmp_path, owned_by, kind):
    server = serve(owned_by=owned_by, repeat_penalty=1.1)
    manifest, rows = run(server, tmp_path, "run")
    assert all(hit.body.get("repeat_penalty") == 1.0 for hit in server.log)
    assert not any(str(r.get("output", "")).startswith("penalised") for r in rows)
    sampling = manifest["backend"]["sampling"]
    assert sampling["server"] == kind and sampling["neutral_fields"] == {"repeat_penalty": 1.0}
    assert sampling["greedy"].startswith("greedy")


def test_an_unknown_server_gets_nothing_extra_and_the_run_says_answers_may_not_be_greedy(serve, tmp_path):
    server = serve(repeat_penalty=1.1)  # owned_by "clue-tests": not recognised
    manifest, rows = run(server, tmp_path, "run")
    assert all("repeat_penalty" not in hit.body for hit in server.log)
    assert rows and all(r["output"].startswith("penalised") for r in rows)
    sampling = manifest["backend"]["sampling"]
    assert sampling["server"] is None and sampling["greedy"].startswith("may not be greedy")
    from clue.pipeline.run import decoding_note

    assert decoding_note(manifest["backend"]).startswith("answers may not be greedy (the server is not recognised")
    # the user's own value wins, and is what the server gets
    server2 = serve(owned_by="llamacpp", repeat_penalty=1.1)
    _, rows2 = run(server2, tmp_path, "run2", extra_body={"repeat_penalty": 1.3})
    assert all(hit.body.get("repeat_penalty") == 1.3 for hit in server2.log)


def test_neutral_fields_do_not_move_the_store_key(serve, tmp_path):
    """A run stored before servers were recognised resumes: the request key is the prompt's, not the body's."""
    plain = serve()
    run(plain, tmp_path, "run")
    first = len(plain.log)
    recognised = serve(owned_by="llamacpp", repeat_penalty=1.1)
    run(recognised, tmp_path, "run")  # the same output folder: everything comes from the store
    assert first > 0 and len(recognised.log) == 0


def test_the_table_per_server():
    assert samplers.SERVERS["ollama"].neutral == {} and samplers.SERVERS["ollama"].hidden["repeat_penalty"] == 1.1
    assert samplers.SERVERS["vllm"].neutral == {"repetition_penalty": 1.0}
    assert samplers.recognise({"owned_by": "vllm"}) == ("vllm", "model list (owned_by=vllm)")
    assert samplers.recognise({}, {"Server": "llama.cpp"})[0] == "llama.cpp"
    assert samplers.neutral_fields("llama.cpp", False, {}) == {}  # sampled decoding: left as asked
    record = samplers.sampling_record("ollama", "model list (owned_by=library)", True, {})
    assert record["greedy"].startswith("may not be greedy") and "Modelfile" in record["greedy"]


SERVER_PARTS = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
SERVER_MISSING = [name for name in SERVER_PARTS if importlib.util.find_spec(name) is None]


@pytest.mark.skipif(bool(SERVER_MISSING),
                    reason=f"llama-cpp-python's server needs {', '.join(SERVER_MISSING)} (bash .ci/install-local.sh)")
def test_llama_cpp_python_server_answers_as_in_process(tmp_path):  # pragma: no cover - needs the package
    """The README's model in process and behind llama-cpp-python's own server, no extra option: the same answers."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from clue.models.llamacpp import smollm2_gguf

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
                             "--port", str(port), "--n_ctx", "8192"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
        outs = {}
        for name, model, options in (("local", "smollm2", {}), ("served", "openai:smollm2", {"base_url": url})):
            config = RunSpec(model=model, tasks=["mednli", "meqsum", "medisumcode"], output=tmp_path / name,
                             bootstrap_resamples=0, limit=3)
            run_model(config.with_changes(options=options))
            outs[name] = {task: [json.loads(x)["output"] for x in
                                 (tmp_path / name / "predictions" / f"{task}.jsonl").read_text().splitlines()]
                          for task in ("mednli", "meqsum", "medisumcode")}
        assert outs["local"] == outs["served"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
