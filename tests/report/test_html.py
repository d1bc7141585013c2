"""The HTML page: self-contained, items of credentialed tasks only on request, and clean in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.report.html import ReportOptions, build_report
from tests.helpers.fake_runs import PUBLISHED_CSV, level1_tasks, write_run
from tests.report.report_browser import find_chromium, inspect_page


# Longhealth rows cluster by patient (group); MeQSum is public too, MedNLI is credentialed.
def mixed_run(folder: Path, model: str, mednli_correct: int) -> Path:
    tasks = level1_tasks(mednli_correct, n=120)
    tasks["longhealth"] = {"task1": [1.0, 0.0] * 15, "task2": [1.0] * 30, "task3": [0.0, 1.0, 1.0] * 10}
    return write_run(folder, model, tasks, group_size=10)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    base = mixed_run(root / "Mistral-7B-Instruct-v0.1", "mistralai/Mistral-7B-Instruct-v0.1", 90)
    bio = mixed_run(root / "BioMistral-7B", "BioMistral/BioMistral-7B", 70)
    return base, bio


def items_in(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="items-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


def test_no_items_unless_asked(two_runs, tmp_path):
    build_report(list(two_runs), ReportOptions(out=tmp_path, n_resamples=200))
    html = (tmp_path / "report.html").read_text()
    assert items_in(html)["runs"] == {}
    assert "answer 1" not in html and "gold 1" not in html
    assert "Per-item outputs not included" in html


def test_show_items_includes_public_tasks_only(two_runs, tmp_path):
    report = build_report(list(two_runs), ReportOptions(out=tmp_path, n_resamples=200, show_items=True))
    data = items_in((tmp_path / "report.html").read_text())
    for run in data["runs"].values():
        assert set(run) == {"meqsum", "longhealth"}
    assert set(report.items_withheld["BioMistral-7B"]) == {"mednli", "problem_summary"}
    assert "credentialed-warning" not in (tmp_path / "report.html").read_text()


def test_credentialed_items_need_the_explicit_flag_and_carry_a_warning(two_runs, tmp_path):
    with pytest.raises(UsageError, match="--show-items"):
        build_report(list(two_runs), ReportOptions(out=tmp_path, allow_credentialed_items=True))
    build_report(list(two_runs), ReportOptions(out=tmp_path, n_resamples=200, show_items=True,
                                               allow_credentialed_items=True))
    html = (tmp_path / "report.html").read_text()
    data = items_in(html)
    assert set(data["runs"]["BioMistral-7B"]) == {"mednli", "meqsum", "problem_summary", "longhealth"}
    assert 'id="credentialed-warning"' in html and "mednli, problem_summary" in html


def test_model_text_cannot_break_out_of_the_page(tmp_path):
    run = write_run(tmp_path / "run", "m", {"meqsum": {"rouge1": [0.5], "rouge2": [0.5], "rougeL": [0.5], "bertscore": [0.5]}})
    rows = (run / "predictions" / "meqsum.jsonl").read_text().replace(
        '"output": "answer 0"', '"output": "</script><script>alert(1)</script><img src=http://example.com/x>"')
    (run / "predictions" / "meqsum.jsonl").write_text(rows)
    build_report([run], ReportOptions(out=tmp_path / "r", show_items=True))
    html = (tmp_path / "r" / "report.html").read_text()
    assert "</script><script>alert(1)" not in html
    assert items_in(html)["runs"]["run"]["meqsum"][0][4].startswith("</script><script>alert(1)")


def test_the_page_refers_to_no_other_host(two_runs, tmp_path):
    published = PUBLISHED_CSV if PUBLISHED_CSV.is_file() else None
    build_report(list(two_runs), ReportOptions(out=tmp_path, pairs="clue", published=published, n_resamples=200,
                                               show_items=True))
    html = (tmp_path / "report.html").read_text()
    # No element loads anything by URL: every src is a data: URI, and there is no <link>.
    assert re.findall(r'\bsrc="(?!data:)', html) == []
    assert "<link" not in html and "@import" not in html and "url(http" not in html


@pytest.fixture(scope="module")
def browser_page(two_runs, tmp_path_factory):
    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; see .ci/install-report.sh)")
    out = tmp_path_factory.mktemp("browser")
    published = PUBLISHED_CSV if PUBLISHED_CSV.is_file() else None
    build_report(list(two_runs), ReportOptions(out=out / "report", pairs="clue", published=published,
                                               n_resamples=500, show_items=True))
    script = {
        "leaderboard_rows": "document.querySelectorAll('#leaderboard-table tbody tr').length",
        "item_rows": "document.querySelectorAll('#items-table tbody tr').length",
        "first_before": "document.querySelector('#leaderboard-table tbody tr td:nth-child(2)').textContent.trim()",
        # Sort by the model column (ascending), then read the first row again.
        "first_after": "(() => { document.querySelectorAll('#leaderboard-table th')[1].click();"
                       " return document.querySelector('#leaderboard-table tbody tr td:nth-child(2)').textContent.trim(); })()",
        "images_loaded": "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
        # At 1280 px, every table that is wider than its wrapper (which would make the reader scroll sideways).
        "too_wide": "Array.from(document.querySelectorAll('table')).filter(t => { const box = t.parentElement;"
                    " return t.getBoundingClientRect().width > box.clientWidth + 1"
                    " || box.scrollWidth > box.clientWidth + 1; }).map(t => t.id || t.className)",
        "page_too_wide": "document.documentElement.scrollWidth > document.documentElement.clientWidth",
        "captions": "Array.from(document.querySelectorAll('table.leaderboard caption')).map(c => c.textContent.trim())",
    }
    log = inspect_page(out / "report" / "report.html", out / "profile", script=script, width=1280)
    shot = out / "report" / "screenshot.png"
    shot.write_bytes(log.screenshot)
    if os.environ.get("CLUE_REPORT_ARTIFACTS"):
        target = Path(os.environ["CLUE_REPORT_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / "report-screenshot.png")
        shutil.copy(out / "report" / "report.html", target / "report.html")
    return out / "report", log


def test_the_page_renders_in_chromium_without_errors_or_network(browser_page):
    folder, log = browser_page
    page = (folder / "report.html").resolve().as_uri()
    elsewhere = [u[:80] for u in log.requests if u != page and not u.startswith("data:")]
    assert elsewhere == []
    assert log.errors == []
    assert log.screenshot.startswith(b"\x89PNG") and len(log.screenshot) > 20_000
    assert log.evaluated["images_loaded"] is True
    assert log.evaluated["leaderboard_rows"] >= 2 and log.evaluated["item_rows"] > 0
    # The sort on the model column put the alphabetically first name on top.
    assert log.evaluated["first_after"].lower() <= log.evaluated["first_before"].lower()


def test_every_table_fits_a_1280_px_window(browser_page):
    """Measured in Chromium at 1280 px: no table is wider than its container (the diagnostics table was 2216 px)."""
    _, log = browser_page
    assert log.errors == []
    assert log.evaluated["too_wide"] == []
    assert log.evaluated["page_too_wide"] is False
    assert log.evaluated["captions"] and all(c.startswith("Scored on:") for c in log.evaluated["captions"])


def test_the_network_check_does_see_requests(tmp_path):
    """The check above is only worth something if it notices a page that does reach out."""
    if find_chromium() is None:
        pytest.skip("chromium is not installed")
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">'
                    '<script>console.error("boom")</script></body></html>')
    log = inspect_page(page, tmp_path / "profile")
    assert "http://example.invalid/x.png" in log.requests
    assert any("boom" in e for e in log.errors)


# -- groups, widths (issue 22, item 10) ------------------------------------------------------------
def leaderboard_tables(html: str) -> list[str]:
    return re.findall(r'<table class="sortable leaderboard".*?</table>', html, re.S)


def test_each_comparability_group_has_its_own_captioned_table(tmp_path):
    """Runs scored alike share a table; a run scored otherwise gets its own, ranked from 1, with the reason."""
    root = tmp_path / "runs"
    a = mixed_run(root / "a", "org/a", 90)
    b = mixed_run(root / "b", "org/b", 70)
    c = mixed_run(root / "c", "org/c", 80)
    record = json.loads((c / "results.json").read_text())
    record["scored_on"] = {**(record.get("scored_on") or {}), "protocol": "clue", "limit": 7}
    (c / "results.json").write_text(json.dumps(record))
    build_report([a, b, c], ReportOptions(out=tmp_path / "rep", n_resamples=200))
    html = (tmp_path / "rep" / "report.html").read_text()
    tables = leaderboard_tables(html)
    assert len(tables) == 2
    for table in tables:
        caption = re.search(r"<caption>(.*?)</caption>", table, re.S)
        assert caption and caption.group(1).startswith("Scored on: ")
        ranks = re.findall(r'<td class="num" data-sort="(\d+)">', table)
        assert ranks[0] == "1" and ranks.count("1") == 1  # one rank 1 per table
    assert "Not ranked with the first table" not in tables[0]
    assert re.search(r"Not ranked with the first table: [^<]*--limit 7", tables[1])
    assert html.count('id="leaderboard-table"') == 1 and 'id="leaderboard-table-2"' in html


def test_tables_fit_1280_px_by_their_rules(two_runs, tmp_path):
    """Without a browser: every table sits in an overflow-x:auto wrapper and headers may wrap."""
    build_report(list(two_runs), ReportOptions(out=tmp_path, n_resamples=200))
    html = (tmp_path / "report.html").read_text()
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    assert re.search(r"\.scroll\s*\{[^}]*overflow-x:\s*auto", css)
    th_rule = re.search(r"\n\s*th\s*\{([^}]*)\}", css).group(1)
    assert "white-space: nowrap" not in th_rule
    body = html.split("<main>", 1)[1]
    for m in re.finditer(r"<table\b", body):
        before = body[:m.start()].rstrip()
        assert before.endswith('<div class="scroll">') or before.endswith('<div class="scroll">\n'), body[m.start():m.start() + 80]
