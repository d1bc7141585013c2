"""UMLS-F1 per item: overlap of the UMLS concepts named in prediction and reference.

scispaCy's pipeline and UMLS linker, loaded from local paths only (the linking
code is scispaCy's own); docs/metrics.md has the definition, the keys and how
to install it. ``build_linker_index`` indexes any knowledge base.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError, require
from clue.core.versions import installed_versions
from clue.metrics.common import MetricUnavailable, as_bool, as_int, missing_modules
from clue.metrics.metric import TEXT, BatchMetric
from clue.store.metric_cache import MetricCache

OPTION_KEYS = {
    "umls_pipeline": "spaCy pipeline: installed package name or folder (default en_core_sci_sm)",
    "umls_linker_dir": "folder with nmslib_index.bin, tfidf_vectorizer.joblib, tfidf_vectors_sparse.npz, concept_aliases.json",
    "umls_kb": "the knowledge base JSONL (scispaCy's umls_2022_ab_cat0129.jsonl)",
    "umls_threshold": "minimum similarity of a linked concept (default 0.7)",
    "umls_no_definition_threshold": "minimum similarity of a concept without a definition (default 0.95)",
    "umls_filter_for_definitions": "drop concepts without a definition below that threshold (default true)",
    "umls_k": "nearest neighbours looked up per mention (default 30)",
    "umls_max_entities_per_mention": "candidates kept per mention (default 5)",
    "umls_resolve_abbreviations": "link the long form of an abbreviation (default true)",
    "umls_batch_size": "texts per nlp.pipe batch (default 64)",
}

DEFAULT_PIPELINE = "en_core_sci_sm"
# The scispaCy release clue's defaults refer to (linker 2023-04-23, UMLS 2022AB).
SCISPACY_DATA = "https://s3-us-west-2.amazonaws.com/ai2-s2-scispacy/data"
UMLS_LINKER_URLS = {
    "ann_index": f"{SCISPACY_DATA}/linkers/2023-04-23/umls/nmslib_index.bin",
    "tfidf_vectorizer": f"{SCISPACY_DATA}/linkers/2023-04-23/umls/tfidf_vectorizer.joblib",
    "tfidf_vectors": f"{SCISPACY_DATA}/linkers/2023-04-23/umls/tfidf_vectors_sparse.npz",
    "concept_aliases_list": f"{SCISPACY_DATA}/linkers/2023-04-23/umls/concept_aliases.json",
}
UMLS_KB_URL = f"{SCISPACY_DATA}/kbs/2023-04-23/umls_2022_ab_cat0129.jsonl"
# en_core_sci_sm is not on PyPI; scispaCy publishes it as a .tar.gz package on its release bucket.
EN_CORE_SCI_SM_URL = "https://s3-us-west-2.amazonaws.com/ai2-s2-scispacy/releases/v0.5.4/en_core_sci_sm-0.5.4.tar.gz"
LINKER_FILES = {
    "ann_index": "nmslib_index.bin",
    "tfidf_vectorizer": "tfidf_vectorizer.joblib",
    "tfidf_vectors": "tfidf_vectors_sparse.npz",
    "concept_aliases_list": "concept_aliases.json",
}


def _as_float(value: Any, key: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"--metric {key} takes a number, got {value!r}") from None


@dataclass(frozen=True)
class UmlsConfig:
    pipeline: str = DEFAULT_PIPELINE
    linker_dir: str | None = None
    kb: str | None = None
    threshold: float = 0.7
    no_definition_threshold: float = 0.95
    filter_for_definitions: bool = True
    k: int = 30
    max_entities_per_mention: int = 5
    resolve_abbreviations: bool = True
    batch_size: int = 64

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> UmlsConfig:
        base = cls()
        get = options.get
        return cls(
            pipeline=str(get("umls_pipeline", base.pipeline)),
            linker_dir=None if get("umls_linker_dir") is None else str(get("umls_linker_dir")),
            kb=None if get("umls_kb") is None else str(get("umls_kb")),
            threshold=_as_float(get("umls_threshold", base.threshold), "umls_threshold"),
            no_definition_threshold=_as_float(
                get("umls_no_definition_threshold", base.no_definition_threshold), "umls_no_definition_threshold"
            ),
            filter_for_definitions=as_bool(
                get("umls_filter_for_definitions", base.filter_for_definitions), "umls_filter_for_definitions"
            ),
            k=max(1, as_int(get("umls_k", base.k), "umls_k")),
            max_entities_per_mention=max(
                1, as_int(get("umls_max_entities_per_mention", base.max_entities_per_mention), "umls_max_entities_per_mention")
            ),
            resolve_abbreviations=as_bool(
                get("umls_resolve_abbreviations", base.resolve_abbreviations), "umls_resolve_abbreviations"
            ),
            batch_size=max(1, as_int(get("umls_batch_size", base.batch_size), "umls_batch_size")),
        )


# -- the metric itself ------------------------------------------------------


def umls_f1(predicted: Iterable[str], reference: Iterable[str]) -> float:
    """F1 of two concept-name sets; 0 when either is empty."""
    pred, ref = set(predicted), set(reference)
    both = len(pred & ref)
    if not pred or not ref or not both:
        return 0.0
    precision, recall = both / len(pred), both / len(ref)
    return 2 * precision * recall / (precision + recall)


# -- finding the files ------------------------------------------------------


def missing_packages() -> list[str]:
    return missing_modules({"scispacy": "scispacy", "spacy": "spacy", "nmslib-metabrainz": "nmslib"})


def scispacy_cache_dir() -> Path:
    return Path(os.getenv("SCISPACY_CACHE", str(Path.home() / ".scispacy"))) / "datasets"


def cached_download(url: str, cache_dir: Path | None = None) -> Path | None:
    """The file scispaCy downloaded from ``url`` earlier, found via its cache's metadata (no network)."""
    folder = cache_dir or scispacy_cache_dir()
    if not folder.is_dir():
        return None
    for meta in folder.glob("*.json"):
        try:
            if json.loads(meta.read_text(encoding="utf-8")).get("url") != url:
                continue
        except (OSError, ValueError, AttributeError):
            continue
        data = meta.with_suffix("")
        if data.is_file():
            return data
    return None


