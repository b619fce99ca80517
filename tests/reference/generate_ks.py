"""Reference values for the drift-ks plugin, from scipy.stats.ks_2samp(a, b, method="auto").

Run with /opt/vigil-py/bin/python from anywhere; writes ks.json next to this script.
Every case is drawn from a fixed seed, so reruns with the same NumPy and SciPy give the same
file. Missing values (null) are dropped before calling SciPy; a side left empty is an error
case ("invalid-input").

The cases are chosen to reach every path of ks_2samp and of kstwo.sf behind it; the script
prints the path each case takes (exact square / exact lattice / fallback / asymptotic, and
which branch of scipy.stats._ksstats._kolmogn), so a change of SciPy that moves a case is
visible.
"""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import scipy
from scipy import stats
from scipy.stats._stats_py import _compute_prob_outside_square

from two_sample_cases import values, with_missing

OUT = Path(__file__).with_name("ks.json")
MAX_AUTO_N = 10000


def present(items):
    return [v for v in items if v is not None]


def expected(reference, current):
    ref, cur = present(reference), present(current)
    if not ref or not cur:
        return {"error": "invalid-input"}
    with warnings.catch_warnings():
        # The fall back from exact to asymptotic warns; that path is wanted here.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ks_2samp(np.array(ref, dtype=np.float64),
                                np.array(cur, dtype=np.float64), method="auto")
    return {"statistic": float(result.statistic), "p_value": float(result.pvalue)}


def kolmogn_branch(n, x):
    """The branch of _kolmogn(n, x, cdf=False) that kstwo.sf(x, n) takes."""
    if x <= 0.5 / n:
        return "below support"
    if x >= 1.0:
        return "x >= 1"
    t = n * x
    if t <= 1.0:
        return "Ruben-Gambino t <= 1"
    if t >= n - 1:
        return "Ruben-Gambino t >= n-1"
    if x >= 0.5:
        return "2*smirnov, x >= 0.5"
    nxsquared = t * x
    if n <= 140:
        if nxsquared <= 0.754693:
            return "n <= 140, Durbin matrix"
        if nxsquared <= 4:
            return "n <= 140, Pomeranz"
        return "n <= 140, 2*smirnov"
    if nxsquared >= 370.0:
        return "n*x^2 >= 370, zero"
    if nxsquared >= 2.2:
        return "2*smirnov" + (" (asymptotic smirnov)" if n > 1_000_000 else "")
    if n <= 100000 and n * x**1.5 <= 1.4:
        return "1 - Durbin matrix"
    return "1 - Pelz-Good"


