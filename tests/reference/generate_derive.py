"""Reference outputs for the `preprocess-derive` plugin, computed with numpy.

Run with:

    python tests/reference/generate_derive.py

(a Python with numpy and scipy). Writes `derive.json` next to this file. A ratio is
`np.divide(left, right)` with a missing value where `right` is 0; a difference and a product
are `np.subtract` and `np.multiply`. A derived column replaces an input column of its name, or
is appended.
"""

import numpy as np

from preprocess_cases import Cases, as_array, categorical, numeric, out_numeric, with_missing
from reference_file import write

OPS = {
    "ratio": lambda l, r: np.where(r == 0.0, np.nan, np.divide(l, np.where(r == 0.0, 1.0, r))),
    "difference": np.subtract,
    "product": np.multiply,
}


def derive(config: dict, reference: dict, data: dict) -> dict:
    out = dict(data)
    for column in config["columns"]:
        left, right = as_array(data[column["left"]]), as_array(data[column["right"]])
        out[column["name"]] = out_numeric(OPS[column["op"]](left, right))
    return out


def cases() -> list[dict]:
    out = Cases(derive)
    add = out.add

    rng = np.random.default_rng(120)

    def table(rows):
        return {
            "clicks": numeric(with_missing(rng, rng.poisson(3.0, rows), 0.05)),
            "views": numeric(with_missing(rng, rng.poisson(20.0, rows), 0.05)),
            "price": numeric(rng.lognormal(3.0, 1.0, rows)),
            "plan": categorical(rng, ["free", "pro"], rows),
        }

    every_op = {"columns": [
        {"name": "ctr", "op": "ratio", "left": "clicks", "right": "views"},
        {"name": "gap", "op": "difference", "left": "views", "right": "clicks"},
        {"name": "revenue", "op": "product", "left": "clicks", "right": "price"},
    ]}
    add("every_operation", every_op, table(200), table(150))

    add(
        "zero_divisors_and_missing",
        {"columns": [{"name": "r", "op": "ratio", "left": "a", "right": "b"}]},
        {"a": [1.0, 2.0], "b": [1.0, 2.0]},
        {"a": [1.0, 0.0, None, 5.0, -3.0], "b": [0.0, 0.0, 2.0, -0.0, 1e-300]},
    )

    add(
        "placeholder_replaced",
        {"columns": [{"name": "d", "op": "difference", "left": "a", "right": "b"}]},
        {"d": [None, None], "a": [1.0, 2.0], "b": [1.0, 2.0]},
        {"d": [None, None, None], "a": [1.5, 2.0, 7.0], "b": [0.5, 4.0, None]},
    )

    add("empty_input", every_op, table(5), {"clicks": [], "views": [], "price": []})

    out.fails("operand_missing_from_input", every_op, table(5), {"clicks": [1.0]},
              "invalid-input", "missing from the input")
    return out.cases


if __name__ == "__main__":
    write("generate_derive.py", "derive.json", cases())
