"""Reference values for drift-es: the Epps–Singleton test, `scipy.stats.epps_singleton_2samp(
reference, current)` with SciPy's default points t = (0.4, 0.8).

SciPy raises for fewer than five values on a side and returns NaN where the pooled sample's
interquartile range is zero (a mostly constant column) or a value is infinite; the plugin
refuses those windows. Where the covariance of the characteristic function is singular (few
distinct values), SciPy uses its pseudo-inverse and takes the degrees of freedom from its
rank; so does the plugin. Both sides constant (a zero covariance, where SciPy's statistic is
the inverse of rounding noise) is refused too.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
es.json next to this script. Cases: two_sample_cases.py.
"""

import warnings

from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases


def expected(reference, current, config):
    if len(reference) < 5 or len(current) < 5:
        raise ValueError("fewer than five values on a side")
    if len(set(reference)) == 1 and len(set(current)) == 1:
        # Both sides constant: the covariance is zero and SciPy's statistic is the inverse of
        # rounding noise (3.8e33 in one case); the plugin refuses such windows.
        raise ValueError("both sides constant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.epps_singleton_2samp(reference, current)
    return result.statistic, result.pvalue


if __name__ == "__main__":
    write("generate_es.py", "es.json", build("numeric", numeric_cases(0.01), expected))
