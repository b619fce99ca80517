"""Reference values for drift-t: Welch's t-test, `scipy.stats.ttest_ind(reference, current,
equal_var=False)` (two-sided), the statistic positive when the reference's mean is larger.

SciPy returns NaN (or an infinite statistic) where the test is undefined: fewer than two
values on a side, both sides constant, or variances that underflow; the plugin refuses those
windows, so the file records an error.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
t.json next to this script. Cases: two_sample_cases.py.
"""

from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases


def expected(reference, current, config):
    result = stats.ttest_ind(reference, current, equal_var=False)
    return result.statistic, result.pvalue


if __name__ == "__main__":
    write("generate_t.py", "t.json", build("numeric", numeric_cases(0.01), expected))
