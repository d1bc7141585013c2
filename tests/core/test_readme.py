"""The README's commands, CI and packaging metadata stay in step.

.ci/run must run the README's test command verbatim (so CI takes the path a
new user takes), llama.cpp must be compiled without pip's cache, the [test]
extra must hold what the suite needs, and the licence is PEP 639 metadata.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def readme_command(number: int) -> str:
    """The command under the README's ``# N.`` comment in its first bash block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no bash block"
    lines = block.group(1).splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"# {number}."):
            for following in lines[i + 1:]:
                if following.strip() and not following.startswith("#"):
                    return following.strip()
    raise AssertionError(f"README.md: no command {number} in the first bash block")


def test_ci_runs_the_readme_test_command_verbatim():
    command = readme_command(2)
    assert "pytest" in command and "pip install" in command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci, f".ci/run no longer runs the README's test command: {command}"
    # ... and runs it before it installs any heavy part.
    assert ci.index(command) < ci.index("for script in .ci/install-*.sh")


def test_readme_install_commands_name_extras_that_exist():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for number in (1, 2):
        for extra in re.findall(r"\.\[([a-z,]+)\]", readme_command(number)):
            for name in extra.split(","):
                assert name in extras, f"README command {number} installs the unknown extra [{name}]"


def test_test_extra_holds_the_light_parts_the_suite_needs():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=!~ ;\[]", dep, maxsplit=1)[0].lower() for dep in extras["test"]}
    assert {"pytest", "matplotlib", "jinja2", "httpx", "aiohttp"} <= names
    assert not names & {"torch", "scispacy", "vllm", "vllm-cpu", "llama-cpp-python", "bert-score"}, "heavy parts stay out of [test]"


def test_llama_cpp_is_compiled_without_pips_cache():
    script = (REPO / ".ci" / "install-local.sh").read_text(encoding="utf-8")
    build = [line for line in script.splitlines() if "pip wheel" in line]
    assert build and all("--no-cache-dir" in line for line in build)
    assert "/work/" not in script and "~/.cache/clue/wheels" not in script, "a wheel is reused only from $CLUE_WHEEL_CACHE"


def test_license_is_an_spdx_expression_with_its_file():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    for name in project["license-files"]:
        assert (REPO / name).is_file() and "Apache License" in (REPO / name).read_text()


def test_vllm_cpu_stage_explains_an_unsupported_platform():
    script = REPO / ".ci" / "wheel-supported.py"
    other = "cp38-abi3-macosx_11_0_arm64"
    proc = subprocess.run([sys.executable, str(script), "vllm-cpu", "0.32.0", other], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "vllm-cpu 0.32.0 is not supported on this platform" in proc.stderr
    assert other in proc.stderr and "no source package" in proc.stderr
    assert "wheel-supported.py" in (REPO / ".ci" / "vllm-cpu.sh").read_text()


def test_ci_steps_report_progress_and_time(tmp_path):
    lib = REPO / ".ci" / "lib.sh"
    proc = subprocess.run(
        ["bash", "-c", f'. "{lib}"; CLUE_HEARTBEAT_S=1 step "waiting" sleep 2.5; step "failing" false; echo "rc=$?"'],
        capture_output=True, text=True, timeout=60,
    )
    assert "== waiting ..." in proc.stdout
    assert "still waiting" in proc.stdout
    assert re.search(r"== waiting: done in \d+ s", proc.stdout)
    assert "== failing: FAILED (exit 1)" in proc.stderr and "rc=1" in proc.stdout


def test_readme_first_command_builds_llama_cpp_portably_and_not_from_pips_cache():
    # A build tuned to the machine's CPU (AMX) crashed in a VM; a cached wheel would be reused whatever CMAKE_ARGS say.
    command = readme_command(1)
    assert "[llamacpp]" in command
    install = command[: command.index("[llamacpp]")].rsplit("&&", 1)[-1]
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in install and "--no-cache-dir" in install, install
