"""Evidently's data-drift preset on the same files (its own test choice per column)."""
import sys

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

MISSING = ["", "NA", "NaN", "nan"]
reference = pd.read_csv(sys.argv[1], na_values=MISSING, keep_default_na=False)
current = pd.read_csv(sys.argv[2], na_values=MISSING, keep_default_na=False)
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
result = snapshot.dict()
print(len(result.get("metrics", [])))