def path(reference, current):
    """Which computation ks_2samp(method="auto") performs, for the printed summary."""
    ref, cur = present(reference), present(current)
    if not ref or not cur:
        return "error"
    n1, n2 = len(ref), len(cur)
    result = expected(reference, current)
    d = result["statistic"]
    if max(n1, n2) <= MAX_AUTO_N:
        g = math.gcd(n1, n2)
        lcm = (n1 // g) * n2
        h = int(np.round(d * lcm))
        if h == 0:
            return "exact, d = 0"
        if n1 != n2:
            return "exact lattice paths"
        prob = _compute_prob_outside_square(n1, h)
        if 0 <= prob <= 1:
            return "exact square"
        label = "exact square failed -> asymptotic: "
    else:
        label = "asymptotic: "
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = int(np.round(m * n / (m + n)))
    return f"{label}n={en}, {kolmogn_branch(en, d)}"


def cases():
    out = []

    def num(name, reference, current, config=None):
        out.append(
            {
                "name": name,
                "kind": "numeric",
                "reference": reference,
                "current": current,
                "config": config or {},
                "expected": expected(reference, current),
            }
        )

    rng = np.random.default_rng(20240615)

    # Tiny samples: every small size pair, exact on both paths.
    num("tiny_1_vs_1_apart", [0.5], [1.5])
    num("tiny_1_vs_1_tied", [2.0], [2.0])
    num("tiny_1_vs_2", [0.3], [0.1, 0.9])
    num("tiny_2_vs_1", [1.0, 2.0], [3.0])
    num("tiny_1_vs_3", [0.0], [-1.0, 0.0, 1.0])
    num("tiny_2_vs_2", [0.1, 0.6], [0.4, 0.8])
    num("tiny_2_vs_3", [0.2, 1.4], [0.5, 0.9, 2.0])
    num("tiny_3_vs_2_separated", [-1.0, 0.0, 1.0], [5.0, 6.0])
    num("tiny_3_vs_3_shifted", [0.1, 0.4, 0.7], [0.5, 0.8, 0.9])

    # Equal sizes: the closed form for D_{n,n}.
    num("equal_50_mean_shift", values(rng.normal(size=50), 5),
        values(rng.normal(0.5, 1, 50), 5))
    num("equal_500_scale_change", values(rng.normal(size=500), 5),
        values(rng.normal(0, 1.5, 500), 5))
    num("equal_2000_same_distribution", values(rng.normal(size=2000), 5),
        values(rng.normal(size=2000), 5))

    # Unequal sizes up to 10000: the lattice-path count.
    num("unequal_100_vs_80_shift", values(rng.normal(size=100), 5),
        values(rng.normal(0.4, 1, 80), 5))
    num("unequal_1000_vs_700_same", values(rng.normal(size=1000), 5),
        values(rng.normal(size=700), 5))
    num("unequal_997_vs_1009_coprime", values(rng.normal(size=997), 5),
        values(rng.normal(0.1, 1, 1009), 5))
    num("unequal_3000_vs_2000_small_shift", values(rng.normal(size=3000), 4),
        values(rng.normal(0.05, 1, 2000), 4))
    num("unequal_10000_vs_9999_largest_exact", values(rng.normal(size=10000), 3),
        values(rng.normal(0.02, 1, 9999), 3))

    # Equal sizes where D = h/n and the closed form rounds to just above 1: SciPy gives up on
    # the exact value and takes kstwo.sf instead.
    num("exact_fails_interleaved_5", [1.0, 3.0, 5.0, 7.0, 9.0], [2.0, 4.0, 6.0, 8.0, 10.0])
    ramp = np.arange(2054, dtype=np.float64)
    num("exact_fails_2054_h11", values(ramp), values(ramp + 10.5))

    # More than 10000 on one side: kstwo.sf(d, round(m n / (m + n))), one case per branch.
    big = values(rng.normal(size=10001), 2)
    num("asymptotic_10001_vs_1_n1", values(rng.poisson(4.0, 10001)), [6.0])
    num("asymptotic_10001_vs_2_n2", values(rng.poisson(4.0, 10001)), [6.0, 7.0])
    num("asymptotic_10001_vs_8_large_d", big, values(rng.normal(1.8, 1, 8), 2))
    # Windows that track the reference's quantiles closely keep D small enough for the
    # Durbin matrix (n*D^2 <= 0.754693 at n <= 140, n*D^1.5 <= 1.4 above) and, with D
    # below 1/n, for the Ruben-Gambino product at n > 140.
    big_sorted = np.sort(big)
    num("asymptotic_10001_vs_60_durbin", big,
        values(np.quantile(big_sorted, ((np.arange(60) + 0.5) / 60) ** 1.15), 2))
    num("asymptotic_10001_vs_300_ruben_gambino", big,
        values(big_sorted[np.round((np.arange(300) + 0.7) * 10001 / 300).astype(int)]))
    num("asymptotic_10001_vs_40_pomeranz", big,
        values(np.quantile(big_sorted, ((np.arange(40) + 0.5) / 40) ** 1.6), 2))
    num("asymptotic_10001_vs_120_smirnov", values(rng.normal(size=10001), 2),
        values(rng.normal(0.6, 1, 120), 2))
    num("asymptotic_10001_vs_3000_pelz_good", values(rng.normal(size=10001), 2),
        values(rng.normal(size=3000), 2))
    reference = np.sort(rng.normal(size=10001))
    probs = ((np.arange(3000) + 0.5) / 3000) ** 1.01
    num("asymptotic_10001_vs_3000_durbin", values(reference, 3),
        values(np.quantile(reference, probs), 3))
    num("asymptotic_10001_vs_3000_far_apart", values(rng.normal(size=10001), 2),
        values(rng.normal(1.2, 1, 3000), 2))
    num("asymptotic_12000_vs_11000_smirnov", values(rng.normal(size=12000), 2),
        values(rng.normal(0.06, 1, 11000), 2))
    num("asymptotic_ties_12000_vs_2500", values(rng.poisson(3.0, 12000)),
        values(rng.poisson(3.1, 2500)))

    # Heavy ties: integers from a small range.
    num("ties_small_range_300_vs_200", values(rng.integers(0, 5, 300)),
        values(rng.integers(0, 5, 200)))
    num("ties_small_range_400_vs_400", values(rng.integers(0, 4, 400)),
        values(rng.integers(1, 5, 400)))

    same = values(rng.normal(size=300), 5)
    num("identical_samples", same, same)

    num("fully_separated_30_vs_30", values(rng.normal(size=30), 5),
        values(rng.normal(100, 1, 30), 5))
    num("fully_separated_200_vs_150", values(rng.normal(size=200), 5),
        values(rng.normal(-50, 1, 150), 5))

    num("heavy_tails_cauchy", values(rng.standard_cauchy(800), 4),
        values(rng.standard_cauchy(600) * 1.5, 4))
    num("heavy_tails_pareto", values(rng.pareto(1.5, 1500), 5),
        values(rng.pareto(1.1, 1500), 5))

    num("constant_both_same", [3.0] * 50, [3.0] * 70)
    num("constant_both_different", [3.0] * 50, [4.0] * 70)
    num("constant_reference", [0.0] * 200, values(rng.normal(size=150), 5))
    num("signed_zeros", [-0.0, 0.0, 1.0, -1.0] * 5, [0.0, -0.0, 2.0])

    num("shifted_normals_20_vs_30", values(rng.normal(size=20), 5),
        values(rng.normal(1.0, 1, 30), 5))
    num("shifted_normals_250_vs_200", values(rng.normal(size=250), 5),
        values(rng.normal(0.3, 1, 200), 5))
    num("shifted_normals_5000_vs_4000", values(rng.normal(size=5000), 4),
        values(rng.normal(0.05, 1, 4000), 4))

    num("missing_values", with_missing(rng, values(rng.normal(size=600), 5), 0.1),
        with_missing(rng, values(rng.normal(0.2, 1, 500), 5), 0.3))
    num("threshold_configured", values(rng.normal(size=400), 5),
        values(rng.normal(0.15, 1, 300), 5), config={"threshold": 0.3})
    num("empty_window_all_missing", [1.0, 2.0, 3.0], [None, None])
    num("empty_window_no_rows", [1.0, 2.0, 3.0], [])
    return out


def main():
    header = {
        "generated_by": "tests/reference/generate_ks.py",
        "versions": {"scipy": scipy.__version__, "numpy": np.__version__},
    }
    all_cases = cases()
    for case in all_cases:
        print(f"{case['name']:40s} {path(case['reference'], case['current'])}  "
              f"{case['expected']}")
    lines = [json.dumps(case, ensure_ascii=False, allow_nan=False) for case in all_cases]
    head = json.dumps(header, ensure_ascii=False)[:-1]
    text = head + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(lines)} cases, {len(text.encode())} bytes to {OUT}")


if __name__ == "__main__":
    main()
