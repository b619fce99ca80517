"""Reference values for the `drift-pca` plugin, computed with scikit-learn.

Run with:

    /work/model-venv/bin/python tests/reference/generate_pca.py

Writes `pca.json` next to this file. The pipeline is NannyML's DataReconstructionDriftCalculator
for numeric columns (docs/statistics.md, "Multivariate", `pca`): fitted on the reference,
SimpleImputer(strategy="mean"), StandardScaler, PCA(n_components=share); a batch's statistic is
the mean over its rows of np.linalg.norm(x - pca.inverse_transform(pca.transform(x))) of the
imputed, standardized rows. Without a `threshold`, the threshold is the mean plus
`std_multiplier` population standard deviations of the errors of the reference split by
np.array_split into `chunks` chunks, at least 1e-9.
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from multivariate_cases import as_written, batch, check_inputs, error_cases, matrix
from reference_file import write

THRESHOLD_FLOOR = 1e-9


def pca(reference: dict, current: dict, config: dict) -> dict:
    share = config.get("n_components", 0.65)
    threshold = config.get("threshold")
    chunks = config.get("chunks", 10)
    multiplier = config.get("std_multiplier", 3.0)
    if set(config) - {"n_components", "threshold", "chunks", "std_multiplier"} \
            or not 0 < share < 1 or (threshold is not None and not threshold > 0) \
            or not 2 <= chunks <= 1000 or not multiplier >= 0:
        return {"error": "invalid-config"}
    error = check_inputs(reference, current)
    if error:
        return {"error": error}
    names = list(reference)
    x = matrix(reference, names)
    y = matrix(current, names)
    if x.shape[1] < 2 or len(x) < 2 or np.isnan(x).all(axis=0).any():
        return {"error": "invalid-input"}
    imputer = SimpleImputer(strategy="mean").fit(x)
    scaler = StandardScaler().fit(imputer.transform(x))
    standardized = scaler.transform(imputer.transform(x))
    if np.allclose(standardized, 0.0, atol=0.0):
        return {"error": "invalid-input"}  # every column constant
    model = PCA(n_components=share, svd_solver="full").fit(standardized)

    def mean_error(rows: np.ndarray) -> float:
        z = scaler.transform(imputer.transform(rows))
        reconstructed = model.inverse_transform(model.transform(z))
        return float(np.linalg.norm(z - reconstructed, axis=1).mean())

    if threshold is None:
        if len(x) < chunks:
            return {"error": "invalid-input"}
        errors = np.array([mean_error(chunk) for chunk in np.array_split(x, chunks)])
        threshold = max(float(errors.mean() + multiplier * errors.std()), THRESHOLD_FLOOR)
    if len(y) == 0:
        return {"error": "invalid-input"}
    statistic = mean_error(y)
    return {"statistic": statistic, "p_value": None, "threshold": threshold,
            "drifted": statistic >= threshold, "components": int(model.n_components_)}


def correlated(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """Three columns, the first two correlated by `rho`."""
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho * rho) * rng.normal(size=n)
    return np.column_stack([a * 3.0 + 10.0, b, rng.normal(size=n) * 0.5])


def cases() -> list[dict]:
    rng = np.random.default_rng(20261208)
    three = ["a", "b", "c"]
    two = ["a", "b"]
    out = []

    def add(name, x, y, names, config=None):
        out.append({"name": name, "reference": batch(x, names), "current": batch(y, names),
                    "config": config or {}})

    add("no_drift", correlated(rng, 500, 0.9), correlated(rng, 200, 0.9), three)
    add("correlation_breaks", correlated(rng, 500, 0.9), correlated(rng, 200, 0.0), three)
    add("one_column_shifts", correlated(rng, 400, 0.8),
        correlated(rng, 100, 0.8) + [0.0, 0.0, 2.0], three)
    add("share_0_9_keeps_more_components", correlated(rng, 300, 0.7),
        correlated(rng, 100, 0.2), three, {"n_components": 0.9})
    add("fixed_threshold", correlated(rng, 300, 0.9), correlated(rng, 80, 0.5), three,
        {"threshold": 0.5})
    add("chunks_and_multiplier", correlated(rng, 333, 0.9), correlated(rng, 90, 0.9), three,
        {"chunks": 7, "std_multiplier": 2.0})
    x = correlated(rng, 300, 0.9)
    x[[2, 50, 51, 200], 1] = np.nan
    x[7, 0] = np.nan
    y = correlated(rng, 120, 0.9)
    y[[0, 3], 2] = np.nan
    y[10, :] = np.nan
    add("missing_values_imputed_with_reference_means", x, y, three)
    x = correlated(rng, 200, 0.9)
    x[:, 2] = 4.25
    add("constant_column", x, correlated(rng, 60, 0.9) * [1, 1, 0] + [0, 0, 4.25], three)
    y = correlated(rng, 60, 0.9)
    add("constant_column_moves", x, y * [1, 1, 0] + [0, 0, 5.0], three)
    add("two_columns", rng.normal(size=(200, 2)) @ [[1.0, 0.8], [0.0, 0.6]],
        rng.normal(size=(50, 2)), two)
    add("eight_columns", rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8)),
        rng.normal(size=(100, 8)) @ rng.normal(size=(8, 8)), [f"c{i}" for i in range(8)])
    add("window_of_one_row", correlated(rng, 100, 0.9), correlated(rng, 1, 0.9), three)
    add("tiny_reference", correlated(rng, 4, 0.9), correlated(rng, 3, 0.9), three,
        {"chunks": 2})
    add("collinear_columns_floor", np.column_stack([np.arange(50.0), 2 * np.arange(50.0)]),
        np.column_stack([np.arange(10.0), 2 * np.arange(10.0)]), two)
    add("huge_values", correlated(rng, 200, 0.9) * 1e12, correlated(rng, 50, 0.9) * 1e12, three)
    add("one_column", rng.normal(size=(50, 1)), rng.normal(size=(50, 1)), ["only"])
    add("reference_smaller_than_chunks", correlated(rng, 9, 0.9), correlated(rng, 9, 0.9), three)
    add("reference_of_one_row", correlated(rng, 1, 0.9), correlated(rng, 9, 0.9), three,
        {"threshold": 1.0})
    x = correlated(rng, 40, 0.9)
    x[:, 1] = np.nan
    add("reference_column_all_missing", x, correlated(rng, 9, 0.9), three)
    add("every_column_constant", np.ones((30, 2)), np.ones((5, 2)), two)
    base = correlated(rng, 40, 0.9)
    for name, config in [("n_components_one", {"n_components": 1.0}),
                         ("n_components_zero", {"n_components": 0}),
                         ("threshold_zero", {"threshold": 0}),
                         ("chunks_one", {"chunks": 1}),
                         ("negative_multiplier", {"std_multiplier": -1}),
                         ("unknown_setting", {"whiten": True})]:
        add(name, base, base, three, config)
    for case in error_cases(rng):
        out.append({**case, "config": {}})
    for case in out:
        case["expected"] = pca(case["reference"], case["current"], case["config"])
        as_written(case)
    return out


if __name__ == "__main__":
    write("generate_pca.py", "pca.json", cases(), {"scikit-learn": sklearn.__version__})
