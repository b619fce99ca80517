"""Reference values for drift-js: the Jensen–Shannon distance on the shared bins, as
`scipy.spatial.distance.jensenshannon(reference_counts, current_counts, base=2)` (it
normalises the counts into proportions itself).

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
js.json next to this script. Cases: two_sample_cases.py.
"""

from scipy.spatial.distance import jensenshannon

from reference_file import write
from two_sample_cases import binned


def distance(reference, current):
    return jensenshannon(reference, current, base=2)


if __name__ == "__main__":
    write("generate_js.py", "js.json", binned("js", distance, 0.2))
