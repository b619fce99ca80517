"""The SDK's own behaviour: settings read strictly, columns encoded as the host encodes them,
and each kind of plugin called through the harness as the daemon calls it."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vigil_plugin import (  # noqa: E402
    MAX_STATE_BYTES,
    MISSING_CODE,
    Action,
    Batch,
    Categorical,
    Detector,
    DriftResult,
    Context,
    Decision,
    DriftTest,
    InvalidConfig,
    InvalidInput,
    Numeric,
    PluginError,
    Policy,
    Preprocessor,
    column,
    testing,
)
from vigil_plugin import config as settings  # noqa: E402


@dataclass
class Settings:
    threshold: float = 0.05
    bins: int = field(default=10, metadata={"doc": "How many bins"})
    label: Optional[str] = None
    columns: list[str] = field(default_factory=list)


def test_settings_are_read_strictly_and_named_in_errors():
    read = settings.parse(Settings, '{"threshold": 1, "columns": ["a"]}')
    assert read == Settings(threshold=1.0, columns=["a"]) and isinstance(read.threshold, float)
    assert settings.parse(Settings, "") == Settings()
    for text, needle in [
        ('{"treshold": 0.1}', "unknown setting(s) `treshold`; the settings are: bins, columns"),
        ('{"bins": 2.5}', "`bins` must be an integer"),
        ('{"bins": true}', "`bins` must be an integer"),
        ('{"threshold": "x"}', "`threshold` must be a number"),
        ('{"columns": [1]}', "`columns[0]` must be a string"),
        ('{"label": 3}', "`label` must be a string"),
        ("[1]", "must be a JSON object"),
        ("{", "not JSON"),
    ]:
        with pytest.raises(InvalidConfig, match=None) as error:
            settings.parse(Settings, text)
        assert needle in str(error.value), (text, str(error.value))
    assert settings.parse(Settings, '{"label": null}').label is None
    with pytest.raises(InvalidConfig, match="takes no settings"):
        settings.parse(None, '{"x": 1}')


def test_the_schema_describes_the_settings():
    schema = json.loads(settings.schema(Settings))
    assert schema["additionalProperties"] is False
    assert schema["properties"]["threshold"] == {"type": "number", "default": 0.05}
    assert schema["properties"]["bins"]["description"] == "How many bins"
    assert schema["properties"]["label"]["type"] == ["string", "null"]
    assert schema["properties"]["columns"] == {"type": "array", "items": {"type": "string"}}
    assert "required" not in schema


def test_columns_are_encoded_as_the_host_sends_them():
    numbers = column([1, None, 2.5])
    assert isinstance(numbers, Numeric) and math.isnan(numbers.values[1])
    assert numbers.present() == [1.0, 2.5]
    # Infinities are values, not missing ones, even when their sum is NaN.
    assert column([math.inf, -math.inf, None]).present() == [math.inf, -math.inf]
    complete = column([3, 1])
    kept = complete.present()
    kept.append(7.0)
    assert kept == [3.0, 1.0, 7.0] and complete.values == [3.0, 1.0]
    labels = column(["b", "a", None, "b"])
    assert isinstance(labels, Categorical)
    assert labels.categories == ["b", "a"] and labels.codes == [0, 1, MISSING_CODE, 0]
    assert labels.labels() == ["b", "a", None, "b"]
    assert labels.counts() == {"b": 2, "a": 1}
    with pytest.raises(ValueError, match="different lengths"):
        Batch.of({"x": [1, 2], "y": [1]})


class Count(DriftTest):
    """Counts the window's values."""

    name = "count"
    column_kinds = ("categorical",)
    score = "distance"

    def __init__(self, reference, config):
        self.n = len(reference)

    def evaluate(self, current):
        return DriftResult.from_distance(abs(len(current) - self.n), 1.0)


def test_a_drift_test_is_called_as_the_host_calls_it():
    result = testing.drift(Count, ["a", "b"], ["a", "b", "c"])
    assert result == DriftResult(1.0, 1.0, True, None)
    assert [r.drifted for r in testing.drift_windows(Count, ["a"], [["a"], ["a", "b"]])] == [
        False,
        True,
    ]
    with pytest.raises(InvalidInput, match="takes categorical columns; the reference is numeric"):
        testing.drift(Count, [1.0], ["a"])
    with pytest.raises(InvalidConfig, match="takes no settings"):
        testing.drift(Count, ["a"], ["a"], {"x": 1})
    assert testing.info(Count)["description"] == "Counts the window's values."


