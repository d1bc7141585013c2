"""`clue data fetch` against a local HTTP server: verified, resumable, atomic; PhysioNet with basic auth."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

from clue.builders import fetch, physionet, releases
from clue.builders.status import status
from clue.core.errors import DataError, UsageError
from clue.tasks import get_task

MAX_REQUESTS = 100
USER, PASSWORD = "tester", "s3cret-pass"


class FixtureServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with Range support.

    ``cut_once``: paths whose first full GET sends half the body and closes.
    ``auth_prefix``: paths below it need the basic-auth pair above.
    It answers at most MAX_REQUESTS requests and the fixture stops it.
    """

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.cut_once: set[str] = set()
        self.auth_prefix = "/physionet/"
        self.log: list[tuple[str, str | None]] = []
        self.redirects: dict[str, str] = {}  # path -> Location of a 307 (after the auth check)
        self.authorizations: list[tuple[str, str | None]] = []  # path, Authorization header

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    server: FixtureServer

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        srv = self.server
        srv.log.append((self.path, self.headers.get("Range")))
        srv.authorizations.append((self.path, self.headers.get("Authorization")))
        if len(srv.log) > MAX_REQUESTS:
            self.send_error(503)
            return
        if self.path.startswith(srv.auth_prefix):
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {token}":
                self.send_error(401)
                return
        if self.path in srv.redirects:
            self.send_response(307)
            self.send_header("Location", srv.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        wanted = self.headers.get("Range")
        if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[6:-1])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path in srv.cut_once and not wanted:
            srv.cut_once.discard(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


def _serving():
    srv = FixtureServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


server = pytest.fixture(_serving)
other_server = pytest.fixture(_serving)


def test_a_failed_download_exits_1_not_the_refusal_status(tmp_path):
    from tests.helpers.cli import clue

    ran = clue("data", "fetch", "meqsum", "--data-dir", tmp_path, "--base-url", "http://127.0.0.1:1")
    assert ran.returncode == 1, ran.stderr
    assert "cannot reach" in ran.stderr and "Traceback" not in ran.stderr


def test_credentials_follow_no_redirect_to_another_origin(server, other_server, tmp_path):
    # Two listeners on 127.0.0.1, on two ports: two origins. A 307 from the first to the second must
    # not carry the PhysioNet password; one within the first still does.
    other_server.auth_prefix = "/none/"
    other_server.files["/elsewhere/f.txt"] = b"public bytes"
    server.redirects["/physionet/p/f.txt"] = f"{other_server.base}/elsewhere/f.txt"
    fetch.download(f"{server.base}/physionet/p/f.txt", tmp_path / "f.part", auth=(USER, PASSWORD))
    assert (tmp_path / "f.part").read_bytes() == b"public bytes"
    assert other_server.authorizations == [("/elsewhere/f.txt", None)]
    assert server.authorizations[0][1] is not None

    server.files["/physionet/p/g.txt"] = b"credentialed bytes"
    server.redirects["/physionet/p/moved.txt"] = f"{server.base}/physionet/p/g.txt"
    fetch.download(f"{server.base}/physionet/p/moved.txt", tmp_path / "g.part", auth=(USER, PASSWORD))
    assert (tmp_path / "g.part").read_bytes() == b"credentialed bytes"


def github_path(task: str) -> str:
    return "/" + releases.release_of(task).url_path


def test_public_fetch_checks_with_the_loader_when_no_hash_is_known(server, tmp_path):
    body = get_task("longhealth").demo_path().read_bytes()
    server.files[github_path("longhealth")] = body
    result = fetch.fetch_public("longhealth", tmp_path, base_url=server.base)
    dest = tmp_path / "benchmark_v5.json"
    assert result.path == dest and dest.read_bytes() == body
    assert result.status == "downloaded" and "loader" in result.hash_check and result.records > 0
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmark_v5.json"]
    again = fetch.fetch_public("longhealth", tmp_path, base_url=server.base)
    assert again.status == "present" and len(server.log) == 1


def test_checksum_mismatch_leaves_nothing_in_place(server, tmp_path):
    # A MeQSum-format file that is not the release: its hash cannot match the known one.
    server.files[github_path("meqsum")] = get_task("meqsum").demo_path().read_bytes()
    with pytest.raises(DataError, match="checksum mismatch") as err:
        fetch.fetch_public("meqsum", tmp_path, base_url=server.base)
    assert releases.release_of("meqsum").sha256 in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_known_hash_that_matches_is_installed(server, tmp_path, monkeypatch):
    body = get_task("meqsum").demo_path().read_bytes()
    digest = hashlib.sha256(body).hexdigest()
    known = releases.release_of("meqsum")
    patched = releases.TaskRelease(known.task, known.file, dataclasses.replace(known.release, sha256=digest))
    monkeypatch.setattr(fetch, "release_of", lambda task: patched)
    server.files[github_path("meqsum")] = body
    result = fetch.fetch_public("meqsum", tmp_path, base_url=server.base)
    assert result.hash_check.startswith("matches") and (tmp_path / releases.release_of("meqsum").file).read_bytes() == body


def test_a_file_the_loader_rejects_is_not_installed(server, tmp_path):
    server.files[github_path("longhealth")] = b'{"patient_01": {"texts": {}}}'
    with pytest.raises(DataError, match="not a valid longhealth file"):
        fetch.fetch_public("longhealth", tmp_path, base_url=server.base)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_resumes_from_the_part_file(server, tmp_path):
    body = get_task("longhealth").demo_path().read_bytes()
    path = github_path("longhealth")
    server.files[path] = body
    server.cut_once.add(path)
    with pytest.raises(fetch.FetchError, match="run again to resume"):
        fetch.fetch_public("longhealth", tmp_path, base_url=server.base)
    part = tmp_path / "benchmark_v5.json.part"
    assert part.exists() and 0 < part.stat().st_size < len(body)
    assert not (tmp_path / "benchmark_v5.json").exists()
    have = part.stat().st_size

    result = fetch.fetch_public("longhealth", tmp_path, base_url=server.base)
    assert result.status == "resumed"
    assert server.log[-1] == (path, f"bytes={have}-")
    assert (tmp_path / "benchmark_v5.json").read_bytes() == body and not part.exists()


def test_missing_file_and_unreachable_host(server, tmp_path):
    with pytest.raises(fetch.FetchError, match="404"):
        fetch.fetch_public("longhealth", tmp_path, base_url=server.base)
    with pytest.raises(fetch.FetchError, match="cannot reach"):
        fetch.fetch_public("longhealth", tmp_path, base_url="http://127.0.0.1:9")
    with pytest.raises(UsageError):
        fetch.fetch_public("mednli", tmp_path)


# -- PhysioNet ---------------------------------------------------------------------------
def serve_physionet(server, project: str, files: dict[str, bytes], sums: bool = True) -> None:
    for name, body in files.items():
        server.files[f"/physionet/{project}/{name}"] = body
    if sums:
        listing = "".join(f"{hashlib.sha256(b).hexdigest()} {n}\n" for n, b in files.items())
        server.files[f"/physionet/{project}/SHA256SUMS.txt"] = listing.encode()


def test_physionet_download_with_credentials_from_the_environment(server, tmp_path, monkeypatch):
    body = get_task("mednli").demo_path().read_bytes()
    serve_physionet(server, "mednli/1.0.0", {"mli_test_v1.jsonl": body, "mli_train_v1.jsonl": b"{}\n"})
    monkeypatch.setenv(physionet.PASSWORD_ENV, PASSWORD)
    result = physionet.fetch_physionet("mednli", tmp_path, USER, base_url=server.base + "/physionet")
    assert (tmp_path / "mli_test_v1.jsonl").read_bytes() == body
    assert "SHA256SUMS" in result.hash_check
    for path in tmp_path.rglob("*"):
        assert PASSWORD.encode() not in path.read_bytes()


def test_physionet_wrong_password_and_corrupt_file(server, tmp_path, monkeypatch):
    body = get_task("mednli").demo_path().read_bytes()
    serve_physionet(server, "mednli/1.0.0", {"mli_test_v1.jsonl": body})
    monkeypatch.setenv(physionet.PASSWORD_ENV, "wrong")
    with pytest.raises(fetch.FetchError, match="refused"):
        physionet.fetch_physionet("mednli", tmp_path, USER, base_url=server.base + "/physionet")
    monkeypatch.setenv(physionet.PASSWORD_ENV, PASSWORD)
    server.files["/physionet/mednli/1.0.0/mli_test_v1.jsonl"] = body[:-10] + b"corrupted\n"
    with pytest.raises(DataError, match="checksum mismatch"):
        physionet.fetch_physionet("mednli", tmp_path, USER, base_url=server.base + "/physionet")
    assert list(tmp_path.iterdir()) == []


def test_medisumqa_file_is_found_from_the_checksum_list(server, tmp_path, monkeypatch):
    body = get_task("medisumqa").demo_path().read_bytes()
    serve_physionet(server, "medisumqa/1.0.0", {"MeDiSumQA.json": body, "README.txt": b"readme"})
    monkeypatch.setenv(physionet.PASSWORD_ENV, PASSWORD)
    result = physionet.fetch_physionet("medisumqa", tmp_path, USER, base_url=server.base + "/physionet")
    assert result.path == tmp_path / "medisumqa.json" and result.path.read_bytes() == body
    rows = {r.task: r for r in status(tmp_path)}
    assert rows["medisumqa"].present and rows["medisumqa"].release_match == "no known hash"


def test_physionet_without_checksums_relies_on_the_loader(server, tmp_path, monkeypatch):
    serve_physionet(server, "mednli/1.0.0", {"mli_test_v1.jsonl": b"not json\n"}, sums=False)
    monkeypatch.setenv(physionet.PASSWORD_ENV, PASSWORD)
    with pytest.raises(DataError, match="not a valid mednli file"):
        physionet.fetch_physionet("mednli", tmp_path, USER, base_url=server.base + "/physionet")
    assert list(tmp_path.iterdir()) == []


def test_no_username_or_terminal_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv(physionet.USERNAME_ENV, raising=False)
    with pytest.raises(UsageError, match="username"):
        physionet.credentials(None)
    monkeypatch.delenv(physionet.PASSWORD_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    with pytest.raises(UsageError, match="PHYSIONET_PASSWORD"):
        physionet.credentials("someone")


def test_manual_steps_name_the_exact_file():
    steps = physionet.manual_steps("problem_summary", Path("data"))
    assert any(
        "https://physionet.org/files/bionlp-workshop-2023-task-1a/2.0.0/BioNLP2023-1A-Test.csv" in s for s in steps
    )
    assert any("clue data status" in s for s in steps)


def test_status_reports_presence_hash_and_next_step(tmp_path):
    (tmp_path / releases.release_of("meqsum").file).write_bytes(get_task("meqsum").demo_path().read_bytes())
    rows = {r.task: r for r in status(tmp_path)}
    assert rows["meqsum"].present and rows["meqsum"].release_match == "differs" and "--force" in rows["meqsum"].next_step
    assert not rows["longhealth"].present and rows["longhealth"].next_step.startswith("clue data fetch longhealth")
    assert "clue data build medisumcode" in rows["medisumcode"].next_step
    assert "physionet.org/content/mednli" in rows["mednli"].next_step
    assert json.dumps([r.to_dict() for r in rows.values()])  # serialisable for --json
