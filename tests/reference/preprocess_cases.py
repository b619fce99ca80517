"""What the preprocessor generators share: columns as the reference files spell them (`null`
for a missing value, labels as strings), random columns with missing values, and a case."""

import numpy as np


def numeric(values) -> list:
    """Floats rounded to six decimals, so each parses back to the same double; NaN as null."""
    return [None if np.isnan(v) else round(float(v), 6) for v in values]


def with_missing(rng, values, share):
    values = np.array(values, dtype=float)
    values[rng.random(values.size) < share] = np.nan
    return values


def categorical(rng, labels, size, share_missing=0.0) -> list:
    picked = rng.choice(labels, size=size)
    missing = rng.random(size) < share_missing
    return [None if m else str(v) for v, m in zip(picked, missing)]


def as_array(column: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in column], dtype=float)


def is_categorical(column: list) -> bool:
    return any(isinstance(v, str) for v in column)


def out_numeric(values) -> list:
    """Output values at full precision, NaN as null."""
    return [None if np.isnan(v) else float(v) for v in values]


def case(name, config, reference, data, expected) -> dict:
    for table in (reference, data):
        assert len({len(column) for column in table.values()}) <= 1, name
    return {"name": name, "config": config, "reference": reference, "input": data,
            "expected": expected}


def error(kind: str, mentions: str) -> dict:
    """An expected error: `invalid-config` or `invalid-input`, its message naming `mentions`."""
    return {"error": kind, "mentions": mentions}


def numeric_columns(config: dict, reference: dict) -> list:
    """The columns a `columns` setting lists, or every numeric column of the reference."""
    chosen = config.get("columns")
    if chosen is None:
        return [name for name, column in reference.items() if not is_categorical(column)]
    return chosen


class Cases:
    """The cases of one reference file, each output computed by `transform(config, reference,
    data)`."""

    def __init__(self, transform):
        self.transform = transform
        self.cases = []

    def add(self, name, config, reference, data, categorical=None):
        """A case; `categorical` names the columns without labels to read as categorical."""
        expected = self.transform(config, reference, data)
        self.cases.append(case(name, config, reference, data, expected))
        if categorical:
            self.cases[-1]["categorical"] = categorical

    def fails(self, name, config, reference, data, kind, mentions):
        """A case the plugin must refuse with a `kind` error naming `mentions`."""
        self.cases.append(case(name, config, reference, data, error(kind, mentions)))


def map_numeric(config: dict, reference: dict, data: dict, f) -> dict:
    """The input with each column `numeric_columns` picks replaced by `f(reference values,
    input values)` (arrays, NaN for missing); the other columns as they are."""
    chosen = numeric_columns(config, reference)
    out = {}
    for name, column in data.items():
        if name not in chosen or is_categorical(reference[name]):
            out[name] = column
        else:
            out[name] = out_numeric(f(as_array(reference[name]), as_array(column)))
    return out
