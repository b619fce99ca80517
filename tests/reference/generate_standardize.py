"""Reference outputs for the `preprocess-standardize` plugin, computed with numpy.

Run with:

    /opt/vigil-py/bin/python tests/reference/generate_standardize.py

Writes `standardize.json` next to this file. Each numeric column is fitted like scikit-learn's
StandardScaler: mean `np.nanmean`, population standard deviation `np.sqrt(np.nanvar)` (ddof=0),
and scale 1 where the column is constant up to rounding (scikit-learn's `_is_constant_feature`
bound). `null` is a missing value; columns of strings are categorical and pass through. Inputs
are rounded to six decimals so every value has a short decimal form that parses back exactly.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from preprocess_cases import as_array, categorical, is_categorical, numeric, with_missing

OUT = pathlib.Path(__file__).with_name("standardize.json")


def is_constant(var: float, mean: float, n: int) -> bool:
    # scikit-learn's sklearn.preprocessing._data._is_constant_feature.
    eps = np.finfo(np.float64).eps
    upper_bound = n * eps * var + (n * mean * eps) ** 2
    return bool(var <= upper_bound)


def standardize(config: dict, reference: dict, data: dict) -> dict:
    chosen = config.get("columns")
    if chosen is None:
        chosen = [name for name, column in reference.items() if not is_categorical(column)]
    out = {}
    for name, column in data.items():
        if name not in chosen:
            out[name] = column
            continue
        ref = as_array(reference[name])
        mean = np.nanmean(ref)
        var = np.nanvar(ref)
        n = int(np.sum(~np.isnan(ref)))
        scale = 1.0 if is_constant(var, mean, n) else np.sqrt(var)
        result = (as_array(column) - mean) / scale
        out[name] = [None if np.isnan(v) else float(v) for v in result]
    return out


def cases() -> list[dict]:
    out = []

    def case(name, config, reference, data):
        assert len({len(column) for column in reference.values()}) == 1, name
        assert len({len(column) for column in data.values()}) == 1, name
        out.append(
            {
                "name": name,
                "config": config,
                "reference": reference,
                "input": data,
                "expected": standardize(config, reference, data),
            }
        )

    rng = np.random.default_rng(11)
    case(
        "numeric_with_missing_values",
        {},
        {
            "age": numeric(with_missing(rng, rng.normal(41.0, 12.0, 600), 0.05)),
            "income": numeric(with_missing(rng, rng.lognormal(10.0, 0.8, 600), 0.1)),
            "tiny": numeric(with_missing(rng, rng.normal(-3.0, 0.001, 600), 0.02)),
        },
        {
            "age": numeric(with_missing(rng, rng.normal(45.0, 15.0, 400), 0.05)),
            "income": numeric(with_missing(rng, rng.lognormal(10.2, 0.8, 400), 0.1)),
            "tiny": numeric(with_missing(rng, rng.normal(-3.0005, 0.001, 400), 0.02)),
        },
    )

    flat = as_array([0.1] * 12 + [None] * 3)
    assert np.nanvar(flat) > 0 and is_constant(np.nanvar(flat), np.nanmean(flat), 12)
    rng = np.random.default_rng(12)
    case(
        "constant_columns",
        {},
        {
            # Twelve copies of 0.1 average to 0.10000000000000002 with a variance of about 2e-34:
            # constant up to rounding, so the scale is 1, not the tiny standard deviation.
            "flat": [0.1] * 12 + [None] * 3,
            "zeros": [0.0] * 15,
            "signal": numeric(rng.normal(0.0, 2.0, 15)),
        },
        {
            "flat": [0.1, 0.2, None, -0.4, 0.1],
            "zeros": [0.0, 1.5, -2.0, None, 0.0],
            "signal": numeric(rng.normal(1.0, 2.0, 5)),
        },
    )

    rng = np.random.default_rng(13)
    case(
        "mixed_kinds",
        {},
        {
            "region": categorical(rng, ["north", "south", "east", "west"], 300, 0.05),
            "score": numeric(with_missing(rng, rng.normal(0.6, 0.15, 300), 0.03)),
            "plan": categorical(rng, ["free", "pro"], 300),
            "latency_ms": numeric(rng.gamma(2.0, 40.0, 300)),
        },
        {
            "region": categorical(rng, ["north", "south", "east", "west", "mars"], 200, 0.1),
            "score": numeric(with_missing(rng, rng.normal(0.5, 0.2, 200), 0.03)),
            "plan": categorical(rng, ["free", "pro"], 200),
            "latency_ms": numeric(rng.gamma(2.5, 40.0, 200)),
        },
    )

    # Only the listed columns are standardized; the others, numeric or not, pass through. The
    # input's columns come in another order and include one the reference never had.
    rng = np.random.default_rng(14)
    case(
        "configured_columns",
        {"columns": ["b", "d"]},
        {
            "a": numeric(rng.normal(5.0, 1.0, 250)),
            "b": numeric(with_missing(rng, rng.normal(-20.0, 4.0, 250), 0.1)),
            "c": categorical(rng, ["x", "y", "z"], 250),
            "d": numeric(rng.uniform(0.0, 1000.0, 250)),
        },
        {
            "d": numeric(rng.uniform(100.0, 900.0, 150)),
            "extra": numeric(rng.normal(0.0, 1.0, 150)),
            "c": categorical(rng, ["x", "y"], 150, 0.2),
            "b": numeric(with_missing(rng, rng.normal(-18.0, 4.0, 150), 0.1)),
            "a": numeric(rng.normal(6.0, 1.0, 150)),
        },
    )

    # Long columns: numpy sums in blocks of 128 and halves above that, so a few thousand rows
    # exercise the whole summation tree.
    rng = np.random.default_rng(15)
    case(
        "long_columns",
        {},
        {
            "x": numeric(with_missing(rng, rng.normal(1000.0, 250.0, 5003), 0.01)),
            # A long missing tail: numpy sums the zeros it puts in their place, which shifts
            # the block boundaries against the values present.
            "y": numeric(np.concatenate([rng.standard_t(3.0, 4099) * 1e-3, np.full(904, np.nan)])),
        },
        {
            "x": numeric(rng.normal(1010.0, 250.0, 2000)),
            "y": numeric(rng.standard_t(3.0, 2000) * 1e-3),
        },
    )

    return out


def main() -> None:
    document = {
        "generated_by": "tests/reference/generate_standardize.py (numpy nanmean / nanvar)",
        "versions": {"numpy": np.__version__},
        "cases": cases(),
    }
    OUT.write_text(dump(document))
    for c in document["cases"]:
        rows = len(next(iter(c["input"].values())))
        print(f'{c["name"]}: {len(c["input"])} columns, {rows} rows')


def dump(document: dict) -> str:
    """JSON with one column per line, so diffs stay readable."""

    def columns(table: dict, indent: str) -> str:
        body = ",\n".join(
            f"{indent}  {json.dumps(name)}: {json.dumps(values, allow_nan=False)}"
            for name, values in table.items()
        )
        return "{\n" + body + "\n" + indent + "}"

    blocks = []
    for c in document["cases"]:
        blocks.append(
            "    {\n"
            f'      "name": {json.dumps(c["name"])},\n'
            f'      "config": {json.dumps(c["config"])},\n'
            f'      "reference": {columns(c["reference"], "      ")},\n'
            f'      "input": {columns(c["input"], "      ")},\n'
            f'      "expected": {columns(c["expected"], "      ")}\n'
            "    }"
        )
    return (
        "{\n"
        f'  "generated_by": {json.dumps(document["generated_by"])},\n'
        f'  "versions": {json.dumps(document["versions"])},\n'
        '  "cases": [\n' + ",\n".join(blocks) + "\n  ]\n}\n"
    )


if __name__ == "__main__":
    main()
