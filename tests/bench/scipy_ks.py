"""Times scipy.stats.ks_2samp on the KS benchmark data; prints the median seconds of 5 runs."""
import pathlib
import statistics
import sys
import time

import numpy as np
from scipy import stats

data = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench-data")
a = np.fromfile(data / "ks_reference.f64", dtype="<f8")
b = np.fromfile(data / "ks_current.f64", dtype="<f8")
times = []
for _ in range(5):
    start = time.perf_counter()
    result = stats.ks_2samp(a, b, method="auto")
    times.append(time.perf_counter() - start)
print(f"{statistics.median(times):.6f}")
print(f"statistic={result.statistic!r} pvalue={result.pvalue!r}", file=sys.stderr)
