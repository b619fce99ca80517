"""Reference values for drift-wasserstein_norm: the Wasserstein distance divided by the
reference's standard deviation (`np.std`, ddof 0), floored at 0.001 so that a constant
reference gives a finite value: `wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)`.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
wasserstein_norm.json next to this script. Cases: two_sample_cases.py.
"""

import numpy as np
from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases

STD_FLOOR = 0.001


def expected(reference, current, config):
    return stats.wasserstein_distance(reference, current) / max(np.std(reference), STD_FLOOR), None


if __name__ == "__main__":
    write("generate_wasserstein_norm.py", "wasserstein_norm.json",
          build("numeric", numeric_cases(0.5), expected))
