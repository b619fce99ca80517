"""The cases every two-sample reference file shares: ordinary shifts, ties, constant columns,
missing values (None), tiny samples, huge values, a single category and empty windows.

Each generate_<test>.py passes its SciPy expression to `build`, which drops missing values,
records an error where a side is left empty, and records an error where SciPy raises or
returns NaN (the plugin must refuse those inputs too).
"""

import math

import numpy as np


def values(array, decimals=None):
    """Plain floats for JSON, NaN as None, optionally rounded to keep the files small."""
    array = np.asarray(array, dtype=np.float64)
    if decimals is not None:
        array = np.round(array, decimals)
    return [None if np.isnan(v) else float(v) for v in array]


def with_missing(rng, items, fraction):
    mask = rng.random(len(items)) < fraction
    return [None if m else v for v, m in zip(items, mask)]


def draw(rng, probs, n, prefix="c"):
    probs = np.asarray(probs, dtype=float)
    codes = rng.choice(len(probs), size=n, p=probs / probs.sum())
    return [f"{prefix}{c}" for c in codes]


def numeric_cases(threshold):
    """(name, reference, current, config) for numeric columns; `threshold` is a configured
    threshold the test accepts."""
    rng = np.random.default_rng(20261207)
    normal = values(rng.normal(size=400), 5)
    return [
        ("identical_samples", normal, normal, {}),
        ("same_distribution", values(rng.normal(size=500), 5), values(rng.normal(size=300), 5), {}),
        ("mean_shift", values(rng.normal(size=500), 5), values(rng.normal(0.3, 1, 400), 5), {}),
        ("scale_change", values(rng.normal(size=600), 5), values(rng.normal(0, 2, 500), 5), {}),
        ("very_different", values(rng.normal(size=300), 5), values(rng.normal(8, 1, 300), 5), {}),
        ("ties_poisson", values(rng.poisson(3.0, 700)), values(rng.poisson(3.4, 500)), {}),
        ("ties_three_values", values(rng.choice([0.0, 1.0, 2.0], 300, p=[0.7, 0.2, 0.1])),
         values(rng.choice([0.0, 1.0, 2.0], 200, p=[0.5, 0.3, 0.2])), {}),
        ("ties_across_sides", [1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 8.0], [2.0, 3.0, 3.0, 5.0, 9.0], {}),
        ("tiny_one_each", [0.5], [1.5], {}),
        ("tiny_samples", [0.3, -1.2, 2.5], [0.1, 2.6], {}),
        ("small_samples", values(rng.normal(size=7), 4), values(rng.normal(1, 1, 6), 4), {}),
        ("small_with_ties", [1.0, 2.0, 2.0, 4.0, 4.0, 4.0, 7.0, 9.0],
         [2.0, 4.0, 5.0, 5.0, 6.0, 9.0, 9.0], {}),
        ("small_window_large_reference", values(rng.normal(size=300), 5),
         values(rng.normal(0.8, 1, 6), 5), {}),
        ("medium_samples", values(rng.normal(size=20), 4), values(rng.normal(0.5, 1, 18), 4), {}),
        ("heavy_tails_cauchy", values(rng.standard_cauchy(800), 4),
         values(rng.standard_cauchy(800) * 1.5, 4), {}),
        ("lognormal_skewed", values(rng.lognormal(0, 1, 900), 5),
         values(rng.lognormal(0.1, 1.3, 700), 5), {}),
        ("huge_values", values(rng.normal(size=300) * 1e150, None),
         values(rng.normal(0.2, 1, 250) * 1e150, None), {}),
        ("tiny_magnitudes", values(rng.normal(size=300) * 1e-200, None),
         values(rng.normal(0.2, 1, 250) * 1e-200, None), {}),
        ("constant_reference", [7.0] * 200, values(rng.normal(7, 0.5, 150), 4), {}),
        ("constant_window", values(rng.normal(0, 1, 200), 5), [0.0] * 50, {}),
        ("constant_both_equal", [7.0] * 100, [7.0] * 60, {}),
        ("constant_both_different", [7.0] * 100, [8.0] * 60, {}),
        ("signed_zeros", [-0.0, 0.0, 1.0, -1.0] * 25, [0.0, -0.0, 0.0, 2.0] * 10, {}),
        ("missing_values", with_missing(rng, values(rng.normal(size=500), 5), 0.1),
         with_missing(rng, values(rng.normal(0.2, 1, 400), 5), 0.3), {}),
        ("large_sample", values(rng.gamma(2.0, 2.0, 2500), 3), values(rng.gamma(2.1, 2.0, 1500), 3),
         {}),
        ("threshold_configured", values(rng.normal(size=300), 5),
         values(rng.normal(0.2, 1, 300), 5), {"threshold": threshold}),
        ("empty_window_all_missing", [1.0, 2.0, 3.0], [None, None], {}),
        ("empty_window_no_rows", [1.0, 2.0, 3.0], [], {}),
        ("empty_reference", [None, None], [1.0, 2.0], {}),
    ]


