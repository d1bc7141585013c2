"""``openai:MODEL``: any OpenAI-compatible server (vLLM serve, TGI, llama.cpp server, Ollama, hosted APIs).

    clue run --model openai:MODEL --base-url http://127.0.0.1:8000/v1

    options    the -O options, validated (ClientSettings)
    urls       base and proxy URLs: checked, normalised, redacted
    retry      which failures are retried, and the backoff
    responses  a server's answer: text, reasoning, usage
    network    httpx on demand; transports with proxy, network layer and pins
    bridge     the async client read as an ordinary iterator
    client     OpenAIBackend itself: workers, replicas, the description

docs/serving.md says how it behaves (replicas, retries, keys, proxies, pinning).
"""

from __future__ import annotations

from clue.models.openai.client import OpenAIBackend

__all__ = ["OpenAIBackend"]
