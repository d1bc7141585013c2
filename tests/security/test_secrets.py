"""Secrets stay whole-masked (issue 14, items 5-6): URLs, command lines and server error texts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.serving import write_mednli


def test_one_redaction_for_urls_commands_and_error_texts():
    from clue.core.redact import redact, redact_command

    url = "http://user:sk-SECRET@127.0.0.1:8821/v1?api_key=sk-SECRET2&api-version=2024-06"
    assert redact(url) == "http://***@127.0.0.1:8821/v1?api_key=***&api-version=2024-06"
    assert redact_command(["clue", "run", "--base-url", url, "-O", f"base_url={url}"])[3:] == [
        "http://***@127.0.0.1:8821/v1?api_key=***&api-version=2024-06", "-O",
        "base_url=http://***@127.0.0.1:8821/v1?api_key=***&api-version=2024-06",
    ]
    assert redact("denied: Authorization: Bearer sk-abc.def") == "denied: Authorization: Bearer ***"
    assert redact("a&token=xyz b ?key=k1") == "a&token=*** b ?key=***"
    # A given key, whole or cut (by the server) to a prefix of at least six characters.
    key = "sk-LEAKTEST-0123456789"
    assert redact(f"bad key {key}!", [key]) == "bad key ***!"
    assert redact("bad key sk-LEAKTES", [key]) == "bad key ***"
    assert redact("sk-LE and sk-L", [key]) == "sk-LE and sk-L"  # too short to mean the key
    assert redact("nothing here", [None, ""]) == "nothing here"


def test_secrets_in_the_base_url_reach_no_file_and_no_output(serve, tmp_path):
    server = serve()
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 6)
    out = tmp_path / "run"
    url = f"http://127.0.0.1:{server.port}/v1?api_key=sk-SECRET2"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["CLUE_APPROVED_ENDPOINTS"] = str(tmp_path / "none.toml")
    proc = subprocess.run(
        [sys.executable, "-m", "clue.cli", "run", "--model", "openai:fake-model", "--base-url", url,
         "--tasks", "mednli", "--data", f"mednli={data}", "--output", str(out), "--bootstrap", "0"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert server.requests == 3
    assert "sk-SECRET" not in proc.stdout + proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files) and any(p.name == "store.sqlite" for p in files)
    for path in files:
        assert b"sk-SECRET" not in path.read_bytes(), path
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"http://127.0.0.1:{server.port}/v1?api_key=***" in manifest["command"]

    # A malformed URL with a secret: the error names the URL, masked.
    bad = subprocess.run(
        [sys.executable, "-m", "clue.cli", "run", "--model", "openai:fake-model", "--base-url",
         "ftp://user:sk-SECRET3@127.0.0.1:1/v1", "--tasks", "meqsum", "--output", str(tmp_path / "bad")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert bad.returncode == 2 and "ftp://***@127.0.0.1:1/v1" in bad.stderr and "sk-SECRET3" not in bad.stderr


def test_a_key_echoed_near_the_cut_is_masked_before_the_cut(serve, monkeypatch):
    from clue.core.records import Decoding, Message, Request
    from clue.models.openai import OpenAIBackend

    key = "sk-LEAKTEST-0123456789"
    monkeypatch.setenv("CLUE_TEST_KEY", key)
    # The key starts at character 290 of the server's text: cut first, "sk-LEAKTES" would be kept.
    echoed = serve(error_text="x" * 290 + f" {key} was refused", faults={"item-0": ["400"]})
    backend = OpenAIBackend("fake-model", {"base_url": echoed.url, "api_key_env": "CLUE_TEST_KEY", "context_length": 4096})
    request = Request(id="r0", messages=[Message("user", "item-0")], decoding=Decoding(max_new_tokens=4))
    [failed] = backend.generate([request])
    assert not failed.ok and failed.error is not None
    assert key[:6] not in failed.error and "***" in failed.error
    assert len(failed.error) <= len("HTTP 400: ") + 300 + len("...")

    # A server that cut the key itself: the prefix it kept is masked too.
    cut = serve(error_text=f"unknown key {key[:10]}", faults={"item-0": ["400"]})
    backend = OpenAIBackend("fake-model", {"base_url": cut.url, "api_key_env": "CLUE_TEST_KEY", "context_length": 4096})
    [failed] = backend.generate([request])
    assert failed.error == "HTTP 400: unknown key ***"


def test_url_credentials_are_refused_for_a_model_and_basic_credentials_masked(serve, tmp_path):
    """Issue 21 item 6: user:password@ in a base URL would replace the API key (httpx sends Basic auth)."""
    import base64

    from clue.core.redact import redact
    from tests.helpers.cli import clue

    server = serve()
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 6)
    ran = clue("run", "--model", "openai:fake-model", "--base-url", f"http://user:sk-SECRET4@127.0.0.1:{server.port}/v1",
               "--tasks", "mednli", "--data", f"mednli={data}", "--output", tmp_path / "run", "-O", "api_key_env=MYKEY",
               env={"MYKEY": "sk-the-real-key-123"})
    assert ran.returncode == 2, ran.stderr
    assert "carries a user name or password" in ran.stderr and "api_key_env" in ran.stderr
    assert "sk-SECRET4" not in ran.stderr and "Traceback" not in ran.stderr
    assert server.requests == 0 and not (tmp_path / "run").exists()

    token = base64.b64encode(b"user:sk-SECRET5").decode()
    assert redact(f'echo: {{"Authorization": "Basic {token}"}}') == 'echo: {"Authorization": "Basic ***"}'
    assert redact("Basic authentication is required") == "Basic authentication is required"
