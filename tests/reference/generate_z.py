"""Reference values for drift-z: the pooled two-proportion Z-test on a column with two
categories (SciPy has none; the formula in NumPy, the tail from `scipy.stats.norm.sf`).

The proportion compared is that of the first category in the union of both sides (the
reference's categories first, in order of first appearance): z = (p_ref - p_cur) /
sqrt(p (1 - p) (1/n_ref + 1/n_cur)) with p the pooled proportion, p-value 2 * norm.sf(|z|).
A single category on both sides gives z = 0 and a p-value of 1; more than two categories are
refused.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
z.json next to this script. Cases: two_sample_cases.py.
"""

import math

from scipy import stats

from reference_file import write
from two_sample_cases import binary_cases, build, union_counts


def expected(reference, current, config):
    ref, cur = union_counts(reference, current)
    if len(ref) > 2:
        raise ValueError("more than two categories")
    n1, n2 = float(ref.sum()), float(cur.sum())
    x1, x2 = float(ref[0]), float(cur[0])
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    if se == 0.0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, 2.0 * stats.norm.sf(abs(z))


if __name__ == "__main__":
    write("generate_z.py", "z.json", build("categorical", binary_cases(0.01), expected))
