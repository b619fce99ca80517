"""Reference values for drift-wasserstein: `scipy.stats.wasserstein_distance(reference,
current)`, the first Wasserstein (earth mover's) distance between the two empirical
distributions, in the column's units.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
wasserstein.json next to this script. Cases: two_sample_cases.py.
"""

from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases


def expected(reference, current, config):
    return stats.wasserstein_distance(reference, current), None


if __name__ == "__main__":
    write("generate_wasserstein.py", "wasserstein.json",
          build("numeric", numeric_cases(0.5), expected))
