"""Writes the bundled example: a loan-application dataset and a later window of it in which
income and region have drifted and everything else has not.

    python examples/drift/generate.py   # needs numpy; rewrites reference.csv and current.csv
"""
import csv
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent
ROWS = 5000


def sample(rng, drifted):
    age = rng.normal(41, 11, ROWS).clip(18, 90).round()
    income = rng.lognormal(10.8 + (0.25 if drifted else 0.0), 0.45, ROWS).round(2)
    credit = rng.normal(680, 60, ROWS).clip(300, 850).round()
    loan = (income * rng.uniform(0.1, 0.6, ROWS)).round(2)
    term = rng.choice([12, 24, 36, 60], ROWS, p=[0.1, 0.3, 0.4, 0.2])
    region_p = [0.15, 0.25, 0.35, 0.25] if drifted else [0.3, 0.3, 0.2, 0.2]
    region = rng.choice(["north", "south", "east", "west"], ROWS, p=region_p)
    employment = rng.choice(["salaried", "self-employed", "retired", "student"], ROWS, p=[0.6, 0.2, 0.12, 0.08])
    rows = []
    for i in range(ROWS):
        row = [age[i], income[i], credit[i], loan[i], term[i], region[i], employment[i]]
        if rng.random() < 0.01:  # a few missing values, as real exports have
            row[rng.integers(0, len(row))] = ""
        rows.append(row)
    return rows


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age", "income", "credit_score", "loan_amount", "term_months", "region", "employment"])
        for row in rows:
            w.writerow([int(v) if isinstance(v, float) and v.is_integer() else v for v in row])


if __name__ == "__main__":
    write(HERE / "reference.csv", sample(np.random.default_rng(7), drifted=False))
    write(HERE / "current.csv", sample(np.random.default_rng(8), drifted=True))
