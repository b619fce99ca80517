"""Reference outputs for the `preprocess-onehot` plugin, computed with scikit-learn's
OneHotEncoder.

Run with:

    python tests/reference/generate_onehot.py

(a Python with numpy, scipy and scikit-learn). Writes `onehot.json` next to this file. Each
encoded column is fitted on the reference's non-missing labels (`categories_` sorted), the
input's non-missing rows encoded with `handle_unknown` "error" or "ignore"; a missing row is
missing in every indicator column. Indicators follow their source, named NAME=LABEL.
"""

import numpy as np
import sklearn
from sklearn.preprocessing import OneHotEncoder

from preprocess_cases import Cases, categorical, is_categorical, numeric
from reference_file import write


def onehot(config: dict, reference: dict, data: dict) -> dict:
    chosen = config.get("columns")
    if chosen is None:
        chosen = [name for name, column in reference.items() if is_categorical(column)]
    separator = config.get("separator", "=")
    out = {}
    for name, column in data.items():
        if name not in chosen:
            out[name] = column
            continue
        if config.get("keep_source", True):
            out[name] = column
        ref = np.array([v for v in reference[name] if v is not None], dtype=object)
        encoder = OneHotEncoder(handle_unknown=config.get("unseen", "error"),
                                sparse_output=False)
        encoder.fit(ref.reshape(-1, 1))
        present = [v for v in column if v is not None]
        rows = iter(encoder.transform(np.array(present, dtype=object).reshape(-1, 1))
                    if present else [])
        encoded = [None if v is None else next(rows) for v in column]
        for i, label in enumerate(encoder.categories_[0]):
            out[f"{name}{separator}{label}"] = [None if r is None else float(r[i])
                                                for r in encoded]
    return out


def cases() -> list[dict]:
    out = Cases(onehot)
    add = out.add

    rng = np.random.default_rng(90)
    add(
        "all_categorical_columns",
        {},
        {
            "region": categorical(rng, ["north", "south", "east", "west"], 300, 0.05),
            "plan": categorical(rng, ["pro", "free", "Team", "é"], 300),
            "score": numeric(rng.normal(0.0, 1.0, 300)),
        },
        {
            "plan": categorical(rng, ["free", "pro"], 100, 0.1),
            "score": numeric(rng.normal(0.0, 1.0, 100)),
            "region": categorical(rng, ["north", "east"], 100, 0.1),
        },
    )

    rng = np.random.default_rng(91)
    add(
        "unseen_ignored_source_dropped",
        {"unseen": "ignore", "keep_source": False, "columns": ["region"], "separator": "_"},
        {"region": categorical(rng, ["north", "south"], 50), "plan": categorical(rng, ["a"], 50)},
        {"region": categorical(rng, ["north", "south", "mars"], 40, 0.1),
         "plan": categorical(rng, ["a", "b"], 40)},
    )

    add("constant_column", {}, {"c": ["only"] * 5}, {"c": ["only", None, "only"]})
    add("empty_input", {}, {"c": ["x", "y"]}, {"c": []})

    out.fails("unseen_label", {}, {"c": ["x", "y"]}, {"c": ["x", "z"]},
              "invalid-input", "`z` at row 1")
    out.fails("listed_column_missing_from_input", {"columns": ["c"]},
              {"c": ["x"], "d": ["y"]}, {"d": ["y"]}, "invalid-input", "missing from the input")
    return out.cases


if __name__ == "__main__":
    write("generate_onehot.py", "onehot.json", cases(),
          extra_versions={"scikit-learn": sklearn.__version__})
