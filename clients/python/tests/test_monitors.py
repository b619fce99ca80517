"""Monitors made from a dict or a TOML file, windows evaluated by the real daemon, and their
results read back as DataFrames."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from vigil_client import VigilError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "monitors"
DEADLINE_S = 60


def wait_for(condition, what: str):
    """Polls `condition` until it returns a truthy value, failing after the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def churn(rows: int, seed: int, shift: float = 0.0, prefix: str = "r") -> pd.DataFrame:
    """Rows drawn from the example's reference; `shift` moves both numeric columns by that many
    of their standard deviations."""
    reference = pd.read_csv(EXAMPLES / "churn-reference.csv")
    drawn = reference.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    for column in ("tenure_months", "monthly_charges"):
        drawn[column] = drawn[column] + shift * reference[column].std()
    drawn["id"] = [f"{prefix}{seed}-{i}" for i in range(rows)]
    return drawn[["id", "tenure_months", "monthly_charges", "contract"]]


def test_a_monitor_from_the_toml_example_evaluates_windows_read_back_as_frames(vigil):
    vigil.create_model("churn-classifier")
    created = vigil.create_monitor(EXAMPLES / "minimal.toml")
    assert created["reference_rows"] == 200
    # Three windows of 200: one like the reference, two shifted.
    stream = pd.concat([churn(200, 10), churn(400, 11, shift=1.0)])
    vigil.send_records("churn-classifier", stream, batch_size=150, progress=False)
    wait_for(lambda: len(vigil.evaluations("churn-minimal")) >= 3, "three evaluations")
    evaluations = vigil.evaluations("churn-minimal")
    assert list(evaluations["window_end"]) == sorted(evaluations["window_end"], reverse=True)
    oldest, newest = evaluations.iloc[-1], evaluations.iloc[0]
    assert oldest["drifted_columns"] == 0, oldest["reason"]
    assert newest["drifted_columns"] >= 2, newest["reason"]
    assert newest["action"] in ("alert", "retrain")
    assert str(evaluations["finished_at"].dt.tz) == "UTC"

    columns = vigil.column_results("churn-minimal")
    assert set(columns["column"]) == {"tenure_months", "monthly_charges", "contract"}
    p_values = columns.pivot(index="evaluation_id", columns="column", values="p_value")
    assert p_values.loc[newest["id"], "monthly_charges"] < 1e-6
    assert p_values.loc[oldest["id"], "monthly_charges"] > 0.01
    tests = dict(zip(columns["column"], columns["test"]))
    assert tests == {"tenure_months": "drift-ks", "monthly_charges": "drift-ks", "contract": "drift-chi2"}

    # Paging: a limit below the page size, and since/until bounds.
    assert len(vigil.evaluations("churn-minimal", limit=2)) == 2
    after_all = evaluations["finished_at"].max() + pd.Timedelta(seconds=1)
    assert len(vigil.evaluations("churn-minimal", since=after_all)) == 0
    raw = vigil.evaluations("churn-minimal", as_frame=False)
    assert raw[0]["result"]["columns"][0]["name"] in tests


def test_a_monitor_from_a_dict_with_a_frame_as_reference(vigil):
    model = f"m-{uuid.uuid4().hex[:12]}"
    vigil.create_model(model)
    spec = {
        "name": f"{model}-watch",
        "model": model,
        "window": {"records": 100},
        "features": [
            {"name": "tenure_months", "type": "numeric"},
            {"name": "monthly_charges", "type": "numeric"},
            {"name": "contract", "type": "categorical"},
        ],
    }
    reference = churn(300, 20, prefix="ref")
    created = vigil.create_monitor(spec, reference=reference)
    assert created["reference_rows"] == 300
    assert vigil.monitor(spec["name"])["name"] == spec["name"]
    vigil.set_reference(spec["name"], churn(150, 21, prefix="ref2"))
    assert spec["name"] in [m["name"] for m in vigil.monitors()]

    # A reference the daemon refuses leaves no monitor behind.
    broken = dict(spec, name=f"{model}-broken")
    unreadable = reference.astype({"tenure_months": object})
    unreadable.loc[7, "tenure_months"] = "lots"
    with pytest.raises(VigilError) as refused:
        vigil.create_monitor(broken, reference=unreadable)
    assert refused.value.status == 422
    assert "tenure_months" in refused.value.message
    assert broken["name"] not in [m["name"] for m in vigil.monitors()]

    vigil.delete_monitor(spec["name"])
    with pytest.raises(VigilError) as gone:
        vigil.monitor(spec["name"])
    assert gone.value.status == 404
