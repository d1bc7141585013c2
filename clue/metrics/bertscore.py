"""BERTScore-F1 per item, with the ``bert-score`` package, from local weights only.

The model (a preset, a cached repo id or a folder) and layer are recorded
settings; docs/metrics.md has the presets, the keys and the two deviations
from calling ``bert_score.score`` directly.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import DISTRIBUTION, TORCH_HINT, require
from clue.core.files import sha256_text
from clue.core.versions import installed_versions
from clue.metrics.common import MetricUnavailable, as_bool, as_int, missing_modules
from clue.metrics.metric import TEXT, BatchMetric
from clue.store.metric_cache import MetricCache

OPTION_KEYS = {
    "bertscore_model": "preset (scibert, bioclinicalbert), Hugging Face repo id in the local cache, or a local folder",
    "bertscore_layer": "the layer whose embeddings are compared (presets set their own)",
    "bertscore_batch_size": "sentences per forward pass (default 64)",
    "bertscore_device": "cpu, cuda, cuda:N (default: cuda when available)",
    "bertscore_idf": "weight tokens by idf over the task's references (default false)",
    "bertscore_rescale": "rescale with a baseline file (default false; needs bertscore_baseline)",
    "bertscore_baseline": "baseline TSV for rescaling (bert-score's format)",
}


@dataclass(frozen=True)
class Preset:
    repo: str
    layer: int


PRESETS: dict[str, Preset] = {
    "scibert": Preset("allenai/scibert_scivocab_uncased", 8),
    "bioclinicalbert": Preset("emilyalsentzer/Bio_ClinicalBERT", 9),
}
DEFAULT_MODEL = "scibert"

# Files a BERT-style checkpoint needs; fetch downloads only these.
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
SIDE_FILES = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

# A tokenizer without a declared limit reports a huge sentinel length.
_UNSET_LENGTH = 1_000_000


@dataclass(frozen=True)
class BertScoreConfig:
    model: str = DEFAULT_MODEL
    layer: int | None = None
    batch_size: int = 64
    device: str | None = None
    idf: bool = False
    rescale: bool = False
    baseline: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> BertScoreConfig:
        layer = options.get("bertscore_layer")
        baseline = options.get("bertscore_baseline")
        return cls(
            model=str(options.get("bertscore_model", DEFAULT_MODEL)),
            layer=None if layer is None else as_int(layer, "bertscore_layer"),
            batch_size=max(1, as_int(options.get("bertscore_batch_size", 64), "bertscore_batch_size")),
            device=options.get("bertscore_device"),
            idf=as_bool(options.get("bertscore_idf", False), "bertscore_idf"),
            rescale=as_bool(options.get("bertscore_rescale", False), "bertscore_rescale"),
            baseline=None if baseline is None else str(baseline),
        )


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user asked for (preset, repo id or path)
    repo: str | None  # the Hugging Face repo id, when known
    path: Path  # the local folder the weights load from
    layer: int


def missing_packages() -> list[str]:
    return missing_modules({"torch": "torch", "bert-score": "bert_score", "transformers": "transformers"})


def hf_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:
        return os.path.expanduser("~/.cache/huggingface/hub")


def local_snapshot(repo: str) -> Path | None:
    """The cached snapshot folder of ``repo``, without asking the hub (HF_HUB_OFFLINE semantics)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        return Path(snapshot_download(repo, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError) or an unusable repo id
        return None


def resolve_model(model: str, layer: int | None) -> ResolvedModel:
    """Find the weights of ``model`` on this machine; raise MetricUnavailable if they are not here."""
    preset = PRESETS.get(model.strip().lower())
    repo = preset.repo if preset else None
    local = Path(model).expanduser()
    if preset is None and local.is_dir():
        path = local.resolve()
    else:
        repo = repo or model
        found = local_snapshot(repo)
        if found is None:
            raise MetricUnavailable(
                f"BERTScore model {repo} is not on this machine (looked in {hf_cache_dir()}); "
                f"run `clue metrics fetch bertscore --model {model}` where there is a network, "
                f"or pass --metric bertscore_model=FOLDER --metric bertscore_layer=N"
            )
        path = found
    if layer is None:
        layer = preset.layer if preset else known_layer(repo)
    if layer is None:
        raise MetricUnavailable(f"BERTScore model {model} has no preset layer; pass --metric bertscore_layer=N")
    return ResolvedModel(name=model, repo=repo, path=path, layer=layer)


def known_layer(repo: str | None) -> int | None:
    """bert-score's tuned layer for models it knows by name (read from its table)."""
    if repo is None or importlib.util.find_spec("bert_score") is None:
        return None
    from bert_score.utils import model2layers

    return model2layers.get(repo)


def weight_files(folder: Path) -> list[Path]:
    """The files transformers loads weights from: safetensors when present, else .bin."""
    for pattern in WEIGHT_PATTERNS:
        found = sorted(folder.glob(pattern))
        if found:
            return found
    return []


class BertScore:
    """BERTScore-F1 for one configuration; the model loads on the first uncached pair."""

    name = "bertscore"

    def __init__(self, config: BertScoreConfig, cache: MetricCache):
        missing = missing_packages()
        if missing:
            raise MetricUnavailable(
                # recorded in results.json (the reason a metric is missing): kept word for word, so results
                # stay byte-identical; `clue metrics status` and MissingExtra give the CPU-wheel advice
                f"BERTScore needs {', '.join(missing)}: pip install torch==2.13.0 (CPU build; see docs) "
                f"and pip install '{DISTRIBUTION}[bertscore]'"
            )
        if config.rescale and not config.baseline:
            raise MetricUnavailable("bertscore_rescale=true needs --metric bertscore_baseline=FILE (a bert-score baseline TSV)")
        self.config = config
        self.model = resolve_model(config.model, config.layer)
        weights = weight_files(self.model.path)
        if not weights:
            raise MetricUnavailable(f"BERTScore model folder {self.model.path} has no weight files (*.safetensors or *.bin)")
        side = [self.model.path / f for f in SIDE_FILES if (self.model.path / f).is_file()]
        self.weights_sha256 = cache.files_digest(weights)
        self.tokenizer_sha256 = cache.files_digest(side)
        self.baseline_sha256 = cache.file_digest(config.baseline) if config.baseline else None
        self.versions = installed_versions(("bert-score", "transformers", "torch"))
        self.idf_corpus: str | None = None

    def value_settings(self, references: Sequence[str]) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "weights_sha256": self.weights_sha256,
            "tokenizer_sha256": self.tokenizer_sha256,
            "layer": self.model.layer,
            "idf": self.config.idf,
            "rescale": self.config.rescale,
            "baseline_sha256": self.baseline_sha256,
            "packages": self.versions,
        }
        if self.config.idf:
            # idf weights come from the task's whole reference set: a different
            # set gives different values for the same pair.
            self._idf_references = list(references)
            self.idf_corpus = sha256_text("\n".join(sorted(set(references))))
            settings["idf_corpus_sha256"] = self.idf_corpus
        return settings

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.model.repo or self.model.name,
            "requested": self.model.name,
            "path": str(self.model.path),
            "layer": self.model.layer,
            "weights_sha256": self.weights_sha256,
            "idf": self.config.idf,
            "rescale_with_baseline": self.config.rescale,
            "baseline": self.config.baseline,
            "length_limit": "the tokenizer's own, or 512 tokens where it declares none",
            "packages": self.versions,
        }

    def score(self, predictions: list[str], references: list[str]) -> list[float]:
        scorer = load_scorer(self.model, self.config)
        if self.config.idf:
            scorer.compute_idf(self._idf_references)
        values = [0.0] * len(predictions)
        live = [i for i, (p, r) in enumerate(zip(predictions, references)) if p.strip() and r.strip()]
        if live:
            _, _, f1 = scorer.score(
                [predictions[i] for i in live], [references[i] for i in live], batch_size=self.config.batch_size
            )
            for i, value in zip(live, f1.tolist()):
                values[i] = float(value)
        if self.config.rescale and len(live) < len(values):
            # bert-score rescales its zero for empty text like any other value
            base = float(scorer.baseline_vals[2])
            empty_value = (0.0 - base) / (1.0 - base)
            for i in set(range(len(values))) - set(live):
                values[i] = empty_value
        return values