def categorical_cases(threshold):
    """(name, reference, current, config) for categorical columns."""
    rng = np.random.default_rng(20261208)
    probs = [0.3, 0.25, 0.2, 0.15, 0.1]
    labels = draw(rng, probs, 600)
    return [
        ("categorical_identical", labels, labels, {}),
        ("categorical_same_distribution", draw(rng, probs, 800), draw(rng, probs, 500), {}),
        ("categorical_shift", draw(rng, probs, 800), draw(rng, [0.2] * 5, 800), {}),
        ("categorical_unseen_in_current", draw(rng, [0.4, 0.3, 0.2, 0.1], 400),
         draw(rng, [0.5, 0.3, 0.2], 400), {}),
        ("categorical_unseen_in_reference", draw(rng, [0.5, 0.3, 0.2], 400),
         draw(rng, [0.4, 0.3, 0.2, 0.1], 400), {}),
        ("categorical_disjoint", ["a"] * 40, ["b"] * 30, {}),
        ("categorical_single_category", ["a"] * 40, ["a"] * 3, {}),
        ("categorical_tiny", ["a", "b"], ["b"], {}),
        ("categorical_many_categories", draw(rng, rng.dirichlet(np.full(200, 3.0)), 1500),
         draw(rng, rng.dirichlet(np.full(200, 3.0)), 1500), {}),
        ("categorical_missing_values", with_missing(rng, draw(rng, probs, 500), 0.15),
         with_missing(rng, draw(rng, probs[::-1], 500), 0.05), {}),
        ("categorical_threshold_configured", draw(rng, probs, 300), draw(rng, probs[::-1], 300),
         {"threshold": threshold}),
        ("categorical_empty_window", ["a", "b"], [None], {}),
        ("categorical_empty_reference", [None], ["a"], {}),
    ]


def binary_cases(threshold):
    """(name, reference, current, config) for two-category columns (Fisher, Z)."""
    rng = np.random.default_rng(20261209)
    return [
        ("binary_same", draw(rng, [0.7, 0.3], 300), draw(rng, [0.7, 0.3], 200), {}),
        ("binary_shift", draw(rng, [0.7, 0.3], 300), draw(rng, [0.5, 0.5], 300), {}),
        ("binary_small", ["yes", "no", "yes", "yes"], ["no", "no", "yes"], {}),
        ("binary_large", draw(rng, [0.9, 0.1], 5000), draw(rng, [0.88, 0.12], 5000), {}),
        ("binary_rare", draw(rng, [0.99, 0.01], 1000), draw(rng, [0.97, 0.03], 1000), {}),
        ("binary_balanced_mirror", ["a"] * 10 + ["b"] * 5, ["a"] * 5 + ["b"] * 10, {}),
        ("binary_unseen_in_current", ["a"] * 20 + ["b"] * 5, ["a"] * 10, {}),
        ("binary_disjoint", ["a"] * 20, ["b"] * 10, {}),
        ("binary_single_category", ["a"] * 20, ["a"] * 10, {}),
        ("binary_missing_values", with_missing(rng, draw(rng, [0.6, 0.4], 300), 0.2),
         with_missing(rng, draw(rng, [0.4, 0.6], 300), 0.1), {}),
        ("binary_three_categories", ["a", "b", "c"] * 5, ["a", "b"] * 5, {}),
        ("binary_threshold_configured", draw(rng, [0.6, 0.4], 200), draw(rng, [0.5, 0.5], 200),
         {"threshold": threshold}),
        ("binary_empty_window", ["a", "b"], [None], {}),
    ]


def union_counts(reference, current):
    """Counts over the union of categories: the reference's first (in order of first
    appearance), then the window's new ones, as the plugins align them."""
    labels = list(dict.fromkeys(reference))
    known = set(labels)
    labels += [label for label in dict.fromkeys(current) if label not in known]
    ref = np.array([reference.count(label) for label in labels], dtype=np.float64)
    cur = np.array([current.count(label) for label in labels], dtype=np.float64)
    return ref, cur


def build(kind, cases, expected):
    """The reference file's cases: `expected(reference, current, config)` returns
    (statistic, p_value or None) from SciPy on the non-missing values."""
    out = []
    for name, reference, current, config in cases:
        ref = [v for v in reference if v is not None]
        cur = [v for v in current if v is not None]
        if not ref or not cur:
            result = {"error": "invalid-input"}
        else:
            try:
                if kind == "numeric":
                    ref, cur = np.array(ref, dtype=np.float64), np.array(cur, dtype=np.float64)
                statistic, p_value = expected(ref, cur, config)
                statistic = float(statistic)
                p_value = None if p_value is None else float(p_value)
                if math.isnan(statistic) or (p_value is not None and math.isnan(p_value)) \
                        or math.isinf(statistic):
                    result = {"error": "invalid-input"}
                else:
                    result = {"statistic": statistic, "p_value": p_value}
            except ValueError:
                result = {"error": "invalid-input"}
        out.append({"name": name, "kind": kind, "reference": reference, "current": current,
                    "config": config, "expected": result})
    return out


DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def shared_bins(kind, reference, current):
    """Counts of both sides over the shared bins of docs/statistics.md: the reference's
    deciles (np.quantile, `linear`), duplicates removed, right-closed bins; or one bin per
    category over the union of both sides."""
    if kind == "categorical":
        return union_counts(list(reference), list(current))
    edges = np.unique(np.quantile(reference, DECILES))
    bins = len(edges) + 1
    ref = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=bins)
    cur = np.bincount(np.searchsorted(edges, current, side="left"), minlength=bins)
    return ref.astype(np.float64), cur.astype(np.float64)


def binned(name, distance, threshold):
    """The cases of a binned distance, numeric and categorical: `distance(ref_counts,
    cur_counts)` from the shared bins."""
    def expected(kind):
        return lambda ref, cur, config: (distance(*shared_bins(kind, ref, cur)), None)
    return (build("numeric", numeric_cases(threshold), expected("numeric"))
            + build("categorical", categorical_cases(threshold), expected("categorical")))
