"""What generate_mmd.py and generate_pca.py share: the batches of their cases (a dict of
columns, `null` for a missing value, strings for a categorical column), StandardScaler's rule
for a constant column, and the error cases every multivariate test must refuse the same way."""

from __future__ import annotations

import numpy as np


def rounded(values) -> list:
    """Six decimals, so that every value has a short decimal form that parses back exactly."""
    return [None if np.isnan(v) else float(round(float(v), 6)) for v in values]


def batch(matrix: np.ndarray, names: list[str]) -> dict:
    return {name: rounded(matrix[:, j]) for j, name in enumerate(names)}


def matrix(columns: dict, names: list[str]) -> np.ndarray:
    """The columns `names` of a case's batch as a rows × columns float array."""
    return np.column_stack([
        np.array([np.nan if v is None else v for v in columns[name]], dtype=float)
        for name in names
    ]) if names else np.zeros((0, 0))


def is_categorical(column: list) -> bool:
    return any(isinstance(v, str) for v in column)


def is_constant(var: float, mean: float, n: int) -> bool:
    # scikit-learn's sklearn.preprocessing._data._is_constant_feature.
    eps = np.finfo(np.float64).eps
    upper_bound = n * eps * var + (n * mean * eps) ** 2
    return bool(var <= upper_bound)


def mean_and_scale(column: np.ndarray) -> tuple[float, float]:
    """StandardScaler's mean and scale of a column without missing values: np.mean, the square
    root of np.var (ddof=0), and scale 1 for a constant column."""
    column = np.ascontiguousarray(column)
    mean = np.mean(column)
    var = np.var(column)
    return float(mean), 1.0 if is_constant(var, mean, len(column)) else float(np.sqrt(var))


def check_inputs(reference: dict, current: dict):
    """None, or the error kind the plugin must answer: categorical or mismatched columns,
    infinite values."""
    if not reference or any(is_categorical(c) for c in reference.values()):
        return "invalid-input"
    if set(reference) != set(current) or any(is_categorical(c) for c in current.values()):
        return "invalid-input"
    for side in (reference, current):
        if len({len(c) for c in side.values()}) > 1:
            return "invalid-input"
        if any(v is not None and not np.isfinite(v) for c in side.values() for v in c):
            return "invalid-input"
    return None


def error_cases(rng: np.random.Generator) -> list[dict]:
    """Inputs every multivariate test refuses, whatever its configuration."""
    ref = batch(rng.normal(size=(30, 2)), ["a", "b"])
    cur = batch(rng.normal(size=(30, 2)), ["a", "b"])
    categorical = ["x", "y"] * 15
    return [
        {"name": "empty_window", "reference": ref, "current": {"a": [], "b": []}},
        {"name": "categorical_column_in_reference",
         "reference": {**ref, "kind": categorical}, "current": {**cur, "kind": categorical}},
        {"name": "categorical_column_in_window",
         "reference": ref, "current": {"a": cur["a"], "b": categorical}},
        {"name": "window_lacks_a_column", "reference": ref, "current": {"a": cur["a"]}},
        {"name": "window_has_another_column",
         "reference": ref, "current": {"a": cur["a"], "c": cur["b"]}},
        {"name": "window_has_an_extra_column", "reference": ref, "current": {**cur, "c": cur["a"]}},
        {"name": "columns_of_unequal_length",
         "reference": ref, "current": {"a": cur["a"], "b": cur["b"][:-1]}},
        {"name": "no_columns", "reference": {}, "current": {}},
    ]


def as_written(case: dict) -> None:
    """A case's batches as lists of `{"name", "values"}` (JSON objects would lose the columns'
    order), with an infinite value written as the string "inf" or "-inf"."""
    for side in ("reference", "current"):
        case[side] = [
            {"name": name, "values": [
                ("inf" if v > 0 else "-inf") if isinstance(v, float) and np.isinf(v) else v
                for v in column]}
            for name, column in case[side].items()
        ]
