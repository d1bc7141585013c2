"""The figures (issue 22, item 10): a run keeps its colour in every figure, score axes start at zero,
and a legend names only what is drawn. Checked on the matplotlib objects, captured just before saving."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="the report extra (matplotlib) draws the figures")

from matplotlib.colors import to_hex  # noqa: E402

from clue.core.results import RunResults  # noqa: E402
from clue.report import figures  # noqa: E402
from clue.report.leaderboard import Entry  # noqa: E402
from clue.report.pairs import compare_pairs, load_pairs  # noqa: E402
from clue.report.published import load_published  # noqa: E402


@pytest.fixture
def drawn(monkeypatch) -> dict[str, Any]:
    """stem -> the figure's axes, as they are when the figure is saved."""
    seen: dict[str, Any] = {}
    save = figures._save

    def spy(fig, out, stem):
        seen[stem] = [{"xlim": ax.get_xlim(), "ylim": ax.get_ylim(), "xscale": ax.get_xscale(),
                       "legend": [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else [],
                       "legend_handles": list(ax.get_legend().legend_handles) if ax.get_legend() else [],
                       "bars": {c.get_label(): to_hex(c.patches[0].get_facecolor()) for c in ax.containers
                                if getattr(c, "patches", None)},
                       # a point's colour: its edge (hollow points have no face)
                       "points": [(to_hex(c.get_edgecolor()[0]) if len(c.get_edgecolor()) else
                                   to_hex(c.get_facecolor()[0]),
                                   [tuple(xy) for xy in c.get_offsets()]) for c in ax.collections],
                       "texts": [t.get_text() for t in ax.texts]}
                      for ax in fig.axes]
        return save(fig, out, stem)

    monkeypatch.setattr(figures, "_save", spy)
    return seen


def run(name: str, level1: float, level2: float, tokens: int | None = 100) -> Entry:
    cost = {"prompt_tokens": tokens, "completion_tokens": 10, "gpus": 0} if tokens is not None else {}
    return Entry(name, "run", RunResults(tasks={}, levels={"level1": level1, "level2": level2,
                                                           "overall": (level1 + level2) / 2}, cost=cost))


def test_a_run_has_one_colour_in_every_figure(drawn, tmp_path):
    # "a" has no cost: before, the cost figure numbered only the runs it drew, so "b" took "a"'s colour.
    runs = [run("c", 40.0, 41.0), run("a", 42.0, 43.0, tokens=None), run("b", 44.0, 45.0)]
    figures.write_figures(runs, [], tmp_path)
    colors = {"a": figures.PALETTE[0], "b": figures.PALETTE[1], "c": figures.PALETTE[2]}  # by sorted name
    assert drawn["tasks"][0]["bars"] == colors
    levels = {tuple(pts[0]): color for color, pts in drawn["levels"][0]["points"]}
    assert {levels[(e.level("level1"), e.level("level2"))] for e in runs} == set(colors.values())
    assert all(levels[(e.level("level1"), e.level("level2"))] == colors[e.name] for e in runs)
    cost_points = {pts[0][1]: color for color, pts in drawn["cost"][0]["points"]}
    assert cost_points == {e.level("overall"): colors[e.name] for e in runs if e.name != "a"}
    assert figures.run_colors(runs) == colors


def test_score_axes_start_at_zero_and_equal_scores_share_a_label(drawn, tmp_path):
    # Two baselines with the same score and nearly the same cost: on a zoomed axis they looked far apart.
    runs = [run("a", 41.0, 45.0, tokens=1000), run("c", 41.0, 45.0, tokens=1010), run("b", 41.0, 45.0, tokens=850)]
    figures.write_figures(runs, [], tmp_path)
    levels, tasks, cost = drawn["levels"][0], drawn["tasks"][0], drawn["cost"][0]
    assert levels["xlim"] == (0.0, 100.0) and levels["ylim"] == (0.0, 100.0)
    assert tasks["ylim"] == (0.0, 100.0)
    assert cost["ylim"] == (0.0, 100.0) and cost["xlim"][0] == 0.0
    assert "a, b, c" in levels["texts"]
    assert "a, c" in cost["texts"] and "b" in cost["texts"]


def test_the_levels_legend_names_only_what_is_drawn(drawn, tmp_path):
    runs = [run("a", 41.0, 45.0), run("b", 50.0, 52.0)]
    figures.levels_figure(runs, [], tmp_path)
    assert drawn["levels"][0]["legend"] == ["a", "b"]  # no published rows, no arrows: nothing else named

    published = load_published("clue-2024-06")
    pairs = compare_pairs(load_pairs("clue"), published, seed=0, n_resamples=100)
    figures.levels_figure(published, pairs, tmp_path)
    legend = drawn["levels"][0]["legend"]
    assert "published (June 2024)" in legend
    arrows = [t for t in legend if t.startswith("biomedical")]
    assert arrows and all(t.endswith(", published") for t in arrows)  # only dashed arrows are drawn
    for text, handle in zip(legend, drawn["levels"][0]["legend_handles"]):
        if text.startswith("biomedical"):
            assert handle.get_linestyle() == "--"
