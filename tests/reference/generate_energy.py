"""Reference values for drift-energy: `scipy.stats.energy_distance(reference, current)`,
sqrt(2) times the L2 distance between the two empirical CDFs, in the column's units.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
energy.json next to this script. Cases: two_sample_cases.py.
"""

from scipy import stats

from reference_file import write
from two_sample_cases import build, numeric_cases


def expected(reference, current, config):
    return stats.energy_distance(reference, current), None


if __name__ == "__main__":
    write("generate_energy.py", "energy.json", build("numeric", numeric_cases(0.5), expected))
