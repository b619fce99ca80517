"""Reference outputs for the `preprocess-bin` plugin, computed with numpy.

Run with:

    python tests/reference/generate_bin.py

(a Python with numpy and scipy). Writes `bin.json` next to this file. The inner edges of a
binned column are `np.unique(np.nanquantile(ref, quantiles))` and a value's label is
`str(np.searchsorted(edges, x, side="left"))`, in a new column NAME + suffix after its source.
"""

import numpy as np

from preprocess_cases import Cases, as_array, categorical, numeric, numeric_columns, with_missing
from reference_file import write

DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def bin_(config: dict, reference: dict, data: dict) -> dict:
    if "bins" in config:
        quantiles = [i / config["bins"] for i in range(1, config["bins"])]
    else:
        quantiles = config.get("quantiles", DECILES)
    suffix = config.get("suffix", "_bin")
    keep = config.get("keep_source", True)
    chosen = numeric_columns(config, reference)
    targets = [name + suffix for name in data if name in chosen]
    out = {}
    for name, column in data.items():
        if name in targets and name not in chosen:
            continue
        if name not in chosen:
            out[name] = column
            continue
        if keep:
            out[name] = column
        edges = np.unique(np.nanquantile(as_array(reference[name]), quantiles))
        x = as_array(column)
        bins = np.searchsorted(edges, x, side="left")
        out[name + suffix] = [None if np.isnan(v) else str(int(b)) for v, b in zip(x, bins)]
    return out


def cases() -> list[dict]:
    out = Cases(bin_)
    add = out.add

    rng = np.random.default_rng(80)
    add(
        "deciles_by_default",
        {},
        {
            "income": numeric(with_missing(rng, rng.lognormal(10.0, 1.2, 997), 0.05)),
            "latency_ms": numeric(rng.gamma(2.0, 40.0, 997)),
            "plan": categorical(rng, ["free", "pro"], 997, 0.1),
        },
        {
            "income": numeric(with_missing(rng, rng.lognormal(10.5, 1.5, 400), 0.05)),
            "latency_ms": numeric(rng.gamma(2.5, 40.0, 400)),
            "plan": categorical(rng, ["free", "pro", "team"], 400, 0.1),
        },
    )

    rng = np.random.default_rng(81)
    add(
        "quartiles_source_dropped",
        {"bins": 4, "keep_source": False, "columns": ["a"], "suffix": "_q"},
        {"a": numeric(rng.normal(0.0, 1.0, 101)), "b": numeric(rng.normal(0.0, 1.0, 101))},
        {"b": numeric(rng.normal(0.0, 1.0, 60)), "a": numeric(rng.normal(0.5, 1.5, 60))},
    )

    rng = np.random.default_rng(82)
    reference = numeric(rng.integers(0, 4, 200))
    add(
        "ties_collapse_edges_and_values_on_edges",
        {"quantiles": [0.05, 0.25, 0.5, 0.75, 0.95]},
        {"small": reference},
        {"small": [0.0, 1.0, 2.0, 3.0, 4.0, -1.0, None, 1.5, 2.5, 0.5]},
    )

    add(
        "constant_column",
        {},
        {"flat": [7.0, 7.0, 7.0, None]},
        {"flat": [6.0, 7.0, 8.0, None]},
    )

    add(
        "placeholder_replaced",
        {"bins": 3, "columns": ["a"]},
        {"a": [1.0, 2.0, 3.0, 4.0], "a_bin": [None, None, None, None]},
        {"a_bin": [None, None], "a": [2.5, 3.5]},
        categorical=["a_bin"],
    )

    add("empty_input", {}, {"a": [1.0, 2.0]}, {"a": []})

    out.fails("all_missing_reference_column", {}, {"a": [None, None]}, {"a": [1.0]},
              "invalid-input", "no non-missing values")
    out.fails("listed_column_missing_from_input", {"columns": ["a"]},
              {"a": [1.0], "b": [1.0]}, {"b": [3.0]}, "invalid-input", "missing from the input")
    return out.cases


if __name__ == "__main__":
    write("generate_bin.py", "bin.json", cases())
