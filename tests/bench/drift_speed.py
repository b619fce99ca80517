"""Every drift test on 1M vs 1M values: Vigil's Wasm plugin against SciPy's equivalent, in one
run on the same data, and the ratio of the two.

    python tests/bench/drift_speed.py [--rounds N] [--tests ks,cat:chi2,...] [--skip-vigil]

Needs NumPy and SciPy (the environment of docs/statistics.md) and cargo. It writes the data
once to `target/bench-data/` (fixed seeds; `$VIGIL_BENCH_DATA` moves it), times SciPy on it
(median of N calls, default 5), then runs `cargo bench -p vigil-tests --bench drift_tests`,
which times each plugin on the same files through the real runtime (create from the reference
+ evaluate on the window, median of N), and prints a Markdown table with both figures and
SciPy's time over Vigil's. Categorical tests are named `cat:NAME`, and run on codes of ten
categories (`fisher` and `z` on two).

The data: numeric reference N(0, 1), window N(0.01, 1); categorical reference with category i
drawn with weight 10 - i, the window with weight 10 - i + 0.2 i; binary with rates 0.30 and
0.31. SciPy's side starts from the same arrays the plugins get (float64 values, integer codes)
and counts categories with `np.bincount`; the binned distances bin as the shared binning does
(docs/statistics.md) with `np.quantile`, `np.searchsorted` and `np.bincount`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

ROWS = 1_000_000
DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
FLOOR = 1e-4
ROOT = pathlib.Path(__file__).resolve().parents[2]


def write_data(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261207)
    rng.normal(0.0, 1.0, ROWS).astype("<f8").tofile(out / "drift_numeric_reference.f64")
    rng.normal(0.01, 1.0, ROWS).astype("<f8").tofile(out / "drift_numeric_current.f64")
    weights = np.arange(10, 0, -1, dtype=float)
    for side, w in (("reference", weights), ("current", weights + 0.2 * np.arange(10))):
        codes = rng.choice(10, ROWS, p=w / w.sum()).astype("<u4")
        codes.tofile(out / f"drift_categorical_{side}.u32")
    for side, rate in (("reference", 0.30), ("current", 0.31)):
        codes = (rng.random(ROWS) < rate).astype("<u4")
        codes.tofile(out / f"drift_binary_{side}.u32")


def load(out: pathlib.Path):
    num = [np.fromfile(out / f"drift_numeric_{s}.f64", dtype="<f8") for s in ("reference", "current")]
    cat = [np.fromfile(out / f"drift_categorical_{s}.u32", dtype="<u4") for s in ("reference", "current")]
    binary = [np.fromfile(out / f"drift_binary_{s}.u32", dtype="<u4") for s in ("reference", "current")]
    return num, cat, binary


# --- SciPy's equivalents -------------------------------------------------------------------


def kuiper(ref, cur):
    # The reference implementation of tests/reference/generate_kuiper.py.
    ref, cur = np.sort(ref), np.sort(cur)
    points = np.concatenate([ref, cur])
    f_ref = np.searchsorted(ref, points, side="right") / ref.size
    f_cur = np.searchsorted(cur, points, side="right") / cur.size
    v = max(np.max(f_ref - f_cur), 0.0) + max(np.max(f_cur - f_ref), 0.0)
    root = math.sqrt(ref.size * cur.size / (ref.size + cur.size))
    lam = (root + 0.155 + 0.24 / root) * v
    if lam < 0.4:
        return v, 1.0
    j = np.arange(1, 101)
    a = 2.0 * j * j * lam * lam
    return v, min(max(float(np.sum(2.0 * (2.0 * a - 1.0) * np.exp(-a))), 0.0), 1.0)


def numeric_bins(ref, cur):
    edges = np.unique(np.quantile(ref, DECILES))
    bins = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=bins)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=bins)
    return r, c


def category_counts(ref, cur):
    size = int(max(ref.max(), cur.max())) + 1
    r, c = np.bincount(ref, minlength=size), np.bincount(cur, minlength=size)
    keep = (r + c) > 0
    return r[keep], c[keep]


def psi(r, c):
    p = np.maximum(r / r.sum(), FLOOR)
    q = np.maximum(c / c.sum(), FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def kl(r, c):
    return stats.entropy(np.maximum(c / c.sum(), FLOOR), np.maximum(r / r.sum(), FLOOR))


def hellinger(r, c):
    p, q = r / r.sum(), c / c.sum()
    return np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2.0)


def tvd(r, c):
    p, q = r / r.sum(), c / c.sum()
    return 0.5 * np.sum(np.abs(p - q))


DISTANCES = {
    "psi": psi,
    "js": lambda r, c: jensenshannon(r, c, base=2),
    "kl": kl,
    "hellinger": hellinger,
    "tvd": tvd,
}


def z_test(ref, cur):
    r, c = category_counts(ref, cur)
    n1, n2, x1, x2 = r.sum(), c.sum(), r[0], c[0]
    pooled = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return z, 2.0 * stats.norm.sf(abs(z))


def scipy_tests():
    tests = {
        "ks": lambda a, b: stats.ks_2samp(a, b, method="auto"),
        "ad": lambda a, b: stats.anderson_ksamp([a, b], variant="midrank"),
        "cvm": lambda a, b: stats.cramervonmises_2samp(a, b, method="auto"),
        "mwu": lambda a, b: stats.mannwhitneyu(a, b, method="auto"),
        "t": lambda a, b: stats.ttest_ind(a, b, equal_var=False),
        "es": lambda a, b: stats.epps_singleton_2samp(a, b),
        "energy": stats.energy_distance,
        "wasserstein": stats.wasserstein_distance,
        "wasserstein_norm": lambda a, b: stats.wasserstein_distance(a, b) / max(np.std(a), 0.001),
        "kuiper": kuiper,
    }
    for name, distance in DISTANCES.items():
        tests[name] = lambda a, b, d=distance: d(*numeric_bins(a, b))
        tests[f"cat:{name}"] = lambda a, b, d=distance: d(*category_counts(a, b))
    tests["cat:chi2"] = lambda a, b: stats.chi2_contingency(
        np.array(category_counts(a, b)), correction=False
    )
    tests["cat:g"] = lambda a, b: stats.chi2_contingency(
        np.array(category_counts(a, b)), correction=False, lambda_="log-likelihood"
    )
    tests["fisher"] = lambda a, b: stats.fisher_exact(np.array(category_counts(a, b)))
    tests["z"] = z_test
    return tests


def time_scipy(name, test, data, rounds):
    times = []
    for _ in range(rounds + 1):  # the first call warms caches and imports
        start = time.perf_counter()
        test(*data)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1e3


def time_vigil(out: pathlib.Path, names, rounds) -> dict:
    env = dict(os.environ, VIGIL_BENCH_DATA=str(out), DRIFT_BENCH_ROUNDS=str(rounds))
    env["DRIFT_BENCH_TESTS"] = ",".join(names)
    run = subprocess.run(
        ["cargo", "bench", "-q", "-p", "vigil-tests", "--bench", "drift_tests"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, check=True, text=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tests", default="")
    parser.add_argument("--skip-vigil", action="store_true")
    args = parser.parse_args()
    out = pathlib.Path(os.environ.get("VIGIL_BENCH_DATA", ROOT / "target/bench-data"))
    write_data(out)
    num, cat, binary = load(out)
    tests = scipy_tests()
    names = [t for t in args.tests.split(",") if t] or list(tests)
    warnings.simplefilter("ignore")  # anderson_ksamp warns that its p-value is capped
    scipy_ms = {}
    for name in names:
        data = cat if name.startswith("cat:") else binary if name in ("fisher", "z") else num
        scipy_ms[name] = time_scipy(name, tests[name], data, args.rounds)
        print(f"scipy {name}: {scipy_ms[name]:.1f} ms", file=sys.stderr)
    vigil_ms = {} if args.skip_vigil else time_vigil(out, names, args.rounds)
    print("| test | Vigil (Wasm) | SciPy | SciPy / Vigil |")
    print("| --- | ---: | ---: | ---: |")
    for name in names:
        v, s = vigil_ms.get(name), scipy_ms[name]
        ratio = f"{s / v:.1f}x" if v else "-"
        vigil = f"{v:.1f} ms" if v else "-"
        print(f"| `{name}` | {vigil} | {s:.1f} ms | {ratio} |")
    print(json.dumps({"vigil_ms": vigil_ms, "scipy_ms": scipy_ms}), file=sys.stderr)


if __name__ == "__main__":
    main()
