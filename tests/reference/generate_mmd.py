"""Reference values for the `drift-mmd` plugin, computed with NumPy.

Run with:

    /work/model-venv/bin/python tests/reference/generate_mmd.py

Writes `mmd.json` next to this file. The computation is the one docs/statistics.md
("Multivariate", `mmd`) defines, the unbiased MMD² with an RBF kernel and a permutation p-value
as Alibi Detect's `MMDDrift` computes them, written out in NumPy so that every step can be
repeated exactly:

- rows with a missing value dropped; each side needs 2 rows;
- columns standardized by the reference's (complete rows') np.mean and np.std, scale 1 for a
  constant column (StandardScaler's rule);
- a side of more than `max_samples` rows subsampled to the rows
  np.sort(RandomState(seed).permutation(n)[:max_samples]);
- σ = np.median of the Euclidean distances of all pairs of distinct pooled rows (1 if 0),
  k = exp(-d² / (2σ²));
- MMD² = 2·Σ_{i<j∈X} k / (n(n−1)) + 2·Σ_{i<j∈Y} k / (m(m−1)) − 2·Σ_{cross pairs} k / (nm),
  each sum sequential over the pairs in row-major order of the upper triangle (np.cumsum), so
  that a relabelling that gives the same split gives the same bits;
- p-value = share of `permutations` relabellings, from successive
  RandomState(seed).permutation(n + m) draws (the first n positions are the reference), whose
  MMD² is at least the observed one.
"""

from __future__ import annotations

import numpy as np
from numpy.random import RandomState

from multivariate_cases import (as_written, batch, check_inputs, error_cases, matrix,
                                mean_and_scale)
from reference_file import write


