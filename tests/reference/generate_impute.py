"""Reference outputs for the `preprocess-impute` plugin, computed with scikit-learn's
SimpleImputer.

Run with:

    python tests/reference/generate_impute.py

(a Python with numpy, scipy and scikit-learn). Writes `impute.json` next to this file. Each
column is imputed on its own, one SimpleImputer per column fitted on the reference's column:
numeric columns with `missing_values=np.nan`, categorical ones as object arrays with
`missing_values=None`. Columns the configuration keeps, and input columns the reference lacks,
pass through.
"""

import numpy as np
import sklearn
from sklearn.impute import SimpleImputer

from preprocess_cases import (Cases, as_array, categorical, is_categorical, numeric,
                              out_numeric, with_missing)
from reference_file import write


def strategy_for(config: dict, name: str, column: list):
    own = config.get("columns", {}).get(name)
    if own is not None:
        return own["strategy"], own.get("fill_value")
    if is_categorical(column):
        return config.get("categorical_strategy", "most_frequent"), None
    return config.get("strategy", "mean"), None


def impute(config: dict, reference: dict, data: dict) -> dict:
    out = {}
    for name, column in data.items():
        if name not in reference:
            out[name] = column
            continue
        strategy, fill = strategy_for(config, name, reference[name])
        if strategy == "keep" or not column:
            out[name] = column
            continue
        if is_categorical(reference[name]):
            fill = fill if fill is not None else config.get("categorical_fill_value",
                                                            "missing_value")
            imputer = SimpleImputer(missing_values=None, strategy=strategy, fill_value=fill)
            imputer.fit(np.array(reference[name], dtype=object).reshape(-1, 1))
            result = imputer.transform(np.array(column, dtype=object).reshape(-1, 1))
            out[name] = [None if v is None else str(v) for v in result[:, 0]]
        else:
            fill = fill if fill is not None else config.get("fill_value", 0.0)
            imputer = SimpleImputer(missing_values=np.nan, strategy=strategy, fill_value=fill)
            imputer.fit(as_array(reference[name]).reshape(-1, 1))
            out[name] = out_numeric(imputer.transform(as_array(column).reshape(-1, 1))[:, 0])
    return out


def cases() -> list[dict]:
    out = Cases(impute)
    add = out.add

    for seed, strategy in enumerate(["mean", "median", "most_frequent", "constant"]):
        rng = np.random.default_rng(40 + seed)
        add(
            f"numeric_{strategy}",
            {"strategy": strategy},
            {
                "age": numeric(with_missing(rng, rng.normal(41.0, 12.0, 601), 0.1)),
                "income": numeric(with_missing(rng, rng.lognormal(10.0, 0.8, 601), 0.2)),
                # Few distinct values, so most_frequent has ties to break.
                "rooms": numeric(with_missing(rng, rng.integers(1, 6, 601), 0.05)),
            },
            {
                "age": numeric(with_missing(rng, rng.normal(45.0, 15.0, 300), 0.1)),
                "income": numeric(with_missing(rng, rng.lognormal(10.2, 0.8, 300), 0.3)),
                "rooms": numeric(with_missing(rng, rng.integers(1, 7, 300), 0.05)),
            },
        )

    rng = np.random.default_rng(50)
    add(
        "categorical_most_frequent_and_unseen_labels",
        {},
        {
            "region": categorical(rng, ["north", "south", "east"], 60, 0.1),
            "plan": ["pro", "free", "pro", "free", None, "team"] * 10,
        },
        {
            "region": categorical(rng, ["north", "south", "east", "mars"], 20, 0.2),
            "plan": ["team", None, "enterprise", None] * 5,
        },
    )

    rng = np.random.default_rng(51)
    add(
        "categorical_constant",
        {"categorical_strategy": "constant", "categorical_fill_value": "unknown"},
        {"region": categorical(rng, ["north", "south"], 100, 0.1)},
        {"region": categorical(rng, ["north", "south"], 50, 0.3)},
    )

    rng = np.random.default_rng(52)
    add(
        "per_column_strategies",
        {
            "strategy": "median",
            "columns": {
                "score": {"strategy": "constant", "fill_value": -1.5},
                "latency_ms": {"strategy": "most_frequent"},
                "plan": {"strategy": "constant", "fill_value": "none"},
                "raw": {"strategy": "keep"},
            },
        },
        {
            "score": numeric(with_missing(rng, rng.normal(0.6, 0.15, 200), 0.1)),
            "latency_ms": numeric(with_missing(rng, rng.integers(10, 15, 200), 0.1)),
            "plan": categorical(rng, ["free", "pro"], 200, 0.1),
            "raw": numeric(with_missing(rng, rng.normal(0.0, 1.0, 200), 0.1)),
            "other": numeric(with_missing(rng, rng.gamma(2.0, 3.0, 200), 0.1)),
        },
        {
            "other": numeric(with_missing(rng, rng.gamma(2.0, 3.0, 80), 0.2)),
            "raw": numeric(with_missing(rng, rng.normal(0.0, 1.0, 80), 0.2)),
            "extra": numeric(with_missing(rng, rng.normal(0.0, 1.0, 80), 0.2)),
            "plan": categorical(rng, ["free", "pro"], 80, 0.2),
            "latency_ms": numeric(with_missing(rng, rng.integers(10, 15, 80), 0.2)),
            "score": numeric(with_missing(rng, rng.normal(0.6, 0.15, 80), 0.2)),
        },
    )

    add(
        "constant_columns",
        {"strategy": "median"},
        {"flat": [2.5] * 9 + [None], "zeros": [0.0] * 10},
        {"flat": [None, 1.0, None], "zeros": [None, None, 3.0]},
    )

    rng = np.random.default_rng(53)
    add(
        "long_columns_mean",
        {},
        {"x": numeric(with_missing(rng, rng.normal(1000.0, 250.0, 5003), 0.05))},
        {"x": numeric(with_missing(rng, rng.normal(1010.0, 250.0, 2000), 0.05))},
    )

    add(
        "empty_input",
        {},
        {"a": [1.0, None, 2.0], "c": ["x", None, "x"]},
        {"a": [], "c": []},
    )

    # Errors the plugin must report clearly; scikit-learn silently drops an all-missing column.
    out.fails("all_missing_reference_column", {}, {"a": [None, None], "b": [1.0, 2.0]},
              {"a": [1.0], "b": [None]}, "invalid-input", "`a`")
    out.fails("listed_column_missing_from_input",
              {"columns": {"a": {"strategy": "mean"}}}, {"a": [1.0, 2.0], "b": [1.0, 2.0]},
              {"b": [None]}, "invalid-input", "missing from the input")
    out.fails("mean_of_labels", {"columns": {"c": {"strategy": "mean"}}},
              {"c": ["x", "y"]}, {"c": ["x"]}, "invalid-config", "categorical")
    return out.cases


def main() -> None:
    write("generate_impute.py", "impute.json", cases(),
          extra_versions={"scikit-learn": sklearn.__version__})


if __name__ == "__main__":
    main()
