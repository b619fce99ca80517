"""Reference values for drift-hellinger: the Hellinger distance on the shared bins,
sqrt(sum((sqrt(p) - sqrt(q))^2) / 2) on raw proportions (between 0 and 1), in NumPy.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
hellinger.json next to this script. Cases: two_sample_cases.py.
"""

import numpy as np

from reference_file import write
from two_sample_cases import binned


def distance(reference, current):
    p = reference / reference.sum()
    q = current / current.sum()
    return np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2.0)


if __name__ == "__main__":
    write("generate_hellinger.py", "hellinger.json", binned("hellinger", distance, 0.2))
