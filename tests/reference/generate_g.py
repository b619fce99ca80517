"""Reference values for drift-g: the G-test (log-likelihood ratio) of homogeneity on the 2×K
table of category counts over the union of both sides, as
`scipy.stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")`; a single
category gives a statistic of 0 and a p-value of 1.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
g.json next to this script. Cases: two_sample_cases.py.
"""

import numpy as np
from scipy import stats

from reference_file import write
from two_sample_cases import build, categorical_cases, union_counts


def expected(reference, current, config):
    table = np.array(union_counts(reference, current))
    result = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    return result.statistic, result.pvalue


if __name__ == "__main__":
    write("generate_g.py", "g.json", build("categorical", categorical_cases(0.01), expected))