@dataclass(frozen=True)
class LinkerFiles:
    ann_index: Path
    tfidf_vectorizer: Path
    tfidf_vectors: Path
    concept_aliases_list: Path
    kb: Path

    def all(self) -> list[Path]:
        return [self.ann_index, self.tfidf_vectorizer, self.tfidf_vectors, self.concept_aliases_list, self.kb]


def locate_linker(config: UmlsConfig) -> LinkerFiles:
    """The linker's files from the settings, else from scispaCy's download cache."""
    where = []
    index: dict[str, Path | None]
    if config.linker_dir:
        folder = Path(config.linker_dir).expanduser()
        index = {key: folder / name for key, name in LINKER_FILES.items()}
        where.append(str(folder))
    else:
        index = {key: cached_download(url) for key, url in UMLS_LINKER_URLS.items()}
        where.append(f"scispaCy's cache {scispacy_cache_dir()}")
    kb = Path(config.kb).expanduser() if config.kb else cached_download(UMLS_KB_URL)
    absent = [LINKER_FILES[key] for key, path in index.items() if path is None or not path.is_file()]
    if kb is None or not kb.is_file():
        absent.append(str(config.kb) if config.kb else Path(UMLS_KB_URL).name)
    if absent:
        raise MetricUnavailable(
            f"UMLS-F1 needs the UMLS linker files, missing {', '.join(absent)} (looked in {where[0]}); "
            f"run `clue metrics fetch umls` where there is a network, or pass "
            f"--metric umls_linker_dir=FOLDER --metric umls_kb=FILE"
        )
    return LinkerFiles(kb=kb, **index)  # type: ignore[arg-type]


def pipeline_available(name: str) -> bool:
    return Path(name).expanduser().is_dir() or importlib.util.find_spec(name.replace("-", "_")) is not None


# -- the pipeline -----------------------------------------------------------