_SCORERS: dict[tuple[Any, ...], Any] = {}
_SCORERS_LOCK = threading.Lock()


def pick_device(requested: str | None) -> str:
    import torch

    if requested:
        return str(requested)
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_scorer(model: ResolvedModel, config: BertScoreConfig) -> Any:
    """One BERTScorer per (folder, layer, device, idf, rescale) per process: tasks share the loaded model."""
    device = pick_device(config.device)
    key = (str(model.path), model.layer, device, config.idf, config.rescale, config.baseline)
    with _SCORERS_LOCK:
        if key in _SCORERS:
            return _SCORERS[key]
        from bert_score import BERTScorer

        scorer = BERTScorer(
            model_type=str(model.path),
            num_layers=model.layer,
            idf=config.idf,
            batch_size=config.batch_size,
            device=device,
            lang="en" if config.rescale else None,
            rescale_with_baseline=config.rescale,
            baseline_path=config.baseline,
        )
        tokenizer = scorer._tokenizer
        if tokenizer.model_max_length > _UNSET_LENGTH:
            positions = getattr(scorer._model.config, "max_position_embeddings", 512) or 512
            tokenizer.model_max_length = min(512, int(positions))
        _SCORERS[key] = scorer
        return scorer


def fetch(model: str = DEFAULT_MODEL) -> Path:
    """Download a model's weights into the Hugging Face cache (needs a network)."""
    hub = require("huggingface_hub", "bertscore", "Fetching BERTScore weights")
    HfApi, snapshot_download = hub.HfApi, hub.snapshot_download
    preset = PRESETS.get(model.strip().lower())
    repo = preset.repo if preset else model
    files = HfApi().list_repo_files(repo)
    # one weights format only: safetensors if the repo has it, else the .bin
    safetensors = [f for f in files if f.endswith(".safetensors")]
    weights = safetensors or [f for f in files if f.startswith("pytorch_model") and f.endswith(".bin")]
    wanted = [f for f in files if f in SIDE_FILES] + weights
    return Path(snapshot_download(repo, allow_patterns=wanted))


