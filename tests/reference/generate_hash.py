"""Reference outputs for the `preprocess-hash` plugin, computed with scikit-learn's
FeatureHasher.

Run with:

    python tests/reference/generate_hash.py

(a Python with numpy, scipy and scikit-learn). Writes `hash.json` next to this file. Each
hashed column's non-missing rows go through `FeatureHasher(n_features, input_type="string",
alternate_sign=...)`, one label per row; a missing row is missing in every hashed column. The
columns follow their source, named NAME#0 … NAME#(n-1).
"""

import numpy as np
import sklearn
from sklearn.feature_extraction import FeatureHasher

from preprocess_cases import Cases, categorical, is_categorical, numeric
from reference_file import write


def hash_(config: dict, reference: dict, data: dict) -> dict:
    chosen = config.get("columns")
    if chosen is None:
        chosen = [name for name, column in reference.items() if is_categorical(column)]
    n = config.get("n_features", 16)
    hasher = FeatureHasher(n_features=n, input_type="string",
                           alternate_sign=config.get("alternate_sign", True))
    out = {}
    for name, column in data.items():
        if name not in chosen:
            out[name] = column
            continue
        if config.get("keep_source", True):
            out[name] = column
        present = [[v] for v in column if v is not None]
        rows = iter(hasher.transform(present).toarray() if present else [])
        encoded = [None if v is None else next(rows) for v in column]
        for i in range(n):
            out[f"{name}#{i}"] = [None if r is None else float(r[i]) for r in encoded]
    return out


def cases() -> list[dict]:
    out = Cases(hash_)
    add = out.add

    rng = np.random.default_rng(100)
    labels = [f"user-{i}" for i in range(40)] + ["é", "日本", ""]
    add(
        "default_sixteen_columns",
        {},
        {"who": categorical(rng, labels[:30], 200, 0.05), "n": numeric(rng.normal(0, 1, 200))},
        {"who": categorical(rng, labels, 120, 0.1), "n": numeric(rng.normal(0, 1, 120))},
    )

    rng = np.random.default_rng(101)
    add(
        "few_columns_collide_unsigned",
        {"n_features": 3, "alternate_sign": False, "keep_source": False},
        {"c": categorical(rng, ["a", "b", "c", "d", "e"], 50)},
        {"c": categorical(rng, ["a", "b", "c", "d", "e", "f"], 30, 0.1)},
    )

    add("empty_input", {"n_features": 2}, {"c": ["x"]}, {"c": []})

    out.fails("listed_column_missing_from_input", {"columns": ["c"]},
              {"c": ["x"], "d": ["y"]}, {"d": ["y"]}, "invalid-input", "missing from the input")
    return out.cases


if __name__ == "__main__":
    write("generate_hash.py", "hash.json", cases(),
          extra_versions={"scikit-learn": sklearn.__version__})
