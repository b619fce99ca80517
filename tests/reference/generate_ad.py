"""Reference values for drift-ad: the Anderson–Darling k-sample test for k = 2,
`scipy.stats.anderson_ksamp([reference, current], variant="midrank")`.

The statistic is SciPy's standardized A2 (A2akN of Scholz and Stephens, 1987, midranks for
ties). The p-value is SciPy's interpolation of the table of critical values and therefore
capped: 0.25 wherever the true value is larger, 0.001 wherever it is smaller. Fewer than two
distinct values in the pooled sample (both sides constant and equal), or fewer than four values
in all, make SciPy fail, so the plugin refuses them.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
ad.json next to this script. Cases: two_sample_cases.py.
"""

import warnings

from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases


def expected(reference, current, config):
    if len(reference) + len(current) < 4:
        # SciPy fails (an index error, or a division by zero in the variance of A2).
        raise ValueError("fewer than four values")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.anderson_ksamp([reference, current], variant="midrank")
    return result.statistic, result.pvalue


if __name__ == "__main__":
    write("generate_ad.py", "ad.json", build("numeric", numeric_cases(0.01), expected))
