"""What one evaluation is asked to do: the run spec, built the same way from the command line, a sweep file
and Python (``RunSpec.build``: one set of setting names, one validation; docs/api.md lists the settings)."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.seeding import DEFAULT_SEED
from clue.pipeline.cost import parse_price
from clue.pipeline.data import parse_data_args
from clue.tasks.protocols import get_protocol
from clue.tasks.registry import get_task
from clue.tasks.settings import DEFAULT_PROTOCOL, apply_overrides, parse_setting
from clue.tasks.suite import DEFAULT_SUITE, check_protocol, get_suite, resolve_tasks, tasks_in_suite

DEFAULT_BOOTSTRAP = 1000
RUNS_ROOT = Path("clue-runs")
#: ``--longhealth-budget N`` is this protocol setting (the one place a task-specific option is set)
LONGHEALTH_BUDGET = "longhealth.options.budget"


@dataclass
class RunSpec:
    """Everything one run of one model depends on. Build it with ``RunSpec.build`` (or ``from_cli`` /
    ``from_sweep`` / ``from_python``, which only gather their settings and call it)."""

    model: str
    tasks: list[str]
    output: Path
    suite: str = DEFAULT_SUITE  # the suite whose levels score the run: a built-in name or a suite file's path
    data: dict[str, Path] = field(default_factory=dict)
    data_dir: Path | None = None
    limit: int | None = None
    seed: int = DEFAULT_SEED
    templates_dir: Path | None = None
    # decoding: None keeps each task's protocol value (max new tokens) or the backend's neutral default
    max_new_tokens: int | None = None
    temperature: float = 0.0
    top_p: float | None = None
    decoding_seed: int | None = None
    bootstrap_resamples: int = DEFAULT_BOOTSTRAP
    protocol: str = DEFAULT_PROTOCOL
    # --protocol-setting [TASK.]KEY=VALUE, as given (recorded in the manifest); task options are TASK.options.KEY
    protocol_settings: list[str] = field(default_factory=list)
    metric_settings: dict[str, Any] = field(default_factory=dict)  # --metric KEY=VALUE (e.g. bertscore_model)
    price: dict[str, Any] | None = None  # clue.pipeline.cost.parse_price; None: no price
    gpus: int | None = None  # GPUs the model holds; None: from the spec (clue.pipeline.cost.gpus_for)
    options: dict[str, Any] = field(default_factory=dict)  # backend options (-O KEY=VALUE, --base-url, ...)
    approve_endpoints: list[str] = field(default_factory=list)  # only ever from the user (command line, Python)
    # task files (paths) and task names whose access = "public" the user confirms (clue.pipeline.trust); never from
    # a sweep file
    public_tasks: list[str] = field(default_factory=list)
    refresh: bool = False
    force: bool = False
    variants: str | None = None  # prompt variants, e.g. "prompts=4,shots=3" (clue.pipeline.variants)
    variant_design: str = "crossed"
    # LLM judges of the free-text tasks (clue.pipeline.judge): one spec, or a judges file; None: no judging
    judge: str | None = None
    judge_base_url: str | None = None
    judges: Path | None = None
    command: list[str] = field(default_factory=lambda: list(sys.argv))

    # -- the one constructor ------------------------------------------------------------------------
    @classmethod
    def build(cls, settings: Mapping[str, Any], *, where: str = "settings", base: Path | None = None,
              command: Sequence[str] | None = None) -> RunSpec:
        """A spec from setting names (``SETTINGS``), each checked once; ``base`` resolves relative paths."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise UsageError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(SETTINGS))}")
        s = dict(settings)
        model = _text(s.get("model", "baseline"), "model", where)
        protocol = _text(s.get("protocol", DEFAULT_PROTOCOL), "protocol", where)
        get_protocol(protocol)
        protocol_settings = [_text(v, "protocol_settings", where) for v in _listed(s.get("protocol_settings"))]
        budget = _opt_int(s.get("longhealth_budget"), "longhealth_budget", where, minimum=1)
        if budget is not None:
            protocol_settings.append(f"{LONGHEALTH_BUDGET}={budget}")
        options = dict(_mapping(s.get("options"), "options", where))
        for key in ("base_url", "concurrency", "chat_layout"):
            if s.get(key) is not None:
                options[key] = s[key]
        output = s.get("output")
        tasks, suite = _suite_tasks(s.get("tasks", "all"), s.get("suite"), protocol, where, base)
        spec = cls(
            model=model,
            tasks=tasks,
            suite=suite,
            output=_path(output, base) if output is not None else default_output(model),
            data=_data(s.get("data"), where, base),
            data_dir=_path(s["data_dir"], base) if s.get("data_dir") else None,
            limit=_opt_int(s.get("limit"), "limit", where, minimum=1),
            seed=_int(s.get("seed", DEFAULT_SEED), "seed", where),
            templates_dir=_path(s["templates"], base) if s.get("templates") else None,
            max_new_tokens=_opt_int(s.get("max_new_tokens"), "max_new_tokens", where, minimum=1),
            temperature=_number(s.get("temperature", 0.0), "temperature", where, 0.0, math.inf),
            top_p=_opt_number(s.get("top_p"), "top_p", where, 0.0, 1.0),
            decoding_seed=_opt_int(s.get("decoding_seed"), "decoding_seed", where),
            bootstrap_resamples=_int(s.get("bootstrap", DEFAULT_BOOTSTRAP), "bootstrap", where, minimum=0),
            protocol=protocol,
            protocol_settings=protocol_settings,
            metric_settings=dict(_mapping(s.get("metric"), "metric", where)),
            price=parse_price(s.get("price"), f"{where}: price"),
            gpus=_opt_int(s.get("gpus"), "gpus", where, minimum=0),
            options=options,
            approve_endpoints=[_text(v, "approve_endpoints", where) for v in _listed(s.get("approve_endpoints"))],
            public_tasks=[_text(v, "public_tasks", where) for v in _listed(s.get("public_tasks"))],
            refresh=_flag(s.get("refresh", False), "refresh", where),
            force=_flag(s.get("force", False), "force", where),
            variants=_text(s["variants"], "variants", where) if s.get("variants") is not None else None,
            variant_design=_text(s.get("variant_design", "crossed"), "variant_design", where),
            judge=_text(s["judge"], "judge", where) if s.get("judge") is not None else None,
            judge_base_url=_text(s["judge_base_url"], "judge_base_url", where) if s.get("judge_base_url") is not None else None,
            judges=_path(s["judges"], base) if s.get("judges") else None,
            command=list(command) if command is not None else ["clue", *sys.argv[1:]],
        )
        if "chat_layout" not in spec.options and protocol_layout(spec) is not None:
            spec.options["chat_layout"] = protocol_layout(spec)
        return spec

    @classmethod
    def from_python(cls, model: str = "baseline", tasks: str | Sequence[str] = "all", data: Mapping[str, Any] | None = None,
                    output: str | Path | None = None, **settings: Any) -> RunSpec:
        """``clue.evaluate(...)``'s settings: the same names as the command line's options (docs/api.md)."""
        given = {"model": model, "tasks": tasks, "data": data, "output": output, **settings}
        return cls.build({k: v for k, v in given.items() if v is not None}, where="clue.evaluate", command=list(sys.argv))

    def with_changes(self, **changes: Any) -> RunSpec:
        return replace(self, **changes)

    # -- what the records say ------------------------------------------------------------------------
    def decoding_record(self) -> dict[str, Any]:
        """The manifest's ``decoding``: the run's overrides (top_p and a decoding seed only when set)."""
        record: dict[str, Any] = {"temperature": self.temperature, "max_new_tokens_override": self.max_new_tokens}
        if self.top_p is not None:
            record["top_p"] = self.top_p
        if self.decoding_seed is not None:
            record["seed"] = self.decoding_seed
        return record


