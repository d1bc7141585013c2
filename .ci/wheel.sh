#!/usr/bin/env bash
# The distribution as a user installs it by name: build the wheel and the sdist
# (python -m build), check that the wheel holds every file of the package
# (prompts, demo files, report templates, presets, py.typed), install the wheel
# into a fresh venv (not editable), then, from outside the source tree, run
# `clue --version`, a short `clue run` and the test suite against the
# installed package (a copy of the repository without clue/, whose clue/ is
# the installed one). Usage: bash .ci/wheel.sh [--no-tests | PYTEST_ARGS...] (default: the whole suite)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/clue-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

python -m pip install --quiet build
python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/*.whl)
ls "$work"/dist/*.tar.gz >/dev/null
echo "built $(basename "$wheel") and $(basename "$(ls "$work"/dist/*.tar.gz)")"

# every tracked file of the package is in the wheel
python - "$wheel" <<'PY'
import subprocess, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
tracked = subprocess.run(["git", "ls-files", "clue"], capture_output=True, text=True, check=True).stdout.split()
missing = [path for path in tracked if path not in names]
if "clue/py.typed" not in names:
    missing.append("clue/py.typed")
if missing:
    sys.exit("the wheel lacks: " + ", ".join(missing))
print(f"the wheel holds all {len(tracked)} tracked files of clue/")
PY

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "${wheel}[test]"

cd "$work"  # outside the source tree: `import clue` finds the installed package only
"$work/venv/bin/python" -c "import clue, sys; sys.exit(0 if clue.__file__.startswith('$work/venv/') else 'clue imported from ' + clue.__file__)"
"$work/venv/bin/clue" --version
"$work/venv/bin/clue" run --tasks mednli --limit 2 -o "$work/run" >"$work/run.log" 2>&1 || { cat "$work/run.log"; exit 1; }
test -s "$work/run/results.json"
echo "clue run --tasks mednli --limit 2: results.json written"

[ "${1:-}" = "--no-tests" ] && exit 0
# The tests read the repository's files (README, docs, pyproject, .ci) and ../shared; the
# package they test is the installed one: clue/ in the copy is a link to it.
mkdir "$work/repo"
git -C "$repo" ls-files -z | grep -zv '^clue/' | (cd "$repo" && xargs -0 cp --parents -t "$work/repo")
site=$("$work/venv/bin/python" -c "import clue, os; print(os.path.dirname(clue.__file__))")
ln -s "$site" "$work/repo/clue"
[ -e "$repo/../shared" ] && ln -s "$(cd "$repo/.." && pwd)/shared" "$work/shared"
cd "$work/repo"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