class ConceptExtractor:
    """A spaCy pipeline plus scispaCy's linker, loaded once and shared by every task."""

    def __init__(self, config: UmlsConfig, files: LinkerFiles):
        import spacy
        from scispacy.abbreviation import AbbreviationDetector  # noqa: F401  registers the factory
        from scispacy.candidate_generation import CandidateGenerator, LinkerPaths
        from scispacy.linking import EntityLinker
        from scispacy.linking_utils import KnowledgeBase

        self.config = config
        self.nlp = spacy.load(config.pipeline)
        if config.resolve_abbreviations and "abbreviation_detector" not in self.nlp.pipe_names:
            self.nlp.add_pipe("abbreviation_detector")
        paths = LinkerPaths(
            ann_index=str(files.ann_index),
            tfidf_vectorizer=str(files.tfidf_vectorizer),
            tfidf_vectors=str(files.tfidf_vectors),
            concept_aliases_list=str(files.concept_aliases_list),
        )
        aliases, vectorizer, index = paths.load()
        self.kb = KnowledgeBase(str(files.kb))
        generator = CandidateGenerator(index, vectorizer, aliases, self.kb)
        self.linker = EntityLinker(
            candidate_generator=generator,
            resolve_abbreviations=config.resolve_abbreviations,
            k=config.k,
            threshold=config.threshold,
            no_definition_threshold=config.no_definition_threshold,
            filter_for_definitions=config.filter_for_definitions,
            max_entities_per_mention=config.max_entities_per_mention,
        )

    def concepts(self, texts: Sequence[str]) -> list[frozenset[str]]:
        """Per text, the canonical names of each entity's top linked concept."""
        out = []
        with warnings.catch_warnings():
            # scispaCy's abbreviation detector warns (W036) on every text without an abbreviation
            warnings.filterwarnings("ignore", message=r"\[W036\]")
            for doc in self.nlp.pipe(texts, batch_size=self.config.batch_size):
                doc = self.linker(doc)
                names = set()
                for ent in doc.ents:
                    candidates = ent._.kb_ents
                    if candidates:
                        names.add(self.kb.cui_to_entity[candidates[0][0]].canonical_name)
                out.append(frozenset(names))
        return out


_EXTRACTORS: dict[tuple[Any, ...], ConceptExtractor] = {}
_EXTRACTORS_LOCK = threading.Lock()


def load_extractor(config: UmlsConfig, files: LinkerFiles) -> ConceptExtractor:
    key = (config, files)
    with _EXTRACTORS_LOCK:
        if key not in _EXTRACTORS:
            _EXTRACTORS[key] = ConceptExtractor(config, files)
        return _EXTRACTORS[key]


def pipeline_identity(name: str) -> dict[str, Any]:
    """Name and version of a spaCy pipeline, read from its meta.json without loading it."""
    folder = Path(name).expanduser()
    if not folder.is_dir():
        spec = importlib.util.find_spec(name.replace("-", "_"))
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            return {"pipeline": name}
        package = Path(locations[0])
        nested = sorted(p for p in package.iterdir() if (p / "meta.json").is_file())
        folder = nested[-1] if nested else package
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"pipeline": name, "path": str(folder)}
    return {
        "pipeline": name,
        "path": str(folder),
        "name": f"{meta.get('lang', '')}_{meta.get('name', '')}",
        "version": meta.get("version"),
        "components": meta.get("pipeline", []),
    }


class UmlsF1:
    """UMLS-F1 for one configuration; the pipeline loads on the first uncached pair."""

    name = "umls_f1"

    def __init__(self, config: UmlsConfig, cache: MetricCache):
        missing = missing_packages()
        if missing:
            raise MetricUnavailable(
                f"UMLS-F1 needs {', '.join(missing)}: run .ci/install-metrics.sh or see docs/metrics.md "
                f"(pip install 'clue-eval[umls]')"
            )
        if not pipeline_available(config.pipeline):
            raise MetricUnavailable(
                f"UMLS-F1 needs the spaCy pipeline {config.pipeline}, not installed: "
                f"pip install {EN_CORE_SCI_SM_URL} (where there is a network), "
                f"or pass --metric umls_pipeline=FOLDER"
            )
        self.config = config
        self.files = locate_linker(config)
        self.pipeline = pipeline_identity(config.pipeline)
        self.digests = {path.name: cache.file_digest(path) for path in self.files.all()}
        self.versions = installed_versions(("scispacy", "spacy", "nmslib-metabrainz", "scikit-learn"))

    def value_settings(self, references: Sequence[str]) -> dict[str, Any]:
        config = self.config
        return {
            "pipeline": {k: self.pipeline.get(k) for k in ("name", "version", "components")},
            "files_sha256": self.digests,
            "threshold": config.threshold,
            "no_definition_threshold": config.no_definition_threshold,
            "filter_for_definitions": config.filter_for_definitions,
            "k": config.k,
            "max_entities_per_mention": config.max_entities_per_mention,
            "resolve_abbreviations": config.resolve_abbreviations,
            "packages": self.versions,
        }

    def settings(self) -> dict[str, Any]:
        return {
            **self.value_settings(()),
            "pipeline": self.pipeline,
            "linker_files": {key: str(getattr(self.files, key)) for key in (*LINKER_FILES, "kb")},
            "concept": "canonical name of each entity's top candidate",
        }

    def score(self, predictions: list[str], references: list[str]) -> list[float]:
        extractor = load_extractor(self.config, self.files)
        texts = list(dict.fromkeys([*predictions, *references]))  # each distinct text goes through once
        concepts = dict(zip(texts, extractor.concepts(texts)))
        return [umls_f1(concepts[p], concepts[r]) for p, r in zip(predictions, references)]


