"""UMLS-F1 throughput (items per second) through clue's metric.

    python bench/bench_umls.py [--n 1000] [--concepts 5000]
    python bench/bench_umls.py --pipeline en_core_sci_sm --linker-dir DIR --kb FILE   # the real thing

Without the real pipeline and UMLS linker (not installable offline: see
docs/metrics.md), it builds a synthetic knowledge base of ``--concepts``
concepts, indexes it with ``build_linker_index`` and runs a blank English
pipeline whose entity ruler marks a few thousand of those names: the linking
path (abbreviations, scispaCy's candidate generator and linker) is the real
one, the tagger/parser/NER of en_core_sci_sm are not, so real runs are slower.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import tempfile
import time
from pathlib import Path

FILLER = "the patient was seen with and for history of no new today mild severe noted on exam".split()


def synthetic_kb(folder: Path, n: int, seed: int) -> tuple[Path, list[str]]:
    gen = random.Random(seed)
    syllables = ["".join(gen.choice(string.ascii_lowercase) for _ in range(gen.randint(3, 7))) for _ in range(3000)]
    names = list({" ".join(gen.choice(syllables) for _ in range(gen.randint(1, 3))) for _ in range(n)})
    path = folder / "kb.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i, name in enumerate(names):
            aliases = [name, name.upper()] + ([" ".join(reversed(name.split()))] if " " in name else [])
            fh.write(json.dumps({"concept_id": f"C{i:07d}", "canonical_name": name.title(), "aliases": aliases,
                                 "types": ["T047"], "definition": "synthetic" if i % 3 else None}) + "\n")
    return path, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="(prediction, reference) pairs")
    parser.add_argument("--concepts", type=int, default=5000)
    parser.add_argument("--pipeline", default=None)
    parser.add_argument("--linker-dir", default=None)
    parser.add_argument("--kb", default=None)
    args = parser.parse_args()

    import spacy

    from clue.metrics.umls import UmlsConfig, UmlsF1, build_linker_index, load_extractor
    from clue.store.metric_cache import MetricCache

    gen = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.pipeline:
            options = {"umls_pipeline": args.pipeline, "umls_linker_dir": args.linker_dir, "umls_kb": args.kb}
            names = ["hypertension", "diabetes mellitus", "pneumonia", "acute kidney injury", "atrial fibrillation"]
        else:
            t0 = time.perf_counter()
            kb, names = synthetic_kb(root, args.concepts, 0)
            build_linker_index(kb, root / "linker", m=16, ef_construction=64)  # quick to build; queries are what is timed
            nlp = spacy.blank("en")
            nlp.add_pipe("sentencizer")
            ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
            ruler.add_patterns([{"label": "ENTITY", "pattern": name} for name in names[:5000]])
            nlp.to_disk(root / "pipeline")
            print(f"synthetic KB of {len(names)} concepts indexed in {time.perf_counter() - t0:.1f} s")
            options = {"umls_pipeline": str(root / "pipeline"), "umls_linker_dir": str(root / "linker"), "umls_kb": str(kb)}
            names = names[:5000]

        def text(concepts: list[str]) -> str:
            words = [gen.choice(FILLER) for _ in range(gen.randint(10, 40))]
            for concept in concepts:
                words.insert(gen.randrange(len(words) + 1), concept)
            return " ".join(words)

        preds, refs = [], []
        for _ in range(args.n):  # pairs that share some of their concepts
            shared = gen.sample(names, gen.randint(0, 3))
            preds.append(text(shared + gen.sample(names, gen.randint(0, 3))))
            refs.append(text(shared + gen.sample(names, gen.randint(0, 3))))
        config = UmlsConfig.from_options(options)
        metric = UmlsF1(config, MetricCache(None))
        t0 = time.perf_counter()
        load_extractor(config, metric.files)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        values = metric.score(preds, refs)
        score_s = time.perf_counter() - t0
    print(f"pipeline {metric.pipeline.get('name')} {metric.pipeline.get('components')}; load {load_s:.2f} s")
    print(f"{args.n} items ({2 * args.n} texts) in {score_s:.2f} s: {args.n / score_s:.1f} items/s")
    print(f"mean UMLS-F1 {sum(values) / len(values):.4f}")


if __name__ == "__main__":
    main()
