"""Reference values for the drift-chi2 plugin, from scipy.stats.chi2_contingency.

Run with /opt/vigil-py/bin/python from anywhere; writes chi2.json next to this script.
Every case is drawn from a fixed seed, so reruns with the same SciPy and NumPy give the same
file.

The contingency table is built the way the plugin builds it: one column per category seen
(ignoring missing values) on either side, reference categories first in order of first
appearance, then the categories only the window has. The order changes nothing mathematically,
but it lets the plugin reproduce SciPy's floating-point summation to the last bit.
"""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import scipy
from scipy.stats import chi2_contingency

OUT = Path(__file__).with_name("chi2.json")


def expected(reference, current):
    ref = [v for v in reference if v is not None]
    cur = [v for v in current if v is not None]
    if not ref or not cur:
        return {"error": "invalid-input"}
    labels = list(dict.fromkeys(ref))
    known = set(labels)
    labels += [label for label in dict.fromkeys(cur) if label not in known]
    ref_counts, cur_counts = Counter(ref), Counter(cur)
    table = np.array(
        [[ref_counts[label] for label in labels], [cur_counts[label] for label in labels]]
    )
    res = chi2_contingency(table, correction=False)
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue)}


def draw(rng, probs, n, prefix="c"):
    """n labels drawn with the given category probabilities."""
    probs = np.asarray(probs, dtype=float)
    codes = rng.choice(len(probs), size=n, p=probs / probs.sum())
    return [f"{prefix}{c}" for c in codes]


def with_missing(rng, values, fraction):
    mask = rng.random(len(values)) < fraction
    return [None if m else v for v, m in zip(values, mask)]


def zipf_probs(k, s):
    return 1.0 / np.arange(1, k + 1) ** s


def cases():
    out = []

    def add(name, reference, current, config=None, kind="categorical", expect=None):
        out.append(
            {
                "name": name,
                "kind": kind,
                "reference": reference,
                "current": current,
                "config": config or {},
                "expected": expect if expect is not None else expected(reference, current),
            }
        )

    rng = np.random.default_rng(20240601)

    add("identical_small", list("abbccc"), list("abbccc"))
    ref = ["a"] * 10 + ["b"] * 20 + ["c"] * 30
    cur = ["a"] * 20 + ["b"] * 40 + ["c"] * 60
    add("identical_proportions_different_sizes", list(rng.permutation(ref)), list(rng.permutation(cur)))
    probs = [0.3, 0.25, 0.2, 0.15, 0.1]
    add("same_distribution_sampled", draw(rng, probs, 1000), draw(rng, probs, 1000))
    add("slight_shift", draw(rng, probs, 2000), draw(rng, [0.27, 0.25, 0.21, 0.16, 0.11], 2000))
    add("two_categories", ["yes"] * 300 + ["no"] * 200, ["yes"] * 320 + ["no"] * 210)
    # Statistics below 1: the small-x series of the incomplete gamma function.
    add("two_categories_tiny_statistic", ["a"] * 50 + ["b"] * 50, ["a"] * 52 + ["b"] * 48)
    add("three_categories_tiny_statistic", ["a"] * 40 + ["b"] * 30 + ["c"] * 30,
        ["a"] * 41 + ["b"] * 30 + ["c"] * 29)
    add("single_category", ["only"] * 5, ["only"] * 9)
    add("single_category_with_missing", ["only", None, "only"], [None, "only", None, None])
    add("tiny_samples_disjoint", ["a"], ["b"])
    add("tiny_samples", ["a", "b"], ["a"])
    add("unseen_in_current", draw(rng, [0.4, 0.3, 0.2, 0.1], 400, "k"),
        draw(rng, [0.45, 0.35, 0.2], 380, "k"))
    add("unseen_in_reference", draw(rng, [0.5, 0.3, 0.2], 500, "k"),
        draw(rng, [0.45, 0.3, 0.2, 0.05], 450, "k"))
    add("unseen_on_both_sides", ["a", "b", "c", "x"] * 30 + ["a"] * 11,
        ["a", "b", "c", "y", "z"] * 25 + ["c"] * 4)
    add("missing_values", with_missing(rng, draw(rng, probs, 800), 0.1),
        with_missing(rng, draw(rng, [0.25, 0.25, 0.2, 0.15, 0.15], 700), 0.2))
    add("heavy_tailed_zipf", draw(rng, zipf_probs(200, 1.1), 3000, "z"),
        draw(rng, zipf_probs(200, 1.2), 3000, "z"))
    # 20 < dof/2 < 200 near the null: the asymptotic series for moderate a.
    p100 = rng.dirichlet(np.full(100, 5.0))
    add("categories_100_null", draw(rng, p100, 4000), draw(rng, p100, 4000))
    # dof/2 > 200 near the null: the asymptotic series for large a.
    p500 = rng.dirichlet(np.full(500, 5.0))
    add("categories_500_null", draw(rng, p500, 5000), draw(rng, p500, 5000))
    add("categories_500_drift", draw(rng, p500, 5000),
        draw(rng, rng.dirichlet(np.full(500, 5.0)), 5000))
    # Drift still inside the asymptotic series' domain (stat - dof below about 4.5 sd).
    mix_rng = np.random.default_rng(8)
    p, q = mix_rng.dirichlet(np.full(500, 5.0)), mix_rng.dirichlet(np.full(500, 5.0))
    add("categories_500_moderate_drift", draw(mix_rng, p, 5000), draw(mix_rng, 0.8 * p + 0.2 * q, 5000))
    p3000 = rng.dirichlet(np.full(3000, 2.0))
    add("categories_3000_null", draw(rng, p3000, 8000), draw(rng, p3000, 8000))
    add("categories_3000_drift", draw(rng, p3000, 8000),
        draw(rng, rng.dirichlet(np.full(3000, 2.0)), 8000))
    ten = np.arange(1, 11, dtype=float)
    add("very_different_distributions", draw(rng, ten, 2000), draw(rng, ten[::-1], 2000))
    add("disjoint_categories", draw(rng, [1, 1, 1], 500, "r"), draw(rng, [1, 1, 1], 500, "w"))
    # The p-value underflows to 0.
    add("disjoint_categories_underflow", draw(rng, [1, 1], 2000, "r"),
        draw(rng, [1, 1], 2000, "w"))
    add("large_counts", draw(rng, [0.4, 0.3, 0.2, 0.1], 15000, ""),
        draw(rng, [0.35, 0.3, 0.2, 0.15], 15000, ""))
    add("unusual_labels", ["", "é", "a b", "", "é", "\"q\""] * 7, ["", "é", "a b", "é", "\"q\""] * 8)
    add("threshold_configured", draw(rng, probs, 600), draw(rng, [0.28, 0.25, 0.2, 0.16, 0.11], 600),
        config={"threshold": 0.01})
    add("empty_window_all_missing", ["a", "b"], [None, None])
    add("empty_window_no_rows", ["a", "b"], [])
    add("empty_reference", [None], ["a"])
    add("numeric_column", [1.0, 2.0], [1.0, 2.0], kind="numeric",
        expect={"error": "invalid-input"})
    return out


def main():
    header = {
        "generated_by": "tests/reference/generate_chi2.py",
        "versions": {"scipy": scipy.__version__, "numpy": np.__version__},
    }
    lines = [json.dumps(case, ensure_ascii=False) for case in cases()]
    head = json.dumps(header, ensure_ascii=False)[:-1]
    text = head + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(lines)} cases, {len(text.encode())} bytes to {OUT}")


if __name__ == "__main__":
    main()
