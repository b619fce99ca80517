"""Reference values for vigil-model's training, computed with scikit-learn.

    python3 -m venv venv && venv/bin/pip install scikit-learn
    venv/bin/python examples/model/reference/generate.py

Writes data.csv (a small churn-like dataset with numeric and categorical features, missing
values, a category first seen in the holdout, and bookkeeping columns that are not features)
and expected.json: what scikit-learn's LogisticRegression (lbfgs, C = 1) makes of it under the
procedure vigil-model follows (examples/model/src/training.rs):

- the holdout is the last 20% of the rows, by order; encodings and the fit use the rest;
- numeric features standardized with the fit rows' mean and population standard deviation,
  a missing value taking the mean (so 0);
- categorical features one-hot over the categories of the fit rows, sorted; a missing or
  unseen category is all zeros;
- the positive class is `1`.

The preprocessing is written out here with numpy rather than taken from vigil-model, so the
comparison checks it too. Deterministic: the same files every run.
"""
import csv
import json
import math
import random
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).parent
ROWS = 600
MISSING = {"", "NA", "NaN", "nan", "null"}
NOT_FEATURES = {"id", "timestamp", "model_version", "prediction", "label"}


def make_rows():
    rng = random.Random(13)
    for i in range(ROWS):
        age = rng.gauss(40, 10)
        income = math.exp(rng.gauss(10.7, 0.5))
        plan = rng.choices(["basic", "plus", "pro"], weights=[5, 3, 2])[0]
        # `central` appears only in the holdout: unseen at fit time.
        regions = ["north", "south", "east"] + (["central"] if i >= ROWS * 0.9 else [])
        region = rng.choice(regions)
        score = -1.0 + 0.1 * (40 - age) + 1.8 * (plan == "basic") - 1.2 * (region == "south")
        score += 1.5 * (math.log(income) - 10.7)
        label = int(rng.random() < 1 / (1 + math.exp(-score)))
        yield {
            "id": f"r{i:04d}",
            "timestamp": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "age": "" if rng.random() < 0.05 else round(age, 1),
            "income": round(income, 2),
            "plan": "NA" if rng.random() < 0.03 else plan,
            "region": region,
            # What a deployed model said: present in the API's CSV, never a feature.
            "prediction": int(rng.random() < 0.5),
            "proba_1": round(rng.random(), 4),
            "label": label,
        }


def encode(rows, names, fit_rows):
    """The inputs and their names, with encodings learned on fit_rows."""
    columns, input_names = [], []
    for name in names:
        cells = [r[name] for r in rows]
        present = [c for c in cells if c not in MISSING]
        try:
            [float(c) for c in present]
            numeric = True
        except ValueError:
            numeric = False
        if numeric:
            fit = np.array([float(c) for c in cells[:fit_rows] if c not in MISSING])
            mean, std = fit.mean(), fit.std()
            std = std if std > 0 else 1.0
            columns.append([0.0 if c in MISSING else (float(c) - mean) / std for c in cells])
            input_names.append(name)
        else:
            categories = sorted({c for c in cells[:fit_rows] if c not in MISSING})
            for category in categories:
                columns.append([1.0 if c == category else 0.0 for c in cells])
                input_names.append(f"{name}={category}")
    return np.array(columns).T, input_names


def fit(x, y):
    # C = 1 / alpha: the same objective as linfa's (intercept not penalized).
    model = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-12, max_iter=100_000)
    return model.fit(x, y)


def main():
    rows = list(make_rows())
    with open(HERE / "data.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # Read back as text, as vigil-model reads it.
    with open(HERE / "data.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [n for n in rows[0] if n not in NOT_FEATURES and not n.startswith("proba_")]
    y = np.array([int(r["label"]) for r in rows])
    n = len(rows)
    split = n - n // 5

    x, inputs = encode(rows, names, split)
    holdout_model = fit(x[:split], y[:split])
    proba = holdout_model.predict_proba(x[split:])[:, 1]
    x_all, inputs_all = encode(rows, names, n)
    final = fit(x_all, y)
    expected = {
        "rows": n,
        "holdout_start": split,
        "holdout": {
            "accuracy": float(((proba >= 0.5).astype(int) == y[split:]).mean()),
            "roc_auc": float(roc_auc_score(y[split:], proba)),
            "probabilities": [round(float(p), 8) for p in proba],
            "inputs": inputs,
            "weights": [float(w) for w in holdout_model.coef_[0]],
            "intercept": float(holdout_model.intercept_[0]),
        },
        "final": {
            "inputs": inputs_all,
            "weights": [float(w) for w in final.coef_[0]],
            "intercept": float(final.intercept_[0]),
        },
    }
    with open(HERE / "expected.json", "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
