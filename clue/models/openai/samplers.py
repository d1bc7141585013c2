"""Greedy means greedy behind a server: the sampler defaults servers apply to a temperature-0 request.

A temperature-0 request is greedy only if nothing else reshapes the
next-token scores. Some servers apply a repetition penalty by default, which
changes greedy answers (SmolLM2 behind llama-cpp-python's server wrote other
ICD codes than in process). clue recognises the server from its model list
(``owned_by``) or its ``Server`` header, sends the neutral values where the
server accepts them (recorded in the manifest, under ``backend.sampling``),
and otherwise records that the answers may not be greedy. docs/serving.md
has the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServerSampling:
    """One server's hidden sampler defaults and the request fields that neutralise them."""

    name: str
    #: the defaults that change a temperature-0 answer (as documented by the server)
    hidden: Mapping[str, Any]
    #: request fields sent with every greedy request (empty: the OpenAI-compatible API cannot set them)
    neutral: Mapping[str, Any] = field(default_factory=dict)
    #: what to do when ``neutral`` is empty
    advice: str = ""


SERVERS: dict[str, ServerSampling] = {
    s.name: s
    for s in (
        ServerSampling("llama.cpp", {"repeat_penalty": 1.1}, {"repeat_penalty": 1.0}),
        ServerSampling("llama-cpp-python", {"repeat_penalty": 1.1}, {"repeat_penalty": 1.0}),
        ServerSampling(
            "ollama", {"repeat_penalty": 1.1}, {},
            "its OpenAI-compatible API takes no repeat_penalty: set `PARAMETER repeat_penalty 1` in the model's "
            "Modelfile",
        ),
        # vLLM applies the model's generation_config.json (e.g. repetition_penalty 1.05 for Qwen2.5) unless asked
        ServerSampling("vllm", {"repetition_penalty": "the model's generation_config.json"}, {"repetition_penalty": 1.0}),
        # text-generation-inference applies no penalty unless the request asks for one
        ServerSampling("tgi", {}, {}),
    )
}

# ``owned_by`` in GET /models, as each server writes it
OWNED_BY = {"llamacpp": "llama.cpp", "me": "llama-cpp-python", "vllm": "vllm", "library": "ollama",
            "ollama": "ollama", "tgi": "tgi", "text-generation-inference": "tgi"}


def recognise(entry: Mapping[str, Any] | None, headers: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The server's kind from its model-list entry or response headers, and what said so."""
    owned = str((entry or {}).get("owned_by") or "").strip().lower()
    if owned in OWNED_BY:
        return OWNED_BY[owned], f"model list (owned_by={owned})"
    server = str({k.lower(): v for k, v in (headers or {}).items()}.get("server", "")).lower()
    if "llama.cpp" in server:
        return "llama.cpp", f"Server header ({server})"
    if "ollama" in server:
        return "ollama", f"Server header ({server})"
    return None, "not recognised (model list and headers say nothing known)"


def sampling_record(kind: str | None, how: str, greedy: bool, user_fields: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest records: the server, the neutral fields sent, and whether answers are greedy."""
    record: dict[str, Any] = {"server": kind, "recognised_by": how, "neutral_fields": {}}
    if not greedy:
        record["greedy"] = "sampled decoding (temperature > 0): nothing neutralised"
        return record
    sampling = SERVERS.get(kind or "")
    if sampling is None:
        record["greedy"] = ("may not be greedy: the server is not recognised, so its hidden sampler defaults (such as "
                            "a repetition penalty) are unknown; send neutral values with -O extra_body=...")
        return record
    sent = {k: v for k, v in sampling.neutral.items() if k not in user_fields}
    record["neutral_fields"] = sent
    left = {k: v for k, v in sampling.hidden.items() if k not in sampling.neutral and k not in user_fields}
    if left:
        record["greedy"] = f"may not be greedy: {kind} applies {left} by default; {sampling.advice}"
    else:
        record["greedy"] = "greedy: the server's hidden defaults are neutralised" if sampling.hidden else "greedy"
    return record


def neutral_fields(kind: str | None, greedy: bool, user_fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields to add to a request body (the user's ``extra_body`` wins)."""
    sampling = SERVERS.get(kind or "")
    if not greedy or sampling is None:
        return {}
    return {k: v for k, v in sampling.neutral.items() if k not in user_fields}
