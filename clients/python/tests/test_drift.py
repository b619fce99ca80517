"""`drift()` runs `vigil drift` on two DataFrames and reports what the command reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vigil_client import VigilError, drift


def frames():
    rng = np.random.default_rng(7)
    reference = pd.DataFrame(
        {
            "steady": rng.normal(0, 1, 2000),
            "moved": rng.normal(0, 1, 2000),
            # Numbers as text: a category by its dtype, not a number.
            "zip": rng.choice(["01001", "02002", "03003"], 2000),
        }
    )
    current = pd.DataFrame(
        {
            "steady": rng.normal(0, 1, 1500),
            "moved": rng.normal(0.5, 1, 1500),
            "zip": rng.choice(["01001", "02002", "03003"], 1500, p=[0.1, 0.1, 0.8]),
        }
    )
    current.loc[::10, "steady"] = np.nan
    return reference, current


def test_the_report_has_every_column_with_its_test_and_verdict():
    reference, current = frames()
    report = drift(reference, current)
    assert (report.reference_rows, report.current_rows) == (2000, 1500)
    columns = report.columns.set_index("name")
    assert columns.loc["moved", "drifted"] and columns.loc["moved", "test"] == "ks"
    assert not columns.loc["steady", "drifted"]
    assert columns.loc["steady", "missing_current"] == 150
    assert columns.loc["zip", "kind"] == "categorical" and columns.loc["zip", "test"] == "chi2"
    assert report.drifted_columns == 2 and report.dataset_drift
    assert report.drift_share == 0.5  # the share at which the dataset drifts


def test_options_reach_the_command():
    reference, current = frames()
    report = drift(
        reference,
        current,
        num_test="wasserstein_norm",
        column_test={"steady": "cvm"},
        config={"wasserstein_norm": {"threshold": 0.3}},
    )
    columns = report.columns.set_index("name")
    assert columns.loc["moved", "test"] == "wasserstein_norm"
    assert columns.loc["moved", "threshold"] == 0.3
    assert columns.loc["steady", "test"] == "cvm"


def test_a_refused_option_raises_with_the_commands_message():
    reference, current = frames()
    with pytest.raises(VigilError, match="no-such-test"):
        drift(reference, current, num_test="no-such-test")
    with pytest.raises(VigilError, match="column"):
        drift(reference, current.drop(columns="zip"))
