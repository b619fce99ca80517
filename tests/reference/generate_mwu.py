"""Reference values for drift-mwu: `scipy.stats.mannwhitneyu(reference, current,
alternative="two-sided", method="auto")`, the statistic being U of the reference.

`auto` takes the exact null distribution when either sample has at most 8 values and no value
is tied, and otherwise the normal approximation with the tie correction and the continuity
correction.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
mwu.json next to this script. Cases: two_sample_cases.py.
"""

from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases


def expected(reference, current, config):
    result = stats.mannwhitneyu(reference, current, alternative="two-sided", method="auto")
    return result.statistic, result.pvalue


if __name__ == "__main__":
    write("generate_mwu.py", "mwu.json", build("numeric", numeric_cases(0.01), expected))
