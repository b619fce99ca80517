"""Runs a plugin class under plain CPython with the inputs the host would pass: the
configuration as JSON text, columns with missing values kept (NaN, or `MISSING_CODE` for a
category), detectors snapshotted and restored between windows, results checked as the host
checks them. A plugin that passes here behaves the same in the daemon.

    from vigil_plugin import testing
    result = testing.drift(MyTest, reference=[1.0, 2.0, 3.0], current=[7.0, 8.0, 9.0])
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Iterable

from . import calls
from .data import Batch, Column, column
from .kinds import (
    Action,
    ColumnResult,
    Context,
    Decision,
    Detector,
    DriftResult,
    DriftTest,
    History,
    Policy,
    Preprocessor,
)


def _config_text(config: dict | str | None) -> str:
    if config is None:
        return "{}"
    return config if isinstance(config, str) else json.dumps(config)


def info(cls: type) -> dict[str, Any]:
    """The plugin's `info`, as the host reads it (and checks it)."""
    description = cls.info()
    json.loads(description["config_schema"])
    return description


def drift(
    cls: type[DriftTest],
    reference: Column | Iterable,
    current: Column | Iterable,
    config: dict | str | None = None,
) -> DriftResult:
    """Builds the test from `reference` and evaluates `current`."""
    info(cls)
    test = calls.create_test(cls, column(reference), _config_text(config))
    return calls.evaluate(test, column(current))


def drift_windows(
    cls: type[DriftTest],
    reference: Column | Iterable,
    windows: Iterable[Column | Iterable],
    config: dict | str | None = None,
) -> list[DriftResult]:
    """Builds the test once and evaluates each window with it, as a monitor does."""
    info(cls)
    test = calls.create_test(cls, column(reference), _config_text(config))
    return [calls.evaluate(test, column(window)) for window in windows]


def detect(
    cls: type[Detector],
    windows: Iterable[Iterable[float]],
    config: dict | str | None = None,
) -> list[int]:
    """Feeds each window's values to the detector, taking a snapshot after each window and
    resuming from it for the next, as the host does; the positions detected."""
    info(cls)
    text = _config_text(config)
    positions: list[int] = []
    saved = None
    for window in windows:
        detector = (
            calls.create_detector(cls, text)
            if saved is None
            else calls.restore_detector(cls, saved, text)
        )
        positions += calls.update(detector, [float(v) for v in window])
        saved = calls.snapshot(detector)
    return positions


def transform(
    cls: type[Preprocessor],
    reference: Batch | dict,
    batch: Batch | dict,
    config: dict | str | None = None,
) -> Batch:
    """Fits the preprocessor on `reference` and transforms `batch`."""
    info(cls)
    as_batch = lambda b: b if isinstance(b, Batch) else Batch.of(b)  # noqa: E731
    preprocessor = calls.fit(cls, as_batch(reference), _config_text(config))
    return calls.transform(preprocessor, as_batch(batch))


def context(
    drifted: Iterable[str] = (),
    stable: Iterable[str] = (),
    *,
    now: int = 1_700_000_000,
    history: History | None = None,
    metrics: Iterable = (),
    state: bytes | None = None,
) -> Context:
    """A policy's context: the `drifted` and `stable` columns (tested with `ks`), at `now`,
    given `state`."""
    columns = [ColumnResult(c, "drift-ks", 0.5, True, 0.001) for c in drifted]
    columns += [ColumnResult(c, "drift-ks", 0.01, False, 0.8) for c in stable]
    return Context(columns, list(metrics), history or History(), now, state)


def decide(
    cls: type[Policy],
    context: Context | Iterable[Context],
    config: dict | str | None = None,
) -> Decision | list[Decision]:
    """The policy's decision on `context`. Given several contexts (one per window, in order),
    decides each as a monitor does, giving each window the state the decision before kept, and
    returns every decision."""
    info(cls)
    if isinstance(context, Context):
        return _decide(cls, context, _config_text(config))
    decisions: list[Decision] = []
    for window in context:
        if decisions:
            window = replace(window, state=decisions[-1].state)
        decisions.append(_decide(cls, window, _config_text(config)))
    return decisions


def _decide(cls: type[Policy], context: Context, config: str) -> Decision:
    decision = calls.decide(cls, context, config)
    return replace(decision, action=Action(decision.action))
