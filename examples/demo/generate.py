"""Generates the demo's synthetic churn data: a reference and a stream with an abrupt drift.

    python3 examples/demo/generate.py

Writes reference.csv (2,000 rows) and stream.csv (8,000 rows). From stream row 5,000 on (the
sixth window of 1,000) customers are older, richer and on other plans, and the old model's
predictions get worse. Deterministic: the same files every run.
"""
import csv
import math
import random
from pathlib import Path

HERE = Path(__file__).parent
PLANS = ["basic", "plus", "pro"]
REGIONS = ["north", "south", "east", "west"]


def rows(rng, n, drifted, start_id):
    for i in range(n):
        age = rng.gauss(38 + (9 if drifted else 0), 9)
        income = math.exp(rng.gauss(10.6 + (0.35 if drifted else 0), 0.4))
        tenure = rng.expovariate(1 / 24)
        plan = rng.choices(PLANS, weights=[2, 5, 3] if drifted else [6, 3, 1])[0]
        region = rng.choice(REGIONS)
        # The true churn rule; after the drift, customers churn for another reason too.
        score = -1.2 + 0.9 * (tenure < 6) + 0.6 * (plan == "basic") - 0.02 * (age - 38)
        if drifted:
            score += 1.1 * (income > 60000)
        p_true = 1 / (1 + math.exp(-score))
        label = int(rng.random() < p_true)
        # The deployed model learned the old rule only.
        old = -1.2 + 0.9 * (tenure < 6) + 0.6 * (plan == "basic") - 0.02 * (age - 38)
        proba = 1 / (1 + math.exp(-3 * old))
        yield {
            "id": f"c{start_id + i:06d}",
            "age": round(age, 2),
            "income": round(income, 2),
            "tenure": round(tenure, 2),
            "plan": plan,
            "region": region,
            "prediction": int(proba >= 0.5),
            "proba_1": round(proba, 4),
            "label": label,
        }


def write(path, records):
    records = list(records)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def main():
    rng = random.Random(20261127)
    write(HERE / "reference.csv", rows(rng, 2000, False, 0))
    stream = list(rows(rng, 5000, False, 100000)) + list(rows(rng, 3000, True, 105000))
    write(HERE / "stream.csv", stream)


if __name__ == "__main__":
    main()
