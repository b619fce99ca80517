"""Reference outputs for the `preprocess-log1p` plugin, computed with numpy.

Run with:

    python tests/reference/generate_log1p.py

(a Python with numpy and scipy). Writes `log1p.json` next to this file. Each transformed column
is `np.log1p(x)`; with `at_or_below_minus_one = "missing"`, values at or below -1 become
missing. Categorical and unlisted columns pass through.
"""

import numpy as np

from preprocess_cases import Cases, categorical, map_numeric, numeric, with_missing
from reference_file import write


def log1p(config: dict, reference: dict, data: dict) -> dict:
    def transform(_reference, x):
        x[x <= -1.0] = np.nan
        return np.log1p(x)

    return map_numeric(config, reference, data, transform)


def cases() -> list[dict]:
    out = Cases(log1p)
    add = out.add

    rng = np.random.default_rng(70)
    add(
        "skewed_columns",
        {},
        {
            "income": numeric(with_missing(rng, rng.lognormal(10.0, 1.2, 500), 0.05)),
            # Tiny values, where log1p differs from log(1 + x).
            "rate": numeric(rng.exponential(1e-7, 500)),
            "plan": categorical(rng, ["free", "pro"], 500, 0.1),
        },
        {
            "income": numeric(with_missing(rng, rng.lognormal(10.5, 1.5, 300), 0.05)),
            "rate": numeric(rng.exponential(2e-7, 300)),
            "plan": categorical(rng, ["free", "pro", "team"], 300, 0.1),
        },
    )

    rng = np.random.default_rng(71)
    add(
        "near_minus_one_made_missing",
        {"at_or_below_minus_one": "missing", "columns": ["delta"]},
        {"delta": numeric(rng.uniform(-0.99, 3.0, 100)), "raw": numeric(rng.normal(0, 1, 100))},
        {"delta": [-1.0, -0.999999, -1.5, 0.0, None, 1e6] + numeric(rng.uniform(-2.0, 3.0, 44)),
         "raw": numeric(rng.normal(0, 1, 50))},
    )

    add(
        "constant_column",
        {},
        {"flat": [2.0] * 5},
        {"flat": [2.0, 2.0, None]},
    )

    add("empty_input", {}, {"a": [1.0, 2.0], "c": ["x", "y"]}, {"a": [], "c": []})

    out.fails("minus_one_in_input", {}, {"a": [0.0, 1.0]}, {"a": [0.5, -1.0]},
              "invalid-input", "has -1 at row 1")
    out.fails("listed_column_missing_from_input", {"columns": ["a"]},
              {"a": [1.0], "b": [1.0]}, {"b": [3.0]}, "invalid-input", "missing from the input")
    return out.cases


if __name__ == "__main__":
    write("generate_log1p.py", "log1p.json", cases())
