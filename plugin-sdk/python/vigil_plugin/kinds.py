"""The four kinds of plugin, what they return, and what a policy sees.

A plugin is a class deriving from one of `DriftTest`, `Detector`, `Preprocessor` or `Policy`,
with class attributes that describe it (`name`, `version`, `description`, and `Config`, the
dataclass of its settings or `None`). `vigil plugin build` turns it into a component; the
harness in `vigil_plugin.testing` runs it under plain CPython the way the host does.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from . import config as _config
from .data import Batch, Column
from .errors import InvalidInput

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


class Plugin:
    """What every plugin class says about itself."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""
    #: The dataclass of the plugin's settings; `None` for a plugin without any.
    Config: ClassVar[Optional[type]] = None

    @classmethod
    def info(cls) -> dict[str, Any]:
        """The plugin's description of itself, as the host reads it (`plugin-info`)."""
        if not _NAME.match(cls.name):
            raise ValueError(
                f"{cls.__name__}.name must be 1-64 of a-z, 0-9, '-' and '_', got {cls.name!r}"
            )
        if not _VERSION.match(cls.version):
            raise ValueError(f"{cls.__name__}.version must be semver, got {cls.version!r}")
        return {
            "name": cls.name,
            "version": cls.version,
            "kind": cls.kind,
            "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
            "config_schema": _config.schema(cls.Config),
            "column_kinds": list(getattr(cls, "column_kinds", ())),
            "score": getattr(cls, "score", "p-value"),
        }

    @classmethod
    def parse_config(cls, text: str) -> Any:
        """The settings from the configuration's JSON text."""
        return _config.parse(cls.Config, text)


@dataclass(frozen=True)
class DriftResult:
    """The outcome of comparing a window with the reference."""

    statistic: float
    threshold: float
    drifted: bool
    p_value: Optional[float] = None

    @classmethod
    def from_p_value(cls, statistic: float, p_value: float, threshold: float) -> DriftResult:
        """A hypothesis test's result: drifted when `p_value < threshold`."""
        return cls(statistic, threshold, p_value < threshold, p_value)

    @classmethod
    def from_distance(cls, statistic: float, threshold: float) -> DriftResult:
        """A distance's result: drifted when `statistic >= threshold`."""
        return cls(statistic, threshold, statistic >= threshold)

    def check(self) -> DriftResult:
        """Refuses what the host refuses: a NaN statistic or threshold, a p-value outside
        [0, 1]."""
        if math.isnan(self.statistic) or math.isnan(self.threshold):
            raise ValueError(f"a NaN statistic or threshold: {self}")
        if self.p_value is not None and not 0.0 <= self.p_value <= 1.0:
            raise ValueError(f"a p-value outside [0, 1]: {self}")
        return self


class DriftTest(Plugin):
    """Compares a window of one column with a reference.

    `__init__(self, reference, config)` builds the test once from the reference column;
    `evaluate(self, current)` compares each window with it. Both receive a `Numeric` or
    `Categorical` column (missing values kept) and raise `InvalidInput` for data they cannot
    take."""

    kind = "drift-test"
    #: The column kinds the test takes: "numeric", "categorical" or both.
    column_kinds: ClassVar[tuple[str, ...]] = ("numeric",)
    #: How the statistic is read: "p-value" (drift below the threshold) or "distance".
    score: ClassVar[str] = "p-value"

    def __init__(self, reference: Column, config: Any) -> None:
        raise NotImplementedError

    def evaluate(self, current: Column) -> DriftResult:
        raise NotImplementedError

    @classmethod
    def accept(cls, data: Column, what: str) -> Column:
        """`data`, if the test takes its kind; `InvalidInput` otherwise."""
        if data.kind not in cls.column_kinds:
            raise InvalidInput(
                f"this test takes {' or '.join(cls.column_kinds)} columns; the {what} is "
                f"{data.kind}"
            )
        return data


