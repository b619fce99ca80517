"""Reference values for the drift-psi plugin, from a NumPy implementation of the definition.

Run with /opt/vigil-py/bin/python from anywhere; writes psi.json next to this script.
Every case is drawn from a fixed seed, so reruns with the same NumPy give the same file.

Definition: numeric columns are binned at the reference's deciles (np.quantile, default
"linear" method), duplicate edges dropped (np.unique), into right-closed bins
(-inf, e1], (e1, e2], ..., (ek, +inf); categorical columns have one bin per category seen on
either side (reference categories first in order of first appearance, then the window's new
ones). Proportions are count / n per side, floored at 1e-4 without renormalising, and
psi = sum((cur - ref) * ln(cur / ref)). Missing values (null) are dropped.
"""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import scipy

from two_sample_cases import values, with_missing, draw

OUT = Path(__file__).with_name("psi.json")

DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
FLOOR = 1e-4


def psi_numeric(reference, current):
    ref = np.array([v for v in reference if v is not None], dtype=np.float64)
    cur = np.array([v for v in current if v is not None], dtype=np.float64)
    edges = np.unique(np.quantile(ref, DECILES))
    bins = len(edges) + 1
    ref_p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=bins) / len(ref)
    cur_p = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=bins) / len(cur)
    ref_p = np.maximum(ref_p, FLOOR)
    cur_p = np.maximum(cur_p, FLOOR)
    return float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))


def psi_categorical(reference, current):
    ref = [v for v in reference if v is not None]
    cur = [v for v in current if v is not None]
    labels = list(dict.fromkeys(ref))
    known = set(labels)
    labels += [label for label in dict.fromkeys(cur) if label not in known]
    ref_counts, cur_counts = Counter(ref), Counter(cur)
    ref_p = np.array([ref_counts[label] for label in labels]) / len(ref)
    cur_p = np.array([cur_counts[label] for label in labels]) / len(cur)
    ref_p = np.maximum(ref_p, FLOOR)
    cur_p = np.maximum(cur_p, FLOOR)
    return float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))


def expected(kind, reference, current):
    present = lambda values: [v for v in values if v is not None]  # noqa: E731
    if not present(reference) or not present(current):
        return {"error": "invalid-input"}
    psi = psi_numeric if kind == "numeric" else psi_categorical
    return {"statistic": psi(reference, current), "p_value": None}


