"""The egress guard's side doors (issue 14, items 1-4): proxies, sweep files, relative config homes, addresses.

Every refusal here is aimed at a local listener that must hear nothing: ``0.0.0.0:PORT``
is refused by the guard yet reaches a socket on 127.0.0.1, and names are ``.invalid``
or resolved by a resolver the test injects. Nothing can reach another machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.pipeline import egress
from clue.pipeline.config import RunSpec
from clue.pipeline.egress import EgressRefused, approvals_path, check_egress, classify
from clue.tasks import get_task
from tests.helpers.serving import need_serving_packages, write_mednli

MEDNLI = [get_task("mednli")]


def clue(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clue.cli", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


def openai_backend(url: str, **options):
    need_serving_packages()
    from clue.models.openai import OpenAIBackend

    return OpenAIBackend("fake-model", {"base_url": url, **options})


def dns(table: dict[str, list[str]], calls: list[str] | None = None):
    def resolve(host: str) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


# -- 1. proxies are endpoints -------------------------------------------------------------------
def test_an_environment_proxy_is_checked_like_an_endpoint(serve, listener, tmp_path):
    server = serve()
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 6)
    env = {**_clean_env(tmp_path), "HTTP_PROXY": f"http://0.0.0.0:{listener.port}"}
    proc = clue("run", "--model", "openai:fake-model", "--base-url", server.url, "--tasks", "mednli",
                "--data", f"mednli={data}", "--output", str(tmp_path / "run"),
                "-O", "use_env_proxy=true", "-O", "timeout=2", "-O", "max_retries=0", env=env)
    assert proc.returncode == 4, proc.stderr
    assert f"the proxy http://0.0.0.0:{listener.port}" in proc.stderr and "Nothing was sent" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert listener.connections == 0 and server.requests == 0
    assert not (tmp_path / "run").exists()


def test_a_proxy_option_is_checked_and_no_proxy_is_honoured(serve, listener, monkeypatch):
    server = serve()
    backend = openai_backend(server.url, proxy=f"0.0.0.0:{listener.port}")
    assert backend.endpoints() == [server.url, f"http://0.0.0.0:{listener.port}"]
    with pytest.raises(EgressRefused, match="the proxy http://0.0.0.0"):
        check_egress(backend, MEDNLI, resolver=dns({}))

    # The environment's proxy, except for the hosts NO_PROXY names; without use_env_proxy, none.
    monkeypatch.setenv("HTTP_PROXY", f"http://0.0.0.0:{listener.port}")
    assert openai_backend(server.url).proxies() == []
    assert openai_backend(server.url, use_env_proxy="true").proxies() == [f"http://0.0.0.0:{listener.port}"]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = openai_backend(server.url, use_env_proxy="true")
    assert direct.proxies() == [] and [v.allowed for v in check_egress(direct, MEDNLI, resolver=dns({}))] == [True]
    [completion] = direct.generate(_requests(1))
    assert completion.ok and server.requests == 1 and listener.connections == 0


# -- 2. a sweep file cannot approve ---------------------------------------------------------------
@pytest.mark.parametrize("where", ["top", "model"])
def test_a_sweep_file_that_approves_endpoints_is_refused(tmp_path, where):
    from clue.pipeline.sweep import load_sweep

    approve = "approve_endpoints: [https://api.example.invalid:443]\n"
    model = "  - spec: openai:m\n    options: {base_url: 'https://api.example.invalid/v1'}\n"
    text = (approve if where == "top" else "") + "models:\n" + model + ("    " + approve if where == "model" else "")
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=r"'approve_endpoints' is refused: a sweep file cannot approve") as refused:
        load_sweep(path)
    assert "--approve-endpoint" in str(refused.value)


def test_clue_sweep_approves_from_the_command_line_only(tmp_path, listener):
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 5)
    sweep = tmp_path / "sweep.yaml"
    # 0.0.0.0 is no local address to the guard, but a connection there reaches the listener:
    # refused, it hears nothing; approved on the command line, it is asked.
    sweep.write_text(
        f"output: {tmp_path / 'out'}\ntasks: mednli\ndata: {{mednli: {data}}}\nlimit: 1\nmodels:\n"
        f"  - spec: openai:fake-model\n    name: m\n"
        f"    options: {{base_url: 'http://0.0.0.0:{listener.port}/v1', max_retries: 0, timeout: 2, context_length: 4096}}\n"
    )
    env = _clean_env(tmp_path)
    refused = clue("sweep", str(sweep), env=env)
    assert refused.returncode != 0 and "refusing to send credentialed data" in refused.stderr
    assert listener.connections == 0
    approved = clue("sweep", str(sweep), "--approve-endpoint", f"http://0.0.0.0:{listener.port}", env=env)
    assert "refusing" not in approved.stderr and listener.connections >= 1


# -- 3. only absolute approval paths count --------------------------------------------------------
def test_a_relative_config_home_is_ignored_and_a_relative_approvals_path_refused(tmp_path, monkeypatch):
    project = tmp_path / "cloned-project"
    (project / "clue").mkdir(parents=True)
    (project / "clue" / "approved-endpoints.toml").write_text('[[endpoint]]\nurl = "http://0.0.0.0:9"\n')
    home = tmp_path / "home"
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLUE_APPROVED_ENDPOINTS")
    monkeypatch.setenv("XDG_CONFIG_HOME", ".")
    assert approvals_path() == home / ".config" / "clue" / "approved-endpoints.toml"
    with pytest.raises(EgressRefused):
        check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, resolver=dns({}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(project))  # absolute: the user's choice
    check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, resolver=dns({}))

    monkeypatch.setenv("CLUE_APPROVED_ENDPOINTS", "clue/approved-endpoints.toml")
    with pytest.raises(UsageError, match="CLUE_APPROVED_ENDPOINTS.*relative path"):
        check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, resolver=dns({}))


# -- 4. decided by the address connected to -------------------------------------------------------
def test_a_localhost_subdomain_is_resolved_not_trusted(listener):
    url = f"http://evil.localhost:{listener.port}/v1"
    unresolved = classify(url, [], dns({}))
    assert not unresolved.allowed and "does not resolve" in unresolved.reason
    # It resolves (as the injected resolver says) to an address that is not local: refused, nothing sent.
    backend = openai_backend(url, max_retries=0, timeout=2, context_length=4096)
    with pytest.raises(EgressRefused, match="evil.localhost"):
        check_egress(backend, MEDNLI, resolver=dns({"evil.localhost": ["0.0.0.0"]}))
    assert listener.connections == 0


def test_the_client_connects_to_the_address_that_was_checked(serve, tmp_path, monkeypatch):
    server = serve()
    calls: list[str] = []
    # A .invalid name never resolves through DNS: the run can only succeed by connecting to the checked address.
    monkeypatch.setattr(egress, "system_resolver", dns({"model-host.invalid": ["127.0.0.1"]}, calls))
    from clue.pipeline.run import run_model

    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 6)
    config = RunSpec(model="openai:fake-model", tasks=["mednli"], output=tmp_path / "run",
                       data={"mednli": data}, bootstrap_resamples=0)
    url = f"http://model-host.invalid:{server.port}/v1"
    results = run_model(config.with_changes(options={"base_url": url, "max_retries": 0, "timeout": 5}))
    assert results.tasks["mednli"].diagnostics["failed_requests"] == 0
    assert results.tasks["mednli"].n == 3 and server.requests == 3
    assert calls == ["model-host.invalid"]  # resolved once; a second answer from DNS could not redirect the run


def test_a_pinned_backend_connects_to_no_other_host(serve):
    server = serve()
    backend = openai_backend(server.url, max_retries=0, context_length=4096)
    backend.pin({"other.invalid": ("127.0.0.1",)})
    [completion] = backend.generate(_requests(1))
    assert not completion.ok and "was not checked" in (completion.error or "")
    assert server.requests == 0


@pytest.mark.parametrize(
    "host",
    ["0177.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "127.0.0.01", "127.0.0.1.", "a@b@127.0.0.1", "a\\@127.0.0.1",
     "[fe80::1%25lo]", "ｌｏｃａｌｈｏｓｔ", "local%68ost"],
)
def test_urls_a_client_would_read_differently_are_refused(host):
    from clue.core.urls import parse_endpoint

    with pytest.raises(UsageError, match="not an endpoint URL"):
        parse_endpoint(f"http://{host}:8000/v1")


def test_a_non_canonical_address_ends_in_a_clear_message_and_sends_nothing(listener, tmp_path):
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 4)
    proc = clue("run", "--model", "openai:fake-model", "--base-url", f"http://0177.0.0.1:{listener.port}/v1",
                "--tasks", "mednli", "--data", f"mednli={data}", "--output", str(tmp_path / "run"),
                env=_clean_env(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "plain dotted-quad" in proc.stderr
    assert listener.connections == 0


# -- helpers -----------------------------------------------------------------------------------
def _requests(n: int):
    from clue.core.records import Decoding, Message, Request

    return [Request(id=f"r{i}", messages=[Message("user", f"item-{i}")], decoding=Decoding(max_new_tokens=4))
            for i in range(n)]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    import os

    keep = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "OPENAI_BASE_URL"}
    return {**keep, "CLUE_APPROVED_ENDPOINTS": str(tmp_path / "no-approvals.toml")}


def test_a_checked_local_proxy_carries_the_requests(serve, listener):
    # The fake server answers absolute-form requests, as a forward proxy would relay them.
    proxy = serve()
    target = f"http://model.invalid:{listener.port}/v1"
    backend = openai_backend(target, proxy=f"http://u:sk-PROXY-SECRET@127.0.0.1:{proxy.port}", max_retries=0,
                             context_length=4096)
    verdicts = check_egress(backend, MEDNLI, resolver=dns({"model.invalid": ["127.0.0.2"]}))
    assert [v.endpoint for v in verdicts] == [f"http://model.invalid:{listener.port}", f"http://127.0.0.1:{proxy.port}"]
    [completion] = backend.generate(_requests(1))
    assert completion.ok, completion.error
    assert proxy.requests == 1 and listener.connections == 0
    info = backend.info()
    assert info["proxies"] == [f"http://127.0.0.1:{proxy.port}"] and info["pinned"] is True


def test_a_pinned_https_connection_keeps_the_name_for_sni_the_certificate_and_host(tmp_path):
    import shutil
    import socket
    import ssl
    import threading

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    need_serving_packages()
    import httpx

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=model.invalid", "-addext", "subjectAltName=DNS:model.invalid"],
                   check=True, capture_output=True)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    seen: dict[str, object] = {}

    def note_sni(sock, name, ctx) -> None:
        seen["sni"] = name

    server_tls.sni_callback = note_sni
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(10)
    port = sock.getsockname()[1]

    def answer() -> None:
        conn, _ = sock.accept()
        with server_tls.wrap_socket(conn, server_side=True) as tls:
            seen["request"] = tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    backend = openai_backend(f"https://model.invalid:{port}/v1")
    backend.pin({"model.invalid": ("127.0.0.1",)})  # what the guard hands over for a checked name
    transport = backend._transport(backend.settings.base_urls[0], sync=True,
                                   verify=ssl.create_default_context(cafile=str(cert)))
    with httpx.Client(transport=transport, trust_env=False) as client:
        response = client.get(f"https://model.invalid:{port}/v1/models")
    thread.join(5)
    sock.close()
    assert response.status_code == 200 and seen["sni"] == "model.invalid"
    assert f"Host: model.invalid:{port}".encode() in seen["request"]


# -- issue 21 item 7: approvals files only the user could have written, under an absolute HOME -----------
def test_an_approvals_file_others_can_write_or_another_user_owns_is_refused(tmp_path):
    import os

    approvals = tmp_path / "approvals.toml"
    approvals.write_text('[[endpoint]]\nurl = "http://0.0.0.0:9"\n')
    approvals.chmod(0o666)
    with pytest.raises(UsageError, match=r"writable by others \(mode 666\).*chmod go-w") as refused:
        check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, config_path=approvals, resolver=dns({}))
    assert "\n" not in str(refused.value)
    approvals.chmod(0o620)
    with pytest.raises(UsageError, match="writable by others"):
        check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, config_path=approvals, resolver=dns({}))
    approvals.chmod(0o644)
    check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, config_path=approvals, resolver=dns({}))
    if os.getuid() == 0:  # only root can give a file away
        os.chown(approvals, 54321, -1)
        with pytest.raises(UsageError, match="belongs to another user"):
            check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, config_path=approvals, resolver=dns({}))


def test_a_relative_home_is_no_place_for_approvals(tmp_path, monkeypatch):
    project = tmp_path / "cloned-project"
    (project / ".config" / "clue").mkdir(parents=True)
    (project / ".config" / "clue" / "approved-endpoints.toml").write_text('[[endpoint]]\nurl = "http://0.0.0.0:9"\n')
    monkeypatch.chdir(project)
    monkeypatch.delenv("CLUE_APPROVED_ENDPOINTS")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", ".")
    assert not approvals_path().is_absolute() or not approvals_path().exists()
    with pytest.raises(EgressRefused):
        check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, resolver=dns({}))
    monkeypatch.setenv("HOME", str(project))  # absolute: the user's own
    check_egress(openai_backend("http://0.0.0.0:9/v1"), MEDNLI, resolver=dns({}))


# -- issue 21 item 9: the forms the docs ask for are read, not refused as "another address" -------------
@pytest.mark.parametrize("url, endpoint", [
    ("http://[::ffff:127.0.0.1]:8000/v1", "http://[::ffff:7f00:1]:8000"),  # judged as 127.0.0.1
    ("http://[0:0:0:0:0:0:0:1]:8000/v1", "http://[::1]:8000"),
    ("http://xn--bcher-kva.example:8000/v1", "http://xn--bcher-kva.example:8000"),
])
def test_ipv6_spellings_and_xn_names_reach_the_guard(url, endpoint):
    backend = openai_backend(url)
    [verdict] = check_egress(backend, MEDNLI, resolver=dns({"xn--bcher-kva.example": ["127.0.0.1"]}))
    assert verdict.allowed and verdict.endpoint == endpoint
    assert backend.details()["pinned"] is True


def test_a_sweep_limit_below_one_is_refused(tmp_path):
    from tests.helpers.cli import clue as clue_here

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"limit: -1\noutput: {tmp_path / 'out'}\nmodels:\n  - spec: baseline\n")
    ran = clue_here("sweep", sweep)
    assert ran.returncode == 2 and "limit must be at least 1" in ran.stderr
    assert not (tmp_path / "out").exists()
