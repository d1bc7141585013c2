"""``hf:PATH_OR_ID``: a Hugging Face transformers model in this process, batched.

Batches are left-padded, grouped by decoding settings and sorted longest
first; a GPU out-of-memory batch is halved. Options and behaviour: docs/backends.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import groupby
from typing import Any

from clue.core.errors import UsageError, require
from clue.core.records import Completion
from clue.core.versions import installed_versions
from clue.models.local import HFTokenizerBackend, Planned, is_greedy, split_options

OWN_OPTIONS = (
    "device", "dtype", "batch_size", "trust_remote_code", "chat_layout", "max_model_len", "revision", "hash_weights",
)
# Config fields that hold the trained context, in order of preference.
CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")
DTYPES = ("float32", "bfloat16", "float16")


def context_from_config(config: Any, tokenizer: Any) -> int | None:
    for source in (config, getattr(config, "text_config", None)):
        for name in CONTEXT_FIELDS:
            value = getattr(source, name, None) if source is not None else None
            if isinstance(value, int) and value > 0:
                return value
    # Tokenizers without a limit report a huge sentinel (int(1e30)).
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10_000_000 else None


class HFBackend(HFTokenizerBackend):
    kind = "hf"
    extra = "hf"

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        super().__init__(target, options)
        own, self._passthrough = split_options(self.options, OWN_OPTIONS)
        self._torch = require("torch", "hf", "The hf: backend (transformers)")
        transformers = require("transformers", "hf", "The hf: backend (transformers)")

        self.batch_size = int(own.get("batch_size", 8))
        if self.batch_size < 1:
            raise UsageError("batch_size must be at least 1")
        trust = bool(own.get("trust_remote_code", False))
        revision = own.get("revision")
        self.device = self._resolve_device(str(own.get("device", "auto")))

        self.hf_tokenizer = transformers.AutoTokenizer.from_pretrained(
            target, revision=revision, trust_remote_code=trust
        )
        self.hf_tokenizer.padding_side = "left"

        load_kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust, **self._passthrough}
        dtype = self._resolve_dtype(own.get("dtype", "auto"))
        # transformers renamed torch_dtype to dtype in 4.56.
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        load_kwargs["dtype" if (major, minor) >= (4, 56) else "torch_dtype"] = dtype
        if self.device == "multi-gpu" and "device_map" not in load_kwargs:
            load_kwargs["device_map"] = "auto"  # accelerate spreads the layers over the GPUs
        self.model = transformers.AutoModelForCausalLM.from_pretrained(target, **load_kwargs)
        if "device_map" not in load_kwargs:
            self.model.to(self.device)
        self.model.eval()
        self._input_device = self.model.get_input_embeddings().weight.device

        tok = self.hf_tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        if self.pad_id is None:
            self.pad_id = 0
        self.stop_ids = self._stop_ids()
        max_len = own.get("max_model_len")
        context = int(max_len) if max_len else context_from_config(self.model.config, tok)
        self._setup_hf(tok, context)

    # -- loading helpers --------------------------------------------------
    def _resolve_device(self, device: str) -> str:
        torch = self._torch
        if device == "auto":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            return "multi-gpu" if count > 1 else ("cuda" if count == 1 else "cpu")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UsageError(f"device={device} was asked for, but torch sees no CUDA device")
        return device

    def _resolve_dtype(self, value: Any) -> Any:
        torch = self._torch
        if value in (None, "auto"):
            # CPUs run float32 fastest and exactly; GPUs get the checkpoint's own dtype.
            return torch.float32 if self.device == "cpu" else "auto"
        if value not in DTYPES:
            raise UsageError(f"dtype must be auto or one of {', '.join(DTYPES)}, got {value!r}")
        return getattr(torch, value)

    def _stop_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.hf_tokenizer):
            value = getattr(source, "eos_token_id", None)
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids

    # -- generation -------------------------------------------------------
    def _run(self, planned: list[Planned]) -> Iterator[Completion]:
        def settings(p: Planned) -> tuple:
            d = p.request.decoding
            return (p.max_new_tokens, d.temperature, d.top_p, d.seed)

        # Same settings together; within them, longest prompts first.
        ordered = sorted(planned, key=lambda p: (settings(p), -len(p.prompt_ids)))
        for _, group in groupby(ordered, key=settings):
            rows = list(group)
            for start in range(0, len(rows), self.batch_size):
                yield from self._generate_batch(rows[start : start + self.batch_size])

    def _generate_batch(self, batch: list[Planned]) -> Iterator[Completion]:
        torch = self._torch
        try:
            outputs = self._generate_ids(batch)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if len(batch) == 1:
                yield self._failure(batch[0], "out of GPU memory for this prompt even alone (try a smaller max_model_len or dtype)")
                return
            half = len(batch) // 2
            yield from self._generate_batch(batch[:half])
            yield from self._generate_batch(batch[half:])
            return
        except Exception as exc:  # report per request; the run goes on and can be retried
            for p in batch:
                yield self._failure(p, f"transformers generate failed: {type(exc).__name__}: {exc}")
            return
        for p, new_ids in zip(batch, outputs):
            yield self._completion(p, new_ids)

    def _generate_ids(self, batch: list[Planned]) -> list[list[int]]:
        torch = self._torch
        width = max(len(p.prompt_ids) for p in batch)
        input_ids = [[self.pad_id] * (width - len(p.prompt_ids)) + p.prompt_ids for p in batch]
        mask = [[0] * (width - len(p.prompt_ids)) + [1] * len(p.prompt_ids) for p in batch]
        decoding = batch[0].request.decoding
        kwargs: dict[str, Any] = {
            "max_new_tokens": batch[0].max_new_tokens,
            "pad_token_id": self.pad_id,
            "eos_token_id": sorted(self.stop_ids) or None,
            # The checkpoint's generation_config may ask for sampling or a
            # repetition penalty; the protocol decides decoding, not the checkpoint.
            "repetition_penalty": 1.0,
        }
        if is_greedy(decoding):
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p, top_k=0)
            torch.manual_seed(decoding.seed if decoding.seed is not None else 0)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=torch.tensor(input_ids, device=self._input_device),
                attention_mask=torch.tensor(mask, device=self._input_device),
                **kwargs,
            )
        return [row[width:].tolist() for row in out]

    def _completion(self, p: Planned, new_ids: list[int]) -> Completion:
        finish = "length"
        for i, token in enumerate(new_ids):
            if token in self.stop_ids:
                new_ids, finish = new_ids[:i], "stop"
                break
        # Padding after an early stop is pad_id; with pad == eos it was cut above.
        while new_ids and new_ids[-1] == self.pad_id and self.pad_id not in self.stop_ids:
            new_ids = new_ids[:-1]
        text = self.hf_tokenizer.decode(new_ids, skip_special_tokens=True)
        return Completion(p.request.id, text, meta=p.meta(len(new_ids), finish))

    @staticmethod
    def _failure(p: Planned, message: str) -> Completion:
        return Completion(p.request.id, None, error=message, meta={"prompt_tokens": len(p.prompt_ids)})

    # -- manifest ----------------------------------------------------------
    def details(self) -> dict[str, Any]:
        info = super().details()
        torch = self._torch
        config = self.model.config
        info.update(
            {
                "revision": getattr(config, "_commit_hash", None) or self.options.get("revision"),
                "architecture": (getattr(config, "architectures", None) or [type(self.model).__name__])[0],
                "dtype": str(self.model.dtype).removeprefix("torch."),
                "device": str(self._input_device),
                "device_map": getattr(self.model, "hf_device_map", None),
                "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                "batch_size": self.batch_size,
                "padding_side": "left",
                "engine": installed_versions(("transformers", "torch", "accelerate", "tokenizers")),
            }
        )
        return info

    def close(self) -> None:
        model = getattr(self, "model", None)
        if model is not None:
            del self.model
            if self._torch.cuda.is_available():
                self._torch.cuda.empty_cache()
