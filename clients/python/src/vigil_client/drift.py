"""`drift`: `vigil drift` on two DataFrames, with the same tests and numbers as the command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import _bodies
from .errors import VigilError


@dataclass
class DriftReport:
    """What `vigil drift --format json` reports, with the columns as a DataFrame (one row per
    column: name, kind, test, plugin, statistic, p_value, threshold, drifted,
    missing_reference, missing_current, error). `drift_share` is the share of drifted columns at
    which the dataset drifts (the `drift_share` argument, 0.5 by default)."""

    reference_rows: int
    current_rows: int
    drifted_columns: int
    failed_columns: int
    drift_share: float
    dataset_drift: bool
    columns: Any
    raw: Dict[str, Any]


def drift(
    reference: Any,
    current: Any,
    *,
    num_test: Optional[str] = None,
    cat_test: Optional[str] = None,
    column_test: Optional[Mapping[str, str]] = None,
    config: Optional[Mapping[str, Any]] = None,
    threshold: Optional[float] = None,
    drift_share: Optional[float] = None,
    categorical: Optional[Sequence[str]] = None,
    plugins: Optional[os.PathLike] = None,
    vigil: Optional[str] = None,
) -> DriftReport:
    """Compares two DataFrames column by column with the `vigil` binary (`vigil`, the binary
    named by `$VIGIL_BIN`, or the one on PATH) and returns its report.

    Column types come from the frames: object, string, category and bool columns are compared
    as categories (passed as `--categorical`) even where their values look like numbers, as
    are the columns named in `categorical`. The other arguments are `vigil drift`'s options
    (`config` maps a test's name to its settings). A file or option the command refuses raises
    `VigilError` with its message.
    """
    if not (_bodies.is_frame(reference) and _bodies.is_frame(current)):
        raise TypeError("drift() compares two pandas DataFrames")
    binary = vigil or os.environ.get("VIGIL_BIN") or shutil.which("vigil")
    if not binary:
        raise VigilError(None, "invalid", "no `vigil` binary: put it on PATH or set VIGIL_BIN")
    forced = set(categorical or []) | _categorical_columns(reference) | _categorical_columns(current)
    with tempfile.TemporaryDirectory(prefix="vigil-drift-") as directory:
        reference_path = Path(directory) / "reference.csv"
        current_path = Path(directory) / "current.csv"
        reference_path.write_text(_bodies.frame_csv(reference))
        current_path.write_text(_bodies.frame_csv(current))
        command: List[str] = [
            str(binary),
            "drift",
            "--reference",
            str(reference_path),
            "--current",
            str(current_path),
            "--format",
            "json",
        ]
        if forced:
            command += ["--categorical", ",".join(sorted(forced))]
        if num_test:
            command += ["--num-test", num_test]
        if cat_test:
            command += ["--cat-test", cat_test]
        for column, test in (column_test or {}).items():
            command += ["--column-test", f"{column}={test}"]
        for test, settings in (config or {}).items():
            command += ["--config", f"{test}={json.dumps(settings)}"]
        if threshold is not None:
            command += ["--threshold", repr(float(threshold))]
        if drift_share is not None:
            command += ["--drift-share", repr(float(drift_share))]
        if plugins is not None:
            command += ["--plugins", str(plugins)]
        run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        message = run.stderr.strip() or f"`vigil drift` exited with {run.returncode}"
        raise VigilError(None, "invalid", message)
    raw = json.loads(run.stdout)
    import pandas as pd

    columns = pd.DataFrame(raw["columns"])
    return DriftReport(
        reference_rows=raw["reference_rows"],
        current_rows=raw["current_rows"],
        drifted_columns=raw["drifted_columns"],
        failed_columns=raw["failed_columns"],
        drift_share=raw["drift_share"],
        dataset_drift=raw["dataset_drift"],
        columns=columns,
        raw=raw,
    )


def _categorical_columns(frame: Any) -> set:
    import pandas as pd

    return {
        str(name)
        for name, dtype in frame.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
    }
