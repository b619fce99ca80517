"""The plain-scipy way to do what `vigil drift` does: KS per numeric column, chi-square per
categorical column, same missing-value rules. Prints the number of drifted columns."""
import sys

import numpy as np
import pandas as pd
from scipy import stats

MISSING = ["", "NA", "NaN", "nan"]
reference = pd.read_csv(sys.argv[1], na_values=MISSING, keep_default_na=False)
current = pd.read_csv(sys.argv[2], na_values=MISSING, keep_default_na=False)
drifted = 0
for name in reference.columns:
    r, c = reference[name].dropna(), current[name].dropna()
    if pd.api.types.is_numeric_dtype(r) and pd.api.types.is_numeric_dtype(c):
        p = stats.ks_2samp(r.to_numpy(), c.to_numpy(), method="auto").pvalue
    else:
        counts = pd.concat([r.value_counts(), c.value_counts()], axis=1).fillna(0).to_numpy().T
        p = stats.chi2_contingency(counts, correction=False).pvalue
    drifted += p < 0.05
print(drifted)
