"""A stub OpenAI-compatible server for the sweep tests (standard library only).

``POST /v1/chat/completions`` answers deterministically from the prompt, in a
shape every task can parse (a LongHealth-style letter sentence that also names
an NLI label); ``GET /v1/models`` lists the one model with its context. It
binds 127.0.0.1 on an ephemeral port, records every prompt it is sent, and
is bounded: it answers 503 after ``max_requests`` and shuts itself down after
``max_seconds``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABELS = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")


def answer_for(messages: list[dict]) -> str:
    last = messages[-1]["content"] if messages else ""
    digest = hashlib.sha256(last.encode("utf-8")).digest()
    letter = "ABCDEF"[digest[0] % 6]
    words = " ".join(last.split()[:8])
    return f"The correct answer is {letter}: {LABELS[digest[1] % 3]}. {words}"


class StubServer:
    def __init__(self, model: str = "stub-model", *, latency: float = 0.0, context: int = 32768,
                 max_requests: int = 5000, max_seconds: float = 300.0):
        self.model, self.latency, self.context = model, latency, context
        self.max_requests = max_requests
        self.prompts: Counter[str] = Counter()
        self.requests = 0
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, obj: object) -> None:
                body = json.dumps(obj).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": stub.model, "max_model_len": stub.context}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests += 1
                    over = stub.requests > stub.max_requests
                if over:
                    self._send(503, {"error": {"message": "stub request budget spent"}})
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                messages = body.get("messages") or []
                key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode("utf-8")).hexdigest()
                if stub.latency:
                    time.sleep(stub.latency)
                with stub._lock:
                    stub.prompts[key] += 1
                text = answer_for(messages)
                self._send(200, {
                    "id": f"stub-{key[:12]}", "object": "chat.completion", "model": stub.model,
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": len(text.split()), "total_tokens": 1},
                })

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._timer = threading.Timer(max_seconds, self.stop)
        self._timer.daemon = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answered(self) -> int:
        with self._lock:
            return sum(self.prompts.values())

    def start(self) -> StubServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
