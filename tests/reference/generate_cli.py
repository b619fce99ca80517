"""Writes a CSV pair for the `vigil drift` end-to-end test and what scipy says of it.

    /opt/vigil-py/bin/python tests/reference/generate_cli.py

The expected values follow the CLI's documented rules: a column is numeric when every
non-missing value parses as a number; missing = empty, NA, NaN, nan; missing values are
dropped per column; numeric columns get ks_2samp (method="auto"), categorical ones
chi2_contingency(correction=False) on the 2xK table of counts.
"""
import csv
import json
import pathlib

import numpy as np
import scipy
from scipy import stats

HERE = pathlib.Path(__file__).parent
OUT = HERE / "cli"
MISSING = {"", "NA", "NaN", "nan"}


def make(rng, n, shift):
    rows = []
    for i in range(n):
        rows.append({
            "id_like": str(int(rng.integers(0, 50))),          # numeric, heavy ties
            "amount": f"{rng.lognormal(3 + shift, 1.0):.4f}",  # numeric, heavy tail
            "score": f"{rng.normal(0, 1):.6f}",                # numeric, unchanged
            "color": rng.choice(["red", "green", "blue", "violet"] if shift else ["red", "green", "blue"]),
            "flag": rng.choice(["yes", "no"]),
        })
        if rng.random() < 0.05:
            rows[-1]["amount"] = rng.choice(["", "NA", "NaN", "nan"])
        if rng.random() < 0.03:
            rows[-1]["color"] = ""
    return rows


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def expected(ref_rows, cur_rows):
    columns = []
    for name in ref_rows[0].keys():
        ref = [r[name] for r in ref_rows]
        cur = [r[name] for r in cur_rows]
        present_ref = [v for v in ref if v not in MISSING]
        present_cur = [v for v in cur if v not in MISSING]

        def numeric(values):
            try:
                [float(v) for v in values]
                return True
            except ValueError:
                return False

        if numeric(present_ref) and numeric(present_cur):
            res = stats.ks_2samp(np.array(present_ref, float), np.array(present_cur, float), method="auto")
            kind, test, stat, p = "numeric", "ks", float(res.statistic), float(res.pvalue)
        else:
            cats = sorted(set(present_ref) | set(present_cur))
            table = [[present_ref.count(c) for c in cats], [present_cur.count(c) for c in cats]]
            res = stats.chi2_contingency(table, correction=False)
            kind, test, stat, p = "categorical", "chi2", float(res.statistic), float(res.pvalue)
        columns.append({
            "name": name, "kind": kind, "test": test, "statistic": stat, "p_value": p,
            "drifted": p < 0.05,
            "missing_reference": len(ref) - len(present_ref),
            "missing_current": len(cur) - len(present_cur),
        })
    return columns


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    ref = make(np.random.default_rng(11), 3000, 0.0)
    cur = make(np.random.default_rng(12), 2500, 0.3)
    write(OUT / "reference.csv", ref)
    write(OUT / "current.csv", cur)
    result = {
        "generated_by": "tests/reference/generate_cli.py",
        "versions": {"scipy": scipy.__version__, "numpy": np.__version__},
        "reference_rows": len(ref), "current_rows": len(cur),
        "columns": expected(ref, cur),
    }
    (HERE / "cli.json").write_text(json.dumps(result, indent=1) + "\n")
