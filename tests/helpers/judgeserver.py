"""A scripted LLM judge: an OpenAI-compatible chat server on loopback whose answers a test decides.

``answer(prompt) -> str`` makes each reply's text from the judge prompt (the last
user message); the default answers ``{"score": 4, "reason": "..."}``. Every request
is logged in ``prompts`` (so a test can count calls, or see that none came); an answer of
None is a 500 (a failed request).
Standard library only: a thread serving ``POST /v1/chat/completions`` and ``GET /v1/models``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def default_answer(prompt: str) -> str:
    return json.dumps({"score": 4, "reason": "asks the main question"})


class JudgeServer:
    def __init__(self, answer: Callable[[str], str | None] = default_answer, host: str = "127.0.0.1"):
        self.answer = answer
        self.prompts: list[str] = []
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                server.connections += 1
                self._send(200, {"object": "list", "data": [{"id": "j", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                server.connections += 1
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                prompt = body["messages"][-1]["content"]
                server.prompts.append(prompt)
                text = server.answer(prompt)
                if text is None:  # the test's way to make a request fail
                    self._send(500, {"error": {"message": "scripted failure"}})
                    return
                self._send(200, {
                    "id": "judge", "object": "chat.completion", "model": body.get("model", "j"),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split()),
                              "total_tokens": len(prompt.split()) + len(text.split())},
                })

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> JudgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
