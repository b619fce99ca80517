"""Reference values for drift-ks's one-sided Smirnov survival function, from
scipy.special.smirnov(n, x), over the region kstwo.sf sends there for large samples
(2.2 <= n*x^2 < 370) and sizes up to SciPy's 1e6 cut-over to its asymptotic formula.

Run with a Python that has SciPy; writes smirnov.json next to this script.
"""

import json
from pathlib import Path

import numpy as np
import scipy
from scipy import special

OUT = Path(__file__).with_name("smirnov.json")

cases = []
for n in [141, 1000, 9999, 50000, 123457, 500000, 1000000]:
    for nx2 in [2.2, 3.0, 5.0, 10.0, 31.4, 100.0, 250.0, 369.0]:
        x = float(np.sqrt(nx2 / n))
        if x >= 0.5:  # kstwo.sf takes other routes there
            continue
        cases.append({"n": n, "x": x, "sf": float(special.smirnov(n, x))})

OUT.write_text(json.dumps({"scipy": scipy.__version__, "cases": cases}, indent=1) + "\n")
print(f"{len(cases)} cases -> {OUT}")
