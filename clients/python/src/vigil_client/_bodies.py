"""Turning DataFrames and lists of dicts into the request bodies the daemon reads.

A DataFrame travels as CSV, the daemon's most compact format: the columns `id`, `timestamp`,
`model_version`, `prediction` and `proba_CLASS` have their record meaning and every other
column is a feature; an empty cell is a missing value. A list of dicts travels as NDJSON, one
record per line, each either in the API's shape (`{"id", "features": {…}, …}`) or flat like a
DataFrame row.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any, Dict, Iterator, List, Mapping, Sequence, Tuple

RECORD_FIELDS = ("id", "timestamp", "model_version", "prediction")
PROBABILITY_PREFIX = "proba_"

CSV = "text/csv"
NDJSON = "application/x-ndjson"


def is_frame(data: Any) -> bool:
    """Whether `data` is a pandas DataFrame, without importing pandas when it is not."""
    module = type(data).__module__
    return module.startswith("pandas") and type(data).__name__ == "DataFrame"


def frame_batches(frame: Any, batch_size: int) -> Iterator[Tuple[int, bytes]]:
    """`(rows, CSV body)` for each `batch_size` rows of `frame`, each with the header."""
    frame = _with_rfc3339_timestamps(frame)
    for start in range(0, len(frame), batch_size):
        part = frame.iloc[start : start + batch_size]
        yield len(part), part.to_csv(index=False, lineterminator="\n").encode()


def _with_rfc3339_timestamps(frame: Any) -> Any:
    """A `timestamp` column of datetimes written as RFC 3339 in UTC (naive ones taken as UTC),
    which the daemon reads; pandas' own CSV form (`2026-01-01 00:00:00`) it would refuse."""
    import pandas as pd

    if "timestamp" not in frame.columns:
        return frame
    column = frame["timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(column):
        return frame
    if column.dt.tz is None:
        column = column.dt.tz_localize("UTC")
    text = column.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frame = frame.copy()
    frame["timestamp"] = text.where(column.notna(), None)
    return frame


def record_of(row: Mapping[str, Any]) -> Dict[str, Any]:
    """A record in the API's shape from a dict that is either in that shape or flat."""
    if "features" in row:
        return {key: _json_value(value) for key, value in row.items()}
    record: Dict[str, Any] = {"features": {}}
    probabilities: Dict[str, Any] = {}
    for key, value in row.items():
        value = _json_value(value)
        if key in RECORD_FIELDS:
            record[key] = value
        elif key.startswith(PROBABILITY_PREFIX) and len(key) > len(PROBABILITY_PREFIX):
            probabilities[key[len(PROBABILITY_PREFIX) :]] = value
        else:
            record["features"][key] = value
    if probabilities:
        record["probabilities"] = probabilities
    return record


def _json_value(value: Any) -> Any:
    # NaN is a missing value to a data scientist and invalid JSON to the daemon.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _json_value(value.item())  # NumPy scalars
    return value


def ndjson_batches(
    rows: Sequence[Mapping[str, Any]], batch_size: int, convert: Any
) -> Iterator[Tuple[int, bytes]]:
    """`(rows, NDJSON body)` for each `batch_size` rows, each row passed through `convert`."""
    for start in range(0, len(rows), batch_size):
        part = rows[start : start + batch_size]
        body = "".join(json.dumps(convert(row), allow_nan=False) + "\n" for row in part)
        yield len(part), body.encode()


def label_rows(labels: Any) -> Tuple[str, List[Any]]:
    """The labels as `(content type, rows)`: a DataFrame with `id` and `label` columns (any
    others are refused), a dict `{id: label}`, or a list of `{"id", "label"}` dicts."""
    if is_frame(labels):
        extra = sorted(set(labels.columns) - {"id", "label"})
        missing = sorted({"id", "label"} - set(labels.columns))
        if missing or extra:
            raise ValueError(
                "a labels DataFrame has exactly the columns `id` and `label`"
                + (f"; missing {missing}" if missing else "")
                + (f"; also has {extra}" if extra else "")
            )
        return CSV, [labels[["id", "label"]]]
    if isinstance(labels, Mapping):
        return NDJSON, [{"id": str(k), "label": _json_value(v)} for k, v in labels.items()]
    rows = list(labels)
    for row in rows:
        if not isinstance(row, Mapping) or set(row) != {"id", "label"}:
            raise ValueError(f"each label is a dict with exactly `id` and `label`, got {row!r}")
    return NDJSON, [{"id": r["id"], "label": _json_value(r["label"])} for r in rows]


def frame_csv(frame: Any) -> str:
    """A whole DataFrame as CSV text (reference uploads)."""
    buffer = io.StringIO()
    _with_rfc3339_timestamps(frame).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()
