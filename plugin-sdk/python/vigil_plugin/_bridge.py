"""The glue between a plugin class and the bindings componentize-py generates for its world.

Only imported inside a component build (it needs the generated `wit_world` package);
`vigil plugin build` generates the entry modules that call it. Everything is imported at the
top of a module: a component holds only the modules imported while it was built.
"""

from __future__ import annotations

from typing import Any, Callable

import wit_world
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

from . import calls
from . import log as _log
from .data import Batch, Categorical, Column, Numeric
from .errors import InvalidConfig, InvalidInput
from .kinds import (
    Action,
    ColumnResult,
    Context,
    History,
    Metric,
    PastWindow,
)

_LEVELS = {
    "trace": host.Level.TRACE,
    "debug": host.Level.DEBUG,
    "info": host.Level.INFO,
    "warn": host.Level.WARN,
    "error": host.Level.ERROR,
}
_log._sink = lambda level, message: host.log(_LEVELS[level], message)


def _guarded(call: Callable[..., Any]) -> Callable[..., Any]:
    """Runs an export: the plugin's own errors become the contract's `error`, anything else
    an `internal` error naming the exception and where it was raised (also logged)."""

    def run(*args: Any) -> Any:
        try:
            return call(*args)
        except InvalidConfig as error:
            raise Err(types.Error_InvalidConfig(str(error)))
        except InvalidInput as error:
            raise Err(types.Error_InvalidInput(str(error)))
        except Err:
            raise
        except Exception as error:  # noqa: BLE001 - every failure is reported, none escapes
            message = calls.describe(error)
            host.log(host.Level.ERROR, f"panicked at {message}")
            raise Err(types.Error_Internal(message))

    return run


def _info(cls: type) -> types.PluginInfo:
    described = cls.info()
    return types.PluginInfo(
        name=described["name"],
        version=described["version"],
        kind=types.PluginKind[described["kind"].upper().replace("-", "_")],
        description=described["description"],
        config_schema=described["config_schema"],
        column_kinds=[types.ColumnKind[k.upper()] for k in described["column_kinds"]],
        score=types.ScoreKind[described["score"].upper().replace("-", "_")],
    )


def _world(cls: type) -> type:
    class WitWorld(wit_world.WitWorld):
        def info(self) -> types.PluginInfo:
            return _info(cls)

    return WitWorld


def _column_in(data: Any) -> Column:
    if isinstance(data, types.ColumnData_Numeric):
        return Numeric(data.value)
    return Categorical(data.value.categories, data.value.codes)


def _column_out(column: Column) -> Any:
    if isinstance(column, Numeric):
        return types.ColumnData_Numeric([float(v) for v in column.values])
    return types.ColumnData_Categorical(
        types.CategoricalColumn(list(column.categories), list(column.codes))
    )


def _batch_in(batch: Any) -> Batch:
    return Batch({c.name: _column_in(c.data) for c in batch.columns})


def _batch_out(batch: Batch) -> Any:
    return types.Batch([types.Column(name, _column_out(c)) for name, c in batch.columns.items()])


def drift_test(cls: type) -> tuple[type, type, type]:
    """The `drift-test-plugin` world's classes for `cls`: `WitWorld`, `DriftTest` (the
    interface) and `Test` (its resource, for the module `drift_test`)."""
    from wit_world.exports import drift_test as interface

    class Test(interface.Test):
        def __init__(self, test: Any) -> None:
            self.test = test

        @classmethod
        def create(cls_, reference: Any, config: str) -> Test:
            return cls_(_guarded(calls.create_test)(cls, _column_in(reference), config))

        def evaluate(self, current: Any) -> Any:
            result = _guarded(calls.evaluate)(self.test, _column_in(current))
            return types.DriftResult(
                result.statistic, result.p_value, result.threshold, bool(result.drifted)
            )

    class DriftTest(exports.DriftTest):
        pass

    return _world(cls), DriftTest, Test


def detector(cls: type) -> tuple[type, type, type]:
    """The `detector-plugin` world's classes for `cls`: `WitWorld`, the interface and the
    resource (for the module `detector`)."""
    from wit_world.exports import detector as interface

    class Resource(interface.Detector):
        def __init__(self, detector: Any) -> None:
            self.detector = detector

        @classmethod
        def create(cls_, config: str) -> Resource:
            return cls_(_guarded(calls.create_detector)(cls, config))

        @classmethod
        def restore(cls_, snapshot: bytes, config: str) -> Resource:
            return cls_(_guarded(calls.restore_detector)(cls, snapshot, config))

        def update(self, values: list[float]) -> list[int]:
            return _guarded(calls.update)(self.detector, values)

        def snapshot(self) -> bytes:
            return _guarded(calls.snapshot)(self.detector)

    class Interface(exports.Detector):
        pass

    return _world(cls), Interface, Resource


def preprocessor(cls: type) -> tuple[type, type, type]:
    """The `preprocessor-plugin` world's classes for `cls`: `WitWorld`, the interface and the
    resource (for the module `preprocessor`)."""
    from wit_world.exports import preprocessor as interface

    class Resource(interface.Preprocessor):
        def __init__(self, fitted: Any) -> None:
            self.fitted = fitted

        @classmethod
        def fit(cls_, reference: Any, config: str) -> Resource:
            return cls_(_guarded(calls.fit)(cls, _batch_in(reference), config))

        def transform(self, input: Any) -> Any:
            return _batch_out(_guarded(calls.transform)(self.fitted, _batch_in(input)))

    class Interface(exports.Preprocessor):
        pass

    return _world(cls), Interface, Resource


def _context_in(context: Any) -> Context:
    metrics = lambda items: [Metric(m.name, m.value, m.reference) for m in items]  # noqa: E731
    history = context.history
    return Context(
        columns=[
            ColumnResult(c.column, c.test, c.statistic, c.drifted, c.p_value, c.failure)
            for c in context.columns
        ],
        metrics=metrics(context.metrics),
        history=History(
            model_version=history.model_version,
            last_alert=history.last_alert,
            last_retrain=history.last_retrain,
            windows_since_retrain=history.windows_since_retrain,
            recent=[
                PastWindow(
                    p.evaluated_at,
                    p.start,
                    p.end,
                    p.tested,
                    list(p.drifted),
                    metrics(p.metrics),
                    p.decided,
                    Action[p.action.name],
                )
                for p in history.recent
            ],
        ),
        now=context.now,
        state=None if context.state is None else bytes(context.state),
    )


def policy(cls: type) -> tuple[type, type]:
    """The `policy-plugin` world's classes for `cls`: `WitWorld` and `Policy`."""
    from wit_world.exports import policy as interface

    class Policy(exports.Policy):
        def decide(self, context: Any, config: str) -> Any:
            decision = _guarded(calls.decide)(cls, _context_in(context), config)
            return interface.Decision(
                interface.Action[Action(decision.action).name], str(decision.reason), decision.state
            )

    return _world(cls), Policy
