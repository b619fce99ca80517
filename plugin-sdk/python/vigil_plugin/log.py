"""Logging through the host: records go to the daemon's log, tagged with the plugin's name
(capped in size and count per call). Under plain CPython (tests) they go to the `logging`
module's `vigil_plugin` logger."""

from __future__ import annotations

import logging
from typing import Callable, Optional

# Set by the component glue to the host's `log` import.
_sink: Optional[Callable[[str, str], None]] = None
_logger = logging.getLogger("vigil_plugin")
_LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def _emit(level: str, message: str) -> None:
    if _sink is not None:
        _sink(level, str(message))
    else:
        _logger.log(_LEVELS[level], "%s", message)


def trace(message: str) -> None:
    _emit("trace", message)


def debug(message: str) -> None:
    _emit("debug", message)


def info(message: str) -> None:
    _emit("info", message)


def warn(message: str) -> None:
    _emit("warn", message)


def error(message: str) -> None:
    _emit("error", message)