class Detector(Plugin):
    """Watches a stream of numbers for change points.

    `update(self, values)` takes values in stream order (NaN is to be skipped) and returns the
    stream positions, counted from 0 over every value seen, at which change was detected.
    Between windows the host keeps `snapshot()` and resumes with `restore(snapshot, config)`;
    by default the snapshot is the instance's attributes as JSON, which fits detectors whose
    state is numbers, strings and lists of them."""

    kind = "detector"
    column_kinds: ClassVar[tuple[str, ...]] = ("numeric",)

    def __init__(self, config: Any) -> None:
        raise NotImplementedError

    def update(self, values: list[float]) -> list[int]:
        raise NotImplementedError

    def snapshot(self) -> bytes:
        return json.dumps(vars(self), sort_keys=True, default=_state).encode()

    @classmethod
    def restore(cls, snapshot: bytes, config: Any) -> Detector:
        detector = cls(config)
        state = json.loads(snapshot.decode())
        for name, value in state.items():
            setattr(detector, name, value)
        detector.config = config
        return detector


def _state(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return vars(value)
    raise TypeError(
        f"cannot snapshot a {type(value).__name__}: override snapshot() and restore()"
    )


class Preprocessor(Plugin):
    """A transformation fitted on the reference: `__init__(self, reference, config)` learns its
    parameters from the reference batch, `transform(self, batch)` maps a batch to a batch with
    the same number of rows."""

    kind = "preprocessor"

    def __init__(self, reference: Batch, config: Any) -> None:
        raise NotImplementedError

    def transform(self, batch: Batch) -> Batch:
        raise NotImplementedError


class Action(str, enum.Enum):
    """What Vigil should do."""

    NONE = "none"
    ALERT = "alert"
    RETRAIN = "retrain"
    ROLLBACK = "rollback"
    PROMOTE = "promote"


#: The most bytes of state a policy may keep; a larger state fails the decision in the host.
MAX_STATE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Decision:
    """An action, a sentence for people saying why, and what to keep for the next window.

    `state` comes back as the next window's `Context.state`; None clears it. The bytes are the
    policy's own (e.g. JSON it encodes): the host stores them and never reads them."""

    action: Action
    reason: str
    state: Optional[bytes] = None


@dataclass(frozen=True)
class ColumnResult:
    """One column's drift-test outcome in the window."""

    column: str
    test: str
    statistic: float
    drifted: bool
    p_value: Optional[float] = None
    failure: Optional[str] = None


@dataclass(frozen=True)
class Metric:
    """A model-quality figure for the window (e.g. `accuracy`), and the reference's."""

    name: str
    value: float
    reference: Optional[float] = None


@dataclass(frozen=True)
class PastWindow:
    """One of the monitor's earlier windows, as it was evaluated."""

    evaluated_at: int
    start: int
    end: int
    tested: int
    drifted: list[str] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    decided: bool = True
    action: Action = Action.NONE


@dataclass(frozen=True)
class History:
    """What happened before this window; times are seconds since the Unix epoch."""

    model_version: Optional[str] = None
    last_alert: Optional[int] = None
    last_retrain: Optional[int] = None
    windows_since_retrain: int = 0
    #: Earlier windows, newest first (at most 64).
    recent: list[PastWindow] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """Everything a policy may look at."""

    columns: list[ColumnResult]
    metrics: list[Metric] = field(default_factory=list)
    history: History = field(default_factory=History)
    now: int = 0
    #: What the policy's last decision kept (`Decision.state`); None on the first window, after
    #: a decision that kept none, and when the monitor's policy or its configuration changed.
    state: Optional[bytes] = None

    def drifted(self) -> list[str]:
        """The columns that drifted (a failed column is neither drifted nor stable)."""
        return [c.column for c in self.columns if c.drifted and c.failure is None]

    def tested(self) -> list[ColumnResult]:
        """The columns whose test ran."""
        return [c for c in self.columns if c.failure is None]


class Policy(Plugin):
    """Turns a window's results into a decision: `decide(self, context)` on an instance built
    with the settings, `__init__(self, config)`."""

    kind = "policy"

    def __init__(self, config: Any) -> None:
        self.config = config

    def decide(self, context: Context) -> Decision:
        raise NotImplementedError
