"""Reference values for the multiple-testing corrections of vigil-plugin-stats
(plugin-sdk/stats/src/multiple_testing.rs): Benjamini–Hochberg as
scipy.stats.false_discovery_control(ps, method='bh'), Bonferroni as min(p * m, 1).

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
multiple_testing.json next to this script.
"""

import numpy as np
from scipy import stats

from reference_file import write

CASES = {
    "one": [0.03],
    "sorted": [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205],
    "unsorted": [0.205, 0.041, 0.001, 0.074, 0.039, 0.008, 0.06, 0.042],
    "ties": [0.01, 0.04, 0.04, 0.04, 0.2, 0.01],
    "all_equal": [0.02, 0.02, 0.02, 0.02],
    "ones_and_zeros": [0.0, 1.0, 0.0, 0.5, 1.0],
    "tiny": [1e-300, 3e-12, 0.5, 2e-200],
    "clipped": [0.3, 0.6, 0.9, 0.95],
}


def cases():
    rng = np.random.default_rng(14)
    named = dict(CASES)
    named["random_40"] = list(rng.uniform(0, 0.2, 40) ** 2)
    for name, ps in named.items():
        ps = np.asarray(ps, dtype=float)
        yield {
            "name": name,
            "p_values": ps.tolist(),
            "benjamini_hochberg": stats.false_discovery_control(ps, method="bh").tolist(),
            "bonferroni": np.minimum(ps * len(ps), 1.0).tolist(),
        }


if __name__ == "__main__":
    write("generate_multiple_testing.py", "multiple_testing.json", list(cases()))