# -- building an index for a knowledge base ---------------------------------


def build_linker_index(kb_path: str | os.PathLike, out_dir: str | os.PathLike, *, min_df: int = 1,
                       m: int = 32, ef_construction: int = 200) -> Path:
    """Write the four linker files for a knowledge base JSONL, in scispaCy's layout.

    The vectorizer is scispaCy's (character 3-grams within words, tf-idf) and
    the index its nmslib HNSW over sparse cosine; scispaCy's release used
    ``min_df=10, M=100, efConstruction=2000`` on the full UMLS. Vectors are
    saved as float32 (scispaCy's float16 needs scipy < 1.11).
    """
    import joblib
    import nmslib
    import numpy
    import scipy.sparse
    from scispacy.linking_utils import KnowledgeBase
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kb = KnowledgeBase(str(kb_path))
    aliases = list(kb.alias_to_cuis)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=min_df, dtype=numpy.float32)
    vectors = vectorizer.fit_transform(aliases).astype(numpy.float32)
    # nmslib cannot index an all-zero vector; scispaCy drops those aliases too
    keep = numpy.flatnonzero(numpy.asarray(vectors.sum(axis=1)).ravel() != 0)
    vectors = vectors[keep]
    aliases = [aliases[i] for i in keep]
    joblib.dump(vectorizer, out / LINKER_FILES["tfidf_vectorizer"])
    scipy.sparse.save_npz(out / LINKER_FILES["tfidf_vectors"], vectors)
    (out / LINKER_FILES["concept_aliases_list"]).write_text(json.dumps(aliases), encoding="utf-8")
    index = nmslib.init(method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR)
    index.addDataPointBatch(vectors)
    index.createIndex({"M": m, "efConstruction": ef_construction, "post": 0, "indexThreadQty": 1}, print_progress=False)
    index.saveIndex(str(out / LINKER_FILES["ann_index"]))
    return out


def fetch(cache_dir: Path | None = None) -> list[Path]:
    """Download the UMLS linker and knowledge base into scispaCy's cache (needs a network)."""
    cached_path = require("scispacy.file_cache", "umls", "Fetching the UMLS linker (scispaCy)").cached_path

    target = str(cache_dir) if cache_dir else None
    return [Path(cached_path(url, target)) for url in [*UMLS_LINKER_URLS.values(), UMLS_KB_URL]]


class UmlsMetric(BatchMetric):
    """UMLS-F1 as a metric: its settings and its readiness."""

    name = "umls_f1"
    title = "UMLS-F1"
    answer = TEXT
    option_keys = OPTION_KEYS
    option_prefix = "umls_"

    def load(self, config: Mapping[str, Any], cache: MetricCache) -> UmlsF1:
        return UmlsF1(UmlsConfig.from_options(config), cache)

    def status(self, config: Mapping[str, Any]) -> dict[str, Any]:
        try:
            missing = missing_packages()
            if missing:
                raise MetricUnavailable(f"not installed: {', '.join(missing)} (see docs/metrics.md)")
            cfg = UmlsConfig.from_options(config)
            if not pipeline_available(cfg.pipeline):
                raise MetricUnavailable(f"spaCy pipeline {cfg.pipeline} not installed: pip install {EN_CORE_SCI_SM_URL}")
            files = locate_linker(cfg)
            return {"metric": self.name, "ready": True,
                    "detail": f"pipeline {cfg.pipeline}, linker {files.ann_index.parent}, knowledge base {files.kb}"}
        except MetricUnavailable as exc:
            return {"metric": self.name, "ready": False, "detail": str(exc)}