# The settings every front door accepts (command-line options with - as _, sweep keys, evaluate() keywords).
SETTINGS: dict[str, str] = {
    "model": "model spec: baseline, openai:NAME, vllm:NAME, hf:PATH, llamacpp:GGUF, smollm2",
    "tasks": "all, level1, level2, task names and task files (a list or comma-separated)",
    "suite": "a suite (a name or a suite file): its tasks, its levels score the run",
    "data": "task -> data file",
    "data_dir": "folder holding the tasks' files",
    "output": "run directory (default clue-runs/<model>)",
    "limit": "score only the first N items of each task",
    "seed": "seed of few-shot selection, LongHealth shuffles and the bootstrap",
    "templates": "folder of prompt templates that override the built-in ones",
    "max_new_tokens": "override every task's max new tokens",
    "temperature": "sampling temperature (0: greedy)",
    "top_p": "nucleus sampling (default: 1, none)",
    "decoding_seed": "the backend's sampling seed, for sampled decoding",
    "longhealth_budget": f"alias of --protocol-setting {LONGHEALTH_BUDGET}=N",
    "bootstrap": "bootstrap resamples for the 95% intervals (0: none)",
    "protocol": "protocol profile: clue, clue-2024-06, clue-2025-01",
    "protocol_settings": "[TASK.]KEY=VALUE overrides of protocol settings; task options as TASK.options.KEY",
    "metric": "metric settings KEY=VALUE (e.g. bertscore_model)",
    "price": "price for the cost columns (gpu_hour, mtok, prompt_mtok, completion_mtok, currency)",
    "gpus": "GPUs the model holds (cost and scheduling)",
    "options": "backend options",
    "base_url": "OpenAI-compatible server URL(s)",
    "concurrency": "requests in flight at once",
    "chat_layout": "auto, system, fold or plain",
    "approve_endpoints": "endpoints credentialed data may go to (never from a sweep file)",
    "public_tasks": "task files and task names whose access = \"public\" you confirm (never from a sweep file)",
    "refresh": "ask the model again instead of reusing stored answers",
    "force": "replace another model's run in the output folder",
    "variants": "ask under prompt variants: prompts=N,shots=N,order=N (docs/variants.md)",
    "variant_design": "crossed, or sampled:N",
    "judge": "an LLM judge of the free-text tasks: any model spec (docs/judges.md)",
    "judge_base_url": "the judge's OpenAI-compatible server URL",
    "judges": "a judges file (TOML): a jury, each judge's spec, options and weight, how scores combine",
}


