"""Reference values of the distributions the drift tests use, from SciPy.

Run with the Python environment of docs/statistics.md (numpy, scipy) from anywhere; writes
special.json next to this script. The grid reaches far into the tails, where library
implementations part ways: plugin-sdk/stats/tests/special.rs measures statrs and the
hand-written code against it and records which one each test uses.
"""

import numpy as np
from scipy import stats

from reference_file import write


def main():
    cases = []

    def add(function, args, value):
        cases.append({"function": function, "args": [float(a) for a in args],
                      "value": float(value)})

    for df in [1, 2, 3, 4, 5, 9, 10, 30, 99, 500, 4999]:
        for x in np.concatenate([[0.0, 1e-8, 0.01, 0.5], np.array([0.5, 1, 2, 5, 10, 30]) * df,
                                 [df + 3 * np.sqrt(2 * df), df + 30 * np.sqrt(2 * df)]]):
            value = stats.chi2.sf(x, df)
            if value > 0:
                add("chi2_sf", [df, x], value)
    for z in [-8, -3, -1, -0.1, 0, 1e-6, 0.1, 1, 1.96, 3, 5, 8, 12, 20, 30, 37]:
        add("normal_sf", [z], stats.norm.sf(z))
    for df in [0.3, 1, 1.5, 2, 3.7, 9, 10, 29.3, 49.9, 50.1, 100, 1000.5, 12345.6, 1e5, 1e7]:
        for x in [0, 1e-6, 0.01, 0.5, 1, 1.7, 2, 3, 5, 10, 30, 100, 1e4]:
            value = stats.t.sf(x, df)
            if value > 0:
                add("t_sf", [df, x], value)
    for (population, successes, draws) in [(20, 7, 12), (100, 40, 30), (1000, 300, 500),
                                           (5000, 2500, 2500)]:
        for k in np.unique(np.linspace(max(0, draws + successes - population),
                                       min(successes, draws), 12).round()):
            value = stats.hypergeom.pmf(k, population, successes, draws)
            if value > 0:
                add("hypergeom_pmf", [k, population, successes, draws], value)

    write("generate_special.py", "special.json", cases)

if __name__ == "__main__":
    main()