def cases():
    out = []

    def add(name, kind, reference, current, config=None):
        out.append(
            {
                "name": name,
                "kind": kind,
                "reference": reference,
                "current": current,
                "config": config or {},
                "expected": expected(kind, reference, current),
            }
        )

    def num(name, reference, current, config=None):
        add(name, "numeric", reference, current, config)

    def cat(name, reference, current, config=None):
        add(name, "categorical", reference, current, config)

    rng = np.random.default_rng(20240602)

    normal = values(rng.normal(size=1000), 5)
    num("identical_samples", normal, normal)
    num("same_distribution_sampled", values(rng.normal(size=2000), 5),
        values(rng.normal(size=2000), 5))
    num("mean_shift", values(rng.normal(size=2000), 5), values(rng.normal(0.5, 1, 2000), 5))
    num("scale_change", values(rng.normal(size=2000), 5), values(rng.normal(0, 2, 2000), 5))
    num("very_different", values(rng.normal(size=1000), 5), values(rng.normal(10, 1, 1000), 5))
    num("outside_both_ends", values(rng.uniform(0, 1, 1000), 5),
        values(np.concatenate([rng.uniform(-2, 0, 300), rng.uniform(1, 3, 300)]), 5))
    num("ties_poisson", values(rng.poisson(3.0, 1500)), values(rng.poisson(3.5, 1500)))
    num("ties_three_values", values(rng.choice([0.0, 1.0, 2.0], 800, p=[0.7, 0.2, 0.1])),
        values(rng.choice([0.0, 1.0, 2.0], 800, p=[0.5, 0.3, 0.2])))
    # Deciles fall on (or a rounding error away from) the values the window holds.
    num("values_on_edges", values(np.arange(11)), values(np.arange(-1, 13)))
    num("values_on_edges_101", values(np.arange(101) / 10), values(np.arange(0, 101, 3) / 10))
    num("tiny_reference_one_value", [1.5], [1.0, 2.0, 1.5])
    num("tiny_samples", [0.3, -1.2, 2.5], [0.1, 2.6])
    num("tiny_window_one_value", values(rng.normal(size=50), 5), [0.25])
    num("heavy_tails_cauchy", values(rng.standard_cauchy(2000), 4),
        values(rng.standard_cauchy(2000) * 1.5, 4))
    num("heavy_tails_pareto", values(rng.pareto(1.5, 2000), 5), values(rng.pareto(1.1, 2000), 5))
    num("lognormal_skewed", values(rng.lognormal(0, 1, 2000), 5),
        values(rng.lognormal(0.1, 1.3, 2000), 5))
    num("constant_reference", [7.0] * 500, values(rng.normal(7, 0.5, 500), 4))
    num("constant_both", [7.0] * 300, [7.0] * 200)
    num("constant_window", values(rng.normal(0, 1, 500), 5), [0.0] * 100)
    num("signed_zeros", [-0.0, 0.0, 1.0, -1.0] * 25, [0.0, -0.0, 0.0, 2.0] * 10)
    num("missing_values", with_missing(rng, values(rng.normal(size=1000), 5), 0.1),
        with_missing(rng, values(rng.normal(0.2, 1, 800), 5), 0.3))
    num("large_sample", values(rng.gamma(2.0, 2.0, 20000), 3), values(rng.gamma(2.2, 2.0, 5000), 3))
    num("threshold_configured", values(rng.normal(size=500), 5),
        values(rng.normal(0.3, 1, 500), 5), config={"threshold": 0.25})
    num("empty_window_all_missing", [1.0, 2.0], [None, None])
    num("empty_window_no_rows", [1.0, 2.0], [])
    num("empty_reference", [None, None], [1.0])

    probs = [0.3, 0.25, 0.2, 0.15, 0.1]
    labels = draw(rng, probs, 1000)
    cat("categorical_identical", labels, labels)
    cat("categorical_shift", draw(rng, probs, 2000), draw(rng, [0.2, 0.2, 0.2, 0.2, 0.2], 2000))
    cat("categorical_unseen_in_current", draw(rng, [0.4, 0.3, 0.2, 0.1], 500),
        draw(rng, [0.5, 0.3, 0.2], 500))
    cat("categorical_unseen_in_reference", draw(rng, [0.5, 0.3, 0.2], 500),
        draw(rng, [0.4, 0.3, 0.2, 0.1], 500))
    cat("categorical_disjoint", ["a"] * 40, ["b"] * 30)
    cat("categorical_single_category", ["a"] * 40, ["a"] * 3)
    p500 = rng.dirichlet(np.full(500, 3.0))
    cat("categorical_500_categories", draw(rng, p500, 5000),
        draw(rng, 0.7 * p500 + 0.3 * rng.dirichlet(np.full(500, 3.0)), 5000))
    cat("categorical_missing_values", with_missing(rng, draw(rng, probs, 600), 0.15),
        with_missing(rng, draw(rng, probs[::-1], 600), 0.05))
    cat("categorical_empty_window", ["a", "b"], [None])
    return out


def main():
    header = {
        "generated_by": "tests/reference/generate_psi.py",
        "versions": {"scipy": scipy.__version__, "numpy": np.__version__},
    }
    lines = [json.dumps(case, ensure_ascii=False, allow_nan=False) for case in cases()]
    head = json.dumps(header, ensure_ascii=False)[:-1]
    text = head + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(lines)} cases, {len(text.encode())} bytes to {OUT}")


if __name__ == "__main__":
    main()
