"""Reference values for drift-tvd: the total variation distance on the shared bins,
sum(|p - q|) / 2 on raw proportions (between 0 and 1), in NumPy.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
tvd.json next to this script. Cases: two_sample_cases.py.
"""

import numpy as np

from reference_file import write
from two_sample_cases import binned


def distance(reference, current):
    p = reference / reference.sum()
    q = current / current.sum()
    return 0.5 * np.sum(np.abs(p - q))


if __name__ == "__main__":
    write("generate_tvd.py", "tvd.json", binned("tvd", distance, 0.2))
