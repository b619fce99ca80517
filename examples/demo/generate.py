"""Generates the demo's synthetic churn data: a reference and a stream with an abrupt drift.

    python3 examples/demo/generate.py

Writes reference.csv (2,000 rows) and stream.csv (8,000 rows). From stream row 5,000 on (the
sixth window of 1,000) two things change at once:

- covariate drift: customers are older, richer and on other plans;
- concept drift: churn follows another rule. Before, basic-plan customers, short tenures and
  younger customers churn; after, income drives churn (a cheaper rival courts the wealthier),
  long-tenured and older customers leave, and basic-plan customers stay.

A logistic regression trained on the reference scores about 0.86 accuracy before the drift and
about 0.46 after it; one retrained on 1,000 drifted records recovers to about 0.84.

`prediction` and `proba_1` are what the deployed model says: the old rule's probability, which
is what a model trained on the reference learns. Deterministic: the same files every run, and
the features are drawn exactly as before the concept drift was added, so the covariate drift
(and what detects it) is unchanged.
"""
import csv
import math
import random
from pathlib import Path

HERE = Path(__file__).parent
PLANS = ["basic", "plus", "pro"]
REGIONS = ["north", "south", "east", "west"]


def reference_rule(age, income, tenure, plan):
    """The true churn log-odds before the drift."""
    return (
        -0.2
        + 3.4 * (plan == "basic")
        - 1.6 * (plan == "pro")
        - 0.14 * (tenure - 12)
        - 0.08 * (age - 38)
    )


def drifted_rule(age, income, tenure, plan):
    """The true churn log-odds after the drift: other weights, some of opposite sign."""
    return (
        -0.6
        + 7.0 * (math.log(income) - 10.95)
        - 2.4 * (plan == "basic")
        + 0.05 * (tenure - 24)
        + 0.12 * (age - 47)
    )


def logistic(score):
    return 1 / (1 + math.exp(-score))


def rows(rng, n, drifted, start_id):
    for i in range(n):
        age = rng.gauss(38 + (9 if drifted else 0), 9)
        income = math.exp(rng.gauss(10.6 + (0.35 if drifted else 0), 0.4))
        tenure = rng.expovariate(1 / 24)
        plan = rng.choices(PLANS, weights=[2, 5, 3] if drifted else [6, 3, 1])[0]
        region = rng.choice(REGIONS)
        rule = drifted_rule if drifted else reference_rule
        label = int(rng.random() < logistic(rule(age, income, tenure, plan)))
        # The deployed model learned the reference rule only.
        proba = logistic(reference_rule(age, income, tenure, plan))
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
