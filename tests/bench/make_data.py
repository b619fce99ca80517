"""Writes the benchmark data to target/bench-data/ (not committed; deterministic seeds).

- ks_reference.f64, ks_current.f64: 1M float64 each (raw little-endian), for the KS benchmark.
- drift_reference.csv, drift_current.csv: 1M rows x 27 columns (20 numeric, 7 categorical),
  the current file drifted in some columns, for the `vigil drift` benchmark.
"""
import pathlib
import sys

import numpy as np
import pandas as pd

OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench-data")
ROWS = 1_000_000


def frame(rng, drifted):
    columns = {}
    for i in range(20):
        shift = 0.05 * (i % 4) if drifted else 0.0
        if i % 5 == 4:
            values = rng.integers(0, 100, ROWS).astype(float)          # ties
        elif i % 5 == 3:
            values = rng.lognormal(1.0 + shift, 0.8, ROWS)              # heavy tail
        else:
            values = rng.normal(shift, 1.0, ROWS)
        values = np.round(values, 6)
        missing = rng.random(ROWS) < 0.01
        values[missing] = np.nan
        columns[f"num_{i:02d}"] = values
    for j in range(7):
        k = 3 + 4 * j
        p = np.ones(k) / k
        if drifted and j % 2 == 0:
            p = np.linspace(1, 2, k)
            p /= p.sum()
        columns[f"cat_{j}"] = rng.choice([f"c{j}_{v}" for v in range(k)], ROWS, p=p)
    return pd.DataFrame(columns)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    rng.normal(0.0, 1.0, ROWS).astype("<f8").tofile(OUT / "ks_reference.f64")
    rng.normal(0.01, 1.0, ROWS).astype("<f8").tofile(OUT / "ks_current.f64")
    for name, drifted, seed in [("reference", False, 1), ("current", True, 2)]:
        path = OUT / f"drift_{name}.csv"
        if not path.exists():
            frame(np.random.default_rng(seed), drifted).to_csv(path, index=False, na_rep="")


if __name__ == "__main__":
    main()
