"""Reference values for drift-kuiper: the two-sample Kuiper test, in NumPy (SciPy has no
two-sample Kuiper test).

Statistic: V = max(F_ref - F_cur) + max(F_cur - F_ref), both empirical CDFs evaluated at every
value of either sample (each maximum at least 0). P-value: the asymptotic distribution with
Stephens' small-sample correction (Numerical Recipes, `kuipertwo`): lambda = (sqrt(ne) + 0.155 +
0.24 / sqrt(ne)) * V with ne = n m / (n + m), and Q(lambda) = 2 sum_{j>=1} (4 j^2 lambda^2 - 1)
exp(-2 j^2 lambda^2), which is 1 for lambda < 0.4; the series stops at the first term whose size
is at most 1e-16 of the sum (or below 1e-300), after at most 100 terms, and is clipped to [0, 1].

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
kuiper.json next to this script. Cases: two_sample_cases.py.
"""

import math

import numpy as np

from reference_file import write
from two_sample_cases import build, numeric_cases


def q_kuiper(lam):
    if lam < 0.4:
        return 1.0
    total = 0.0
    for j in range(1, 101):
        a = 2.0 * j * j * lam * lam
        term = 2.0 * (2.0 * a - 1.0) * math.exp(-a)
        total += term
        if abs(term) <= 1e-16 * abs(total) or abs(term) < 1e-300:
            break
    return min(max(total, 0.0), 1.0)


def expected(reference, current, config):
    ref, cur = np.sort(reference), np.sort(current)
    points = np.concatenate([ref, cur])
    f_ref = np.searchsorted(ref, points, side="right") / ref.size
    f_cur = np.searchsorted(cur, points, side="right") / cur.size
    v = max(np.max(f_ref - f_cur), 0.0) + max(np.max(f_cur - f_ref), 0.0)
    ne = ref.size * cur.size / (ref.size + cur.size)
    root = math.sqrt(ne)
    return v, q_kuiper((root + 0.155 + 0.24 / root) * v)


if __name__ == "__main__":
    write("generate_kuiper.py", "kuiper.json", build("numeric", numeric_cases(0.01), expected))