class Nan(Count):
    def evaluate(self, current):
        return DriftResult(math.nan, 1.0, False)


def test_results_the_host_would_refuse_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        testing.drift(Nan, ["a"], ["a"])


class Threshold(Detector):
    """Flags every value above the threshold, counting values across windows."""

    name = "threshold"

    @dataclass
    class Config:
        above: float = 1.0

    def __init__(self, config):
        self.config = config
        self.seen = 0

    def update(self, values):
        found = []
        for value in values:
            if not math.isnan(value) and value > self.config.above:
                found.append(self.seen)
            self.seen += 1
        return found


def test_a_detector_resumes_from_its_snapshot_between_windows():
    assert testing.detect(Threshold, [[0.0, 2.0], [math.nan, 3.0, 0.5]]) == [1, 3]
    assert testing.detect(Threshold, [[0.0, 2.0], [3.0]], {"above": 2.5}) == [2]


class Scale(Preprocessor):
    """Divides each numeric column by its reference maximum."""

    name = "scale"

    def __init__(self, reference, config):
        self.max = {n: max(c.present()) for n, c in reference.columns.items() if c.kind == "numeric"}

    def transform(self, batch):
        return Batch(
            {
                n: Numeric([v / self.max[n] for v in c.values]) if n in self.max else c
                for n, c in batch.columns.items()
            }
        )


class Shrink(Scale):
    def transform(self, batch):
        return Batch({n: Numeric(c.values[:1]) for n, c in batch.columns.items()})


def test_a_preprocessor_is_fitted_then_transforms_with_the_same_rows():
    out = testing.transform(Scale, {"x": [1.0, 4.0], "k": ["a", "b"]}, {"x": [2.0, 8.0], "k": ["b", "b"]})
    assert out["x"].values == [0.5, 2.0] and out["k"].labels() == ["b", "b"]
    with pytest.raises(PluginError, match="1 rows for 2"):
        testing.transform(Shrink, {"x": [1.0, 4.0]}, {"x": [2.0, 8.0]})


def test_an_unexpected_exception_is_described_with_where_it_was_raised():
    from vigil_plugin import calls

    def inner():
        return {}["missing"]

    try:
        inner()
    except KeyError as error:
        described = calls.describe(error)
    assert described.startswith("KeyError: 'missing' (at ")
    assert "in inner" in described and "test_sdk.py:" in described


def test_a_plugin_name_and_version_are_checked():
    class Bad(Count):
        name = "Not A Name"

    with pytest.raises(ValueError, match="name must be"):
        testing.info(Bad)


class Counter(Policy):
    """Counts drifted windows in a row in its state, as raw bytes, and retrains at two."""

    name = "counter"
    version = "1.0.0"
    description = "Retrains on the second drifted window in a row"

    @dataclass
    class Config:
        pass

    def decide(self, context: Context) -> Decision:
        run = context.state[0] if context.state else 0
        run = run + 1 if context.drifted() else 0
        action = Action.RETRAIN if run >= 2 else Action.NONE
        return Decision(action, f"{run} drifted window(s) in a row", bytes([run]) if run else None)


def test_a_policy_state_is_threaded_from_window_to_window():
    drifted, stable = testing.context(["x"]), testing.context([], ["x"])
    decisions = testing.decide(Counter, [drifted, drifted, stable, drifted, drifted])
    assert [d.action for d in decisions] == [
        Action.NONE, Action.RETRAIN, Action.NONE, Action.NONE, Action.RETRAIN
    ]
    assert [d.state for d in decisions] == [b"\x01", b"\x02", None, b"\x01", b"\x02"]
    # One window alone is given the state its context says, none by default.
    assert testing.decide(Counter, drifted).state == b"\x01"
    assert testing.decide(Counter, testing.context(["x"], state=b"\x05")).state == b"\x06"


class Hoarder(Counter):
    def decide(self, context: Context) -> Decision:
        return Decision(Action.NONE, "keeps too much", context.state)


def test_a_state_that_is_not_bytes_or_too_large_is_refused():
    with pytest.raises(PluginError, match=f"at most {MAX_STATE_BYTES}"):
        testing.decide(Hoarder, testing.context(state=bytes(MAX_STATE_BYTES + 1)))
    assert testing.decide(Hoarder, testing.context(state=bytes(MAX_STATE_BYTES))).state
    with pytest.raises(PluginError, match="state is str, not bytes"):
        testing.decide(Hoarder, testing.context(state="text"))
