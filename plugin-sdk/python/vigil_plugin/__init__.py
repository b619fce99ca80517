"""Write Vigil plugins in Python: drift tests, streaming detectors, preprocessors and
retraining policies, built into WebAssembly components by `vigil plugin build` and run by the
daemon in its sandbox. See README.md."""

from . import log, testing
from .data import MISSING_CODE, Batch, Categorical, Column, Numeric, column
from .errors import InvalidConfig, InvalidInput, PluginError
from .kinds import (
    MAX_STATE_BYTES,
    Action,
    ColumnResult,
    Context,
    Decision,
    Detector,
    DriftResult,
    DriftTest,
    History,
    Metric,
    PastWindow,
    Policy,
    Preprocessor,
)

__all__ = [
    "Action",
    "Batch",
    "Categorical",
    "Column",
    "ColumnResult",
    "Context",
    "Decision",
    "Detector",
    "DriftResult",
    "DriftTest",
    "History",
    "InvalidConfig",
    "InvalidInput",
    "MAX_STATE_BYTES",
    "MISSING_CODE",
    "Metric",
    "Numeric",
    "PastWindow",
    "PluginError",
    "Policy",
    "Preprocessor",
    "column",
    "log",
    "testing",
]
