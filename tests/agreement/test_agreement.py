"""clue agreement: the published worked examples of each statistic, the JSON keys, --against, the reader study."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("krippendorff")
pytest.importorskip("statsmodels")
pytest.importorskip("scipy")

import numpy as np

from clue.stats import agreement as ag
from tests.helpers.cli import clue

NAN = float("nan")

# Shrout & Fleiss (1979), "Intraclass correlations: uses in assessing rater reliability",
# Psychological Bulletin 86(2), Table 2 (6 targets x 4 judges) and Table 4 (the six ICCs, 2 decimals).
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
SHROUT_FLEISS_ICC = {"icc1_1": 0.17, "icc2_1": 0.29, "icc3_1": 0.71, "icc1_k": 0.44, "icc2_k": 0.62, "icc3_k": 0.91}

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 coders x 12 units, missing values.
KRIPPENDORFF = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
KRIPPENDORFF_ALPHA = {"alpha_nominal": 0.743, "alpha_ordinal": 0.815, "alpha_interval": 0.849, "alpha_ratio": 0.797}

# SAS/STAT User's Guide, PROC FREQ, "Kappa statistics" example (3 categories, 24 subjects; also the reference
# printout in statsmodels' tests): simple kappa 0.4842, weighted kappa (Cicchetti-Allison = linear) 0.4701.
SAS_TABLE = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
SAS_WEIGHTED_KAPPA = 0.4701


def sas_pairs() -> tuple[list[int], list[int]]:
    a: list[int] = []
    b: list[int] = []
    for i, row in enumerate(SAS_TABLE):
        for j, count in enumerate(row):
            a += [i + 1] * count
            b += [j + 1] * count
    return a, b


def write_matrix(path: Path, rows_by_rater: list[list[float]], criterion: str | None = None) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item", "rater", "score"] + (["criterion"] if criterion else []))
        for r, scores in enumerate(rows_by_rater):
            for i, score in enumerate(scores):
                writer.writerow([f"u{i + 1}", f"coder{r + 1}", "" if score != score else score] + ([criterion] if criterion else []))
    return path


def test_icc_reproduces_shrout_and_fleiss():
    values = ag.icc(np.array(SHROUT_FLEISS, float))
    for key, published in SHROUT_FLEISS_ICC.items():
        assert abs(values[key] - published) <= 0.005, (key, values[key], published)


def test_icc_agrees_with_pingouin_on_random_ratings():
    pg = pytest.importorskip("pingouin")
    import pandas as pd

    rng = np.random.default_rng(7)
    x = rng.integers(-2, 3, (40, 5)).astype(float) + rng.normal(0, 1, (40, 1))
    frame = pd.DataFrame([(i, j, x[i, j]) for i in range(40) for j in range(5)], columns=["item", "rater", "score"])
    theirs = pg.intraclass_corr(frame, targets="item", raters="rater", ratings="score").set_index("Type")["ICC"]
    names = {"icc1_1": "ICC(1,1)", "icc2_1": "ICC(A,1)", "icc3_1": "ICC(C,1)", "icc1_k": "ICC(1,k)", "icc2_k": "ICC(A,k)", "icc3_k": "ICC(C,k)"}
    ours = ag.icc(x)
    for key, name in names.items():
        assert ours[key] == pytest.approx(theirs[name], abs=1e-9)


def test_alpha_reproduces_krippendorffs_example():
    values = ag.alphas(np.array(KRIPPENDORFF, float).T)
    for key, published in KRIPPENDORFF_ALPHA.items():
        assert abs(values[key] - published) <= 0.005, (key, values[key], published)


def test_weighted_kappa_reproduces_the_sas_example():
    a, b = sas_pairs()
    assert abs(ag.weighted_kappa(a, b, "linear") - SAS_WEIGHTED_KAPPA) <= 0.005


def test_clue_agreement_json_has_every_key_and_reproduces_krippendorff(tmp_path):
    ratings = write_matrix(tmp_path / "k.csv", KRIPPENDORFF)
    out = tmp_path / "a.json"
    ran = clue("agreement", ratings, "--json", out, "--resamples", "200")
    assert ran.returncode == 0, ran.stderr
    entry = json.loads(out.read_text())["criteria"]["all"]
    assert set(entry["icc"]) == set(ag.ICC_FORMS)
    assert set(entry["alpha"]) == set(ag.ALPHA_KEYS)
    for key, published in KRIPPENDORFF_ALPHA.items():
        assert abs(entry["alpha"][key]["value"] - published) <= 0.005
        low, high = entry["alpha"][key]["ci"]
        assert low <= high
    # unit 12 has one rating only (too few); units 1, 10 and 11 miss some raters (ICC leaves them out)
    assert entry["too_few_ratings"] == ["u12"]
    assert entry["incomplete_items"] == ["u1", "u10", "u11"]
    assert entry["n_complete"] == 8
    assert "fewer than 2 ratings" in ran.stderr and "u12" in ran.stderr


def test_clue_agreement_two_raters_give_weighted_kappa(tmp_path):
    a, b = sas_pairs()
    ratings = write_matrix(tmp_path / "two.csv", [a, b], criterion="severity")
    out = tmp_path / "a.json"
    ran = clue("agreement", ratings, "--json", out, "--resamples", "200")
    assert ran.returncode == 0, ran.stderr
    kappa = json.loads(out.read_text())["criteria"]["severity"]["kappa"]
    assert abs(kappa["kappa_linear"]["value"] - SAS_WEIGHTED_KAPPA) <= 0.005
    assert kappa["kappa_linear"]["ci"][0] < SAS_WEIGHTED_KAPPA < kappa["kappa_linear"]["ci"][1]
    assert "kappa_quadratic" in kappa


def test_shrout_fleiss_through_the_command_line(tmp_path):
    by_rater = [list(col) for col in zip(*SHROUT_FLEISS)]
    out = tmp_path / "a.json"
    ran = clue("agreement", write_matrix(tmp_path / "sf.jsonl.csv", by_rater), "--json", out, "--resamples", "100")
    assert ran.returncode == 0, ran.stderr
    icc = json.loads(out.read_text())["criteria"]["all"]["icc"]
    for key, published in SHROUT_FLEISS_ICC.items():
        assert abs(icc[key]["value"] - published) <= 0.005


def test_jsonl_ratings_and_bad_rows(tmp_path):
    good = tmp_path / "r.jsonl"
    good.write_text("".join(json.dumps({"item": i, "rater": r, "score": (i + r) % 3}) + "\n" for i in range(6) for r in range(3)))
    assert clue("agreement", good, "--resamples", "50").returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("item,rater,score\n1,a,high\n")
    ran = clue("agreement", bad)
    assert ran.returncode == 2 and "bad.csv:2" in ran.stderr and "not a number" in ran.stderr
    twice = tmp_path / "twice.csv"
    twice.write_text("item,rater,score\n1,a,1\n1,a,2\n")
    ran = clue("agreement", twice)
    assert ran.returncode == 2 and "twice" in ran.stderr


def test_against_a_run_treats_the_metric_as_one_more_rater(tmp_path):
    run_dir = tmp_path / "run"
    ran = clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", run_dir)
    assert ran.returncode == 0, ran.stderr
    rows = [json.loads(line) for line in (run_dir / "predictions" / "meqsum.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(3)
    ratings = tmp_path / "r.csv"
    with ratings.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item", "rater", "score", "criterion"])
        for row in rows:
            base = round(row["metrics"]["rougeL"] * 4 - 2)
            for rater in ("a", "b", "c"):
                writer.writerow([row["item_id"], rater, int(np.clip(base + rng.integers(-1, 2), -2, 2)), "faithful"])
    out = tmp_path / "a.json"
    ran = clue("agreement", ratings, "--against", run_dir, "--metric", "rougeL", "--metric", "meqsum:rouge1",
               "--json", out, "--resamples", "100")
    assert ran.returncode == 0, ran.stderr
    against = json.loads(out.read_text())["criteria"]["faithful"]["against"]
    for name in ("rougeL", "meqsum:rouge1"):
        figures = against[name]
        assert figures["items_with_value"] == len(rows)
        assert set(ag.ICC_FORMS) | set(ag.ALPHA_KEYS) <= set(figures["with_metric"])
        for key in ("spearman_mean", "spearman_loo", "ceiling_spearman_loo"):
            assert key in figures
        assert {"icc2_1", "alpha_interval"} <= set(figures["in_place"]) and {"icc2_1", "alpha_interval"} <= set(figures["ceiling"])
    assert against["rougeL"]["spearman_mean"]["value"] > 0.3  # the ratings were made from rougeL


def test_metric_without_against_is_a_usage_error(tmp_path):
    ratings = write_matrix(tmp_path / "k.csv", KRIPPENDORFF)
    ran = clue("agreement", ratings, "--metric", "rougeL")
    assert ran.returncode == 2 and "--against" in ran.stderr


def test_without_the_extra_the_message_names_it(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "krippendorff", None)  # import krippendorff raises ImportError
    ran = clue("agreement", write_matrix(tmp_path / "k.csv", KRIPPENDORFF), "--resamples", "10")
    assert ran.returncode == 3
    assert "clue-eval[agreement]" in ran.stderr


READER_STUDY = Path(__file__).resolve().parents[3] / "shared" / "data" / "clin-summ-reader-study"


@pytest.mark.skipif(not (READER_STUDY / "result.xlsx").is_file(), reason="the shared reader study is not here")
def test_reader_study_converts_and_the_physicians_agree_a_little(tmp_path):
    out = tmp_path / "ratings.csv"
    ran = clue("data", "reader-study", READER_STUDY / "result.xlsx", "--out", out)
    assert ran.returncode == 0, ran.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "item,rater,score,criterion"
    assert len(lines) - 1 == 5 * 100 * 3 - 4  # 4 empty cells
    assert not any(",-0," in line for line in lines)
    result = tmp_path / "a.json"
    assert clue("agreement", out, "--json", result, "--resamples", "100").returncode == 0
    criteria = json.loads(result.read_text())["criteria"]
    assert set(criteria) == {"completeness", "correctness", "conciseness"}
    for entry in criteria.values():
        assert entry["n_items"] == 100 and entry["n_raters"] == 5
        assert -0.2 < entry["icc"]["icc2_1"]["value"] < 0.5


def test_report_with_ratings_writes_the_agreement_table_and_figure(tmp_path):
    run_dir = tmp_path / "run"
    assert clue("run", "--model", "baseline", "--tasks", "meqsum", "--limit", "6", "--output", run_dir).returncode == 0
    rows = [json.loads(line) for line in (run_dir / "predictions" / "meqsum.jsonl").read_text().splitlines()]
    ratings = tmp_path / "r.csv"
    ratings.write_text("item,rater,score\n" + "".join(
        f"{row['item_id']},{rater},{(i + n) % 3}\n" for i, row in enumerate(rows) for n, rater in enumerate("abc")))
    out = tmp_path / "report"
    ran = clue("report", run_dir, "--out", out, "--ratings", ratings, "--ratings-metric", "rougeL")
    assert ran.returncode == 0, ran.stderr
    table = (out / "agreement.csv").read_text().splitlines()
    assert table[0] == "criterion,subject,figure,value,ci_low,ci_high"
    assert any(",raters,icc2_1," in line for line in table) and any("rougeL (in place),icc2_1" in line for line in table)
    if (out / "report.html").exists() and "not written: the agreement figure" not in ran.stderr:
        assert (out / "agreement.png").is_file() and (out / "agreement.svg").is_file()


def test_review_sheets_export_to_ratings(tmp_path):
    header = "id,question,answer,verdict,edited_question,edited_answer,comment\n"
    verdicts = {"dr_a": ["keep", "keep", "drop", "keep"], "dr_b": ["keep", "edit", "drop", "drop"]}
    sheets = []
    for name, vs in verdicts.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(header + "".join(f"p{i},q,a,{v},{'q2' if v == 'edit' else ''},,\n" for i, v in enumerate(vs)))
        sheets.append(path)
    out = tmp_path / "ratings.jsonl"
    ran = clue("data", "review", "ratings", *sheets, "--out", out)
    assert ran.returncode == 0, ran.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 8 and {r["rater"] for r in rows} == {"dr_a", "dr_b"} and {r["criterion"] for r in rows} == {"review"}
    assert {r["score"] for r in rows if r["item"] == "p1"} == {2.0, 1.0}
    result = tmp_path / "a.json"
    assert clue("agreement", out, "--json", result, "--resamples", "50").returncode == 0
    assert "kappa_linear" in json.loads(result.read_text())["criteria"]["review"]["kappa"]
