"""Reference values for drift-kl: the Kullback–Leibler divergence KL(current ‖ reference) on
the shared bins, natural log, as `scipy.stats.entropy(cur, ref)` where each side's proportions
are floored at 1e-4 first (as PSI's are) so that a bin empty on one side stays finite;
`entropy` renormalises the floored proportions.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
kl.json next to this script. Cases: two_sample_cases.py.
"""

import numpy as np
from scipy.stats import entropy

from reference_file import write
from two_sample_cases import binned

FLOOR = 1e-4


def distance(reference, current):
    ref = np.maximum(reference / reference.sum(), FLOOR)
    cur = np.maximum(current / current.sum(), FLOOR)
    return entropy(cur, ref)


if __name__ == "__main__":
    write("generate_kl.py", "kl.json", binned("kl", distance, 0.2))