def protocol_layout(spec: RunSpec) -> str | None:
    """"system" when the protocol says every task gets a system role (clue-2025-01), else None (the backend decides)."""
    overrides = [parse_setting(text) for text in spec.protocol_settings]
    layouts = {
        apply_overrides(get_task(name).declaration.settings(spec.protocol), name, overrides).chat_layout
        for name in spec.tasks
    }
    return "system" if layouts == {"system"} else None


def default_output(model: str) -> Path:
    """``clue-runs/<model>``, with the model spec made into a folder name."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model).strip("_") or "model"
    return RUNS_ROOT / slug


# -- checks (each names the setting and where it came from) -------------------------------------------
def _bad(where: str, key: str, message: str) -> UsageError:
    return UsageError(f"{where}: {key} {message}")


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(where, key, f"must be text, got {value!r}")
    return value


def _int(value: Any, key: str, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(where, key, f"must be a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise _bad(where, key, f"must be at least {minimum}, got {value}")
    return value


def _opt_int(value: Any, key: str, where: str, minimum: int | None = None) -> int | None:
    return None if value is None else _int(value, key, where, minimum)


def _number(value: Any, key: str, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) and high != math.inf:
        raise _bad(where, key, f"must be a number, got {value!r}")
    if not low <= float(value) <= high or math.isnan(float(value)):
        raise _bad(where, key, f"must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _opt_number(value: Any, key: str, where: str, low: float, high: float) -> float | None:
    return None if value is None else _number(value, key, where, low, high)


def _flag(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, key, f"must be true or false, got {value!r}")
    return value


def _mapping(value: Any, key: str, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad(where, key, f"must map names to values, got {value!r}")
    return {str(k): v for k, v in value.items()}


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _path(value: Any, base: Path | None) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _tasks(value: Any, where: str, base: Path | None) -> list[str]:
    if not isinstance(value, (str, list, tuple)) or not value:
        raise _bad(where, "tasks", f"must name tasks, got {value!r}")
    pieces = [value] if isinstance(value, str) else [str(v) for v in value]
    try:
        return resolve_tasks(pieces, base=base)  # task files: relative to the sweep file (or the working directory)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _suite_tasks(tasks: Any, suite: Any, protocol: str, where: str, base: Path | None) -> tuple[list[str], str]:
    """The run's tasks and the suite it records: without a suite, ``all`` and the levels are CLUE's;
    with one, its tasks (``tasks`` may pick some of them) and the protocols it supports."""
    if suite is None:
        return _tasks(tasks, where, base), DEFAULT_SUITE
    try:
        chosen = get_suite(_text(suite, "suite", where), base=base)
        check_protocol(chosen, protocol)
        names = tasks_in_suite(resolve_tasks([tasks] if isinstance(tasks, str) else list(tasks), base=base, suite=chosen), chosen)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return names, chosen.name if chosen.is_builtin else chosen.source


def _data(value: Any, where: str, base: Path | None) -> dict[str, Path]:
    if value is None:
        return {}
    if isinstance(value, (list, tuple)):  # the command line's TASK=PATH pairs
        return {task: _path(path, base) for task, path in parse_data_args([str(v) for v in value]).items()}
    out: dict[str, Path] = {}
    for task, path in _mapping(value, "data", where).items():
        get_task(task)
        out[task] = _path(path, base)
    return out

