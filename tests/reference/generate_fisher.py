"""Reference values for drift-fisher: Fisher's exact test on the 2×2 table of a column with
two categories, `scipy.stats.fisher_exact([[ref_a, ref_b], [cur_a, cur_b]])` (two-sided), with
`a` the first category in the union of both sides (the reference's first).

The statistic is SciPy's sample odds ratio where it is finite; where SciPy's is infinite or
undefined (a zero cell, or a single category), the Haldane–Anscombe odds ratio
(a+½)(d+½)/((b+½)(c+½)), because a drift report carries finite numbers. More than two
categories are refused.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
fisher.json next to this script. Cases: two_sample_cases.py.
"""

import math

from scipy import stats

from reference_file import write
from two_sample_cases import binary_cases, build, union_counts


def expected(reference, current, config):
    ref, cur = union_counts(reference, current)
    if len(ref) > 2:
        raise ValueError("more than two categories")
    if len(ref) == 1:
        ref, cur = [ref[0], 0.0], [cur[0], 0.0]
    table = [[int(ref[0]), int(ref[1])], [int(cur[0]), int(cur[1])]]
    result = stats.fisher_exact(table)
    odds = result.statistic
    if not math.isfinite(odds):
        (a, b), (c, d) = table
        odds = (a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5))
    return odds, result.pvalue


if __name__ == "__main__":
    write("generate_fisher.py", "fisher.json", build("categorical", binary_cases(0.01), expected))
