"""How the host calls each kind of plugin: one implementation, used by the component glue
(`_bridge`) and by the test harness (`testing`), so a plugin tested under CPython is called
exactly as the daemon will call it."""

from __future__ import annotations

import traceback
from dataclasses import replace
from typing import Any

from .data import Batch, Column
from .errors import PluginError
from .kinds import (
    MAX_STATE_BYTES,
    Context,
    Decision,
    Detector,
    DriftResult,
    DriftTest,
    Policy,
    Preprocessor,
)


def describe(error: BaseException) -> str:
    """An unexpected exception as the plugin's `internal` error reports it: its type, message
    and the innermost frames it was raised through (from the traceback objects themselves:
    formatting them the usual way reads source files, and a component has none)."""
    frames = [
        f"{frame.f_code.co_filename}:{line} in {frame.f_code.co_name}"
        for frame, line in traceback.walk_tb(error.__traceback__)
    ]
    return f"{type(error).__name__}: {error} (at {'; '.join(frames[-6:])})"


def _expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise PluginError(f"{what} returned {type(value).__name__}, not {kind.__name__}")
    return value


def create_test(cls: type[DriftTest], reference: Column, config: str) -> DriftTest:
    settings = cls.parse_config(config)
    return cls(cls.accept(reference, "reference"), settings)


def evaluate(test: DriftTest, current: Column) -> DriftResult:
    result = test.evaluate(type(test).accept(current, "current window"))
    return _expect(result, DriftResult, "evaluate").check()


def create_detector(cls: type[Detector], config: str) -> Detector:
    return cls(cls.parse_config(config))


def restore_detector(cls: type[Detector], snapshot: bytes, config: str) -> Detector:
    return _expect(cls.restore(snapshot, cls.parse_config(config)), cls, "restore")


def update(detector: Detector, values: list[float]) -> list[int]:
    positions = list(detector.update(values))
    for position in positions:
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise PluginError(f"update returned {position!r}: positions are integers >= 0")
    return positions


def snapshot(detector: Detector) -> bytes:
    return bytes(_expect(detector.snapshot(), (bytes, bytearray), "snapshot"))


def fit(cls: type[Preprocessor], reference: Batch, config: str) -> Preprocessor:
    return cls(reference, cls.parse_config(config))


def transform(preprocessor: Preprocessor, batch: Batch) -> Batch:
    output = _expect(preprocessor.transform(batch), Batch, "transform")
    if output.columns and output.rows != batch.rows:
        raise PluginError(f"transform returned {output.rows} rows for {batch.rows}")
    return output


def decide(cls: type[Policy], context: Context, config: str) -> Decision:
    decision = _expect(cls(cls.parse_config(config)).decide(context), Decision, "decide")
    state = decision.state
    if state is not None:
        if not isinstance(state, (bytes, bytearray)):
            raise PluginError(f"decide's state is {type(state).__name__}, not bytes")
        state = bytes(state)
        if len(state) > MAX_STATE_BYTES:
            raise PluginError(
                f"decide kept {len(state)} bytes of state; at most {MAX_STATE_BYTES} are kept"
            )
    return replace(decision, state=state)
