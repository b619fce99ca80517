"""Reference outputs for the `preprocess-select` plugin.

Run with:

    python tests/reference/generate_select.py

(a Python with numpy and scipy). Writes `select.json` next to this file. `keep` is the listed
columns in the listed order (`df[keep]`), `drop` the input without the listed columns.
"""

import numpy as np

from preprocess_cases import Cases, categorical, numeric, with_missing
from reference_file import write


def select(config: dict, reference: dict, data: dict) -> dict:
    if "keep" in config:
        return {name: data[name] for name in config["keep"]}
    return {name: column for name, column in data.items() if name not in config["drop"]}


def cases() -> list[dict]:
    out = Cases(select)
    add = out.add

    rng = np.random.default_rng(110)

    def table(rows):
        return {
            "age": numeric(with_missing(rng, rng.normal(40.0, 10.0, rows), 0.1)),
            "plan": categorical(rng, ["free", "pro"], rows, 0.1),
            "score": numeric(rng.normal(0.0, 1.0, rows)),
        }

    add("keep_reordered", {"keep": ["score", "plan"]}, table(30), table(20))
    add("drop_some", {"drop": ["age"]}, table(30), table(20))
    add("drop_absent_from_input", {"drop": ["age"]}, table(30), {"plan": ["x", None]})
    add("empty_input", {"keep": ["plan"]}, table(5), {"plan": [], "age": []})

    out.fails("kept_column_missing_from_input", {"keep": ["age", "plan"]}, table(5),
              {"plan": ["x"]}, "invalid-input", "missing from the input")
    out.fails("unknown_column", {"drop": ["height"]}, table(5), table(2), "invalid-config",
              "height")
    return out.cases


if __name__ == "__main__":
    write("generate_select.py", "select.json", cases())