class BertScoreMetric(BatchMetric):
    """BERTScore-F1 as a metric: its settings, its readiness, and its per-protocol rules."""

    name = "bertscore"
    title = "BERTScore-F1"
    answer = TEXT
    option_keys = OPTION_KEYS
    option_prefix = "bertscore_"

    def load(self, config: Mapping[str, Any], cache: MetricCache) -> BertScore:
        return BertScore(BertScoreConfig.from_options(config), cache)

    def status(self, config: Mapping[str, Any]) -> dict[str, Any]:
        try:
            missing = missing_packages()
            if missing:
                raise MetricUnavailable(f"not installed: {', '.join(missing)} ({TORCH_HINT}, then pip install '{DISTRIBUTION}[bertscore]')")
            cfg = BertScoreConfig.from_options(config)
            found = resolve_model(cfg.model, cfg.layer)
            return {"metric": self.name, "ready": True,
                    "detail": f"{found.repo or found.name}, layer {found.layer}, from {found.path}"}
        except MetricUnavailable as exc:
            return {"metric": self.name, "ready": False, "detail": str(exc)}

    def protocol_config(self, settings: Any, config: Mapping[str, Any]) -> dict[str, Any]:
        """The protocol's BERTScore model for the task (``bertscore_model``), unless the run names one."""
        model = getattr(settings, "bertscore_model", "")
        if model and "bertscore_model" not in config:
            return {**config, "bertscore_model": model}
        return dict(config)

    def protocol_texts(
        self, settings: Any, predictions: list[str], references: list[str]
    ) -> tuple[list[str], list[str], dict[str, Any]]:
        """Both sides lower-cased where the protocol says so (``bertscore_lowercase``: the reference's rule)."""
        if getattr(settings, "bertscore_lowercase", False):
            return [p.lower() for p in predictions], [r.lower() for r in references], {"lowercased": True}
        return predictions, references, {}
