#!/usr/bin/env bash
# Packages for `clue report` (figures, HTML) and its tests; run inside the active venv.
# Chromium renders the HTML page in tests/report/test_html.py (a headless browser that
# checks the page makes no network request); without it that test skips, so an
# unavailable apt only earns a warning here.
set -euo pipefail

python -m pip install --quiet "matplotlib>=3.8" "jinja2>=3.1"

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null | head -n 1)"
elif command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    fi
    if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; then
        echo "installed $(chromium --version 2>/dev/null | head -n 1)"
    else
        echo "WARNING: could not install chromium with apt; the browser test of the HTML report will skip" >&2
    fi
else
    echo "WARNING: no apt-get here; install Chromium to run the browser test of the HTML report (it skips without)" >&2
fi
