"""Reference outputs for the `preprocess-clip` plugin, computed with numpy.

Run with:

    python tests/reference/generate_clip.py

(a Python with numpy and scipy). Writes `clip.json` next to this file. Each clipped column is
`np.clip(x, np.nanquantile(ref, lower), np.nanquantile(ref, upper))`, numpy's default `linear`
method; a `null` bound is no bound. Categorical and unlisted columns pass through.
"""

import numpy as np

from preprocess_cases import Cases, categorical, map_numeric, numeric, with_missing
from reference_file import write


def clip(config: dict, reference: dict, data: dict) -> dict:
    lower = config.get("lower", 0.01)
    upper = config.get("upper", 0.99)

    def transform(ref, x):
        lo = -np.inf if lower is None else np.nanquantile(ref, lower)
        hi = np.inf if upper is None else np.nanquantile(ref, upper)
        return np.clip(x, lo, hi)

    return map_numeric(config, reference, data, transform)


def cases() -> list[dict]:
    out = Cases(clip)
    add = out.add

    rng = np.random.default_rng(60)
    add(
        "default_quantiles",
        {},
        {
            "income": numeric(with_missing(rng, rng.lognormal(10.0, 1.2, 997), 0.05)),
            "latency_ms": numeric(rng.standard_t(2.0, 997) * 30.0 + 100.0),
            "plan": categorical(rng, ["free", "pro"], 997, 0.1),
        },
        {
            "income": numeric(with_missing(rng, rng.lognormal(10.5, 1.5, 400), 0.05)),
            "latency_ms": numeric(rng.standard_t(2.0, 400) * 40.0 + 100.0),
            "plan": categorical(rng, ["free", "pro", "team"], 400, 0.1),
        },
    )

    rng = np.random.default_rng(61)
    add(
        "interpolated_quantiles_and_listed_columns",
        {"lower": 0.05, "upper": 0.9, "columns": ["a"]},
        {"a": numeric(rng.normal(0.0, 1.0, 37)), "b": numeric(rng.normal(0.0, 1.0, 37))},
        {"b": numeric(rng.normal(0.0, 3.0, 50)), "a": numeric(rng.normal(0.0, 3.0, 50)),
         "extra": numeric(rng.normal(0.0, 1.0, 50))},
    )

    rng = np.random.default_rng(62)
    add(
        "one_sided",
        {"lower": None, "upper": 0.5},
        {"a": numeric(rng.uniform(0.0, 1.0, 10))},
        {"a": numeric(rng.uniform(-1.0, 2.0, 20))},
    )

    add(
        "extreme_quantiles_and_constant_column",
        {"lower": 0.0, "upper": 1.0},
        {"a": [3.0, 1.0, None, 2.0], "flat": [7.0, 7.0, 7.0, None]},
        {"a": [0.0, 1.5, 4.0, None], "flat": [6.0, 7.0, 8.0, None]},
    )

    add(
        "empty_input",
        {},
        {"a": [1.0, 2.0], "c": ["x", "y"]},
        {"a": [], "c": []},
    )

    out.fails("all_missing_reference_column", {}, {"a": [None, None]}, {"a": [1.0]},
              "invalid-input", "no non-missing values")
    out.fails("listed_column_missing_from_input", {"columns": ["a"]},
              {"a": [1.0, 2.0], "b": [1.0, 2.0]}, {"b": [3.0]},
              "invalid-input", "missing from the input")
    out.fails("lower_above_upper", {"lower": 0.8, "upper": 0.2}, {"a": [1.0]}, {"a": [1.0]},
              "invalid-config", "above")
    return out.cases


if __name__ == "__main__":
    write("generate_clip.py", "clip.json", cases())