def sequential_sum(values: np.ndarray) -> float:
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def subsample(rows: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    if len(rows) <= max_samples:
        return rows
    return rows[np.sort(RandomState(seed).permutation(len(rows))[:max_samples])]


def mmd(reference: dict, current: dict, config: dict) -> dict:
    threshold = config.get("threshold", 0.05)
    permutations = config.get("permutations", 100)
    seed = config.get("seed", 0)
    max_samples = config.get("max_samples", 500)
    if set(config) - {"threshold", "permutations", "seed", "max_samples"} \
            or not 0 < threshold < 1 or not 1 <= permutations <= 10000 \
            or not 2 <= max_samples <= 1000:
        return {"error": "invalid-config"}
    error = check_inputs(reference, current)
    if error:
        return {"error": error}
    names = list(reference)
    x = matrix(reference, names)
    y = matrix(current, names)
    x = x[~np.isnan(x).any(axis=1)]
    y = y[~np.isnan(y).any(axis=1)]
    if len(x) < 2 or len(y) < 2:
        return {"error": "invalid-input"}
    scale = [mean_and_scale(x[:, j]) for j in range(x.shape[1])]
    x = subsample(x, max_samples, seed)
    y = subsample(y, max_samples, seed)
    means = np.array([s[0] for s in scale])
    sds = np.array([s[1] for s in scale])
    z = np.vstack([(x - means) / sds, (y - means) / sds])
    size, n = len(z), len(x)
    first, second = np.triu_indices(size, 1)
    squared = np.zeros(len(first))
    for k in range(z.shape[1]):
        diff = z[first, k] - z[second, k]
        squared = squared + diff * diff
    sigma = float(np.median(np.sqrt(squared)))
    if sigma == 0.0:
        sigma = 1.0
    kernel = np.exp(-squared / (2.0 * sigma * sigma))

    def mmd2(labels: np.ndarray) -> float:
        pair_class = labels[first].astype(int) + labels[second].astype(int)
        yy, xy, xx = (sequential_sum(kernel[pair_class == c]) for c in (0, 1, 2))
        nx = float(labels.sum())
        ny = size - nx
        return (xx * 2.0) / (nx * (nx - 1.0)) + (yy * 2.0) / (ny * (ny - 1.0)) \
            - (xy * 2.0) / (nx * ny)

    observed = mmd2(np.arange(size) < n)
    rng = RandomState(seed)
    at_least = 0
    for _ in range(permutations):
        order = rng.permutation(size)
        labels = np.zeros(size, dtype=bool)
        labels[order[:n]] = True
        if mmd2(labels) >= observed:
            at_least += 1
    return {"statistic": observed, "p_value": at_least / permutations,
            "drifted": at_least / permutations < threshold, "bandwidth": sigma}


def cases() -> list[dict]:
    rng = np.random.default_rng(20261207)
    two = ["a", "b"]
    out = []

    def add(name, x, y, names, config=None):
        out.append({"name": name, "reference": batch(x, names), "current": batch(y, names),
                    "config": config or {}})

    add("same_distribution", rng.normal(size=(60, 2)), rng.normal(size=(60, 2)), two)
    add("mean_shift_in_one_column", rng.normal(size=(60, 2)),
        rng.normal(size=(60, 2)) + [1.0, 0.0], two)
    add("scale_change_three_columns", rng.normal(size=(70, 3)),
        rng.normal(size=(50, 3)) * [1.0, 2.5, 1.0], ["a", "b", "c"])
    add("unequal_sizes_and_units", rng.normal(size=(80, 2)) * [1000.0, 0.01] + [5e4, 0.0],
        rng.normal(size=(45, 2)) * [1000.0, 0.01] + [5.03e4, 0.0], ["price", "rate"])
    x = rng.normal(size=(50, 2))
    x[[3, 17, 40], 0] = np.nan
    y = rng.normal(size=(40, 2)) + 0.3
    y[[0, 5], 1] = np.nan
    add("missing_values_drop_rows", x, y, two)
    add("constant_column", np.column_stack([rng.normal(size=40), np.full(40, 3.5)]),
        np.column_stack([rng.normal(size=40) + 0.5, np.full(40, 3.5)]), two)
    add("constant_column_moves", np.column_stack([rng.normal(size=40), np.full(40, 3.5)]),
        np.column_stack([rng.normal(size=40), np.full(40, 4.0)]), two)
    add("one_column", rng.normal(size=(50, 1)), rng.normal(size=(50, 1)) + 0.8, ["only"])
    add("tiny_two_and_two", rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), two)
    add("tiny_three_and_four", rng.normal(size=(3, 2)), rng.normal(size=(4, 2)) + 1, two)
    add("identical_sides", (x := rng.normal(size=(30, 2))), x.copy(), two)
    ties = np.repeat([[1.0, 2.0]], 40, axis=0)
    ties[:5] = rng.normal(size=(5, 2))
    add("mostly_equal_rows_median_zero", ties, ties[::-1].copy(), two)
    add("nine_columns", rng.normal(size=(40, 9)), rng.normal(size=(35, 9)) * 1.3,
        [f"c{i}" for i in range(9)])
    add("subsampled_both_sides", rng.normal(size=(700, 2)), rng.normal(size=(650, 2)) + 0.1,
        two, {"max_samples": 150, "seed": 7})
    add("seed_permutations_threshold", rng.normal(size=(40, 2)),
        rng.normal(size=(40, 2)) + 0.35, two,
        {"seed": 12345, "permutations": 37, "threshold": 0.1})
    add("default_max_samples_subsamples", rng.normal(size=(520, 2)),
        rng.normal(size=(90, 2)), two, {"permutations": 20})
    add("window_of_one_row", rng.normal(size=(20, 2)), rng.normal(size=(1, 2)), two)
    x = rng.normal(size=(20, 2))
    x[1:, 1] = np.nan
    add("reference_with_one_complete_row", x, rng.normal(size=(20, 2)), two)
    y = rng.normal(size=(10, 2))
    y[:, 0] = np.nan
    add("window_all_missing", rng.normal(size=(20, 2)), y, two)
    base = rng.normal(size=(20, 2))
    for name, config in [("permutations_zero", {"permutations": 0}),
                         ("max_samples_one", {"max_samples": 1}),
                         ("max_samples_too_large", {"max_samples": 5000}),
                         ("threshold_out_of_range", {"threshold": 1.5}),
                         ("unknown_setting", {"bandwidth": 1.0})]:
        add(name, base, base, two, config)
    for case in error_cases(rng):
        out.append({**case, "config": {}})
    inf = batch(rng.normal(size=(10, 2)), two)
    inf["a"][3] = 1e308 * 10
    out.append({"name": "infinite_value", "reference": inf, "current": inf, "config": {}})

    for case in out:
        case["expected"] = mmd(case["reference"], case["current"], case["config"])
    for case in out:
        as_written(case)
    # The permutations themselves, for the generator's own test.
    out.append({"name": "numpy_permutations", "permutations": {
        str(seed): RandomState(seed).permutation(size).tolist()
        for seed, size in [(0, 10), (1, 1000), (4294967295, 77), (123, 2)]}})
    return out


if __name__ == "__main__":
    write("generate_mmd.py", "mmd.json", cases())
