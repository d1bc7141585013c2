#!/usr/bin/env bash
# Packages for the OpenAI-compatible backend and its tests (run inside the active venv).
# openai: the bare-client comparison in bench/bench_openai.py; httpx: the backend's
# HTTP client; aiohttp: only the fault-injecting test server in tests/serving/.
set -euo pipefail
python -m pip install --quiet "openai>=1.30" "httpx>=0.27" "aiohttp>=3.9"
