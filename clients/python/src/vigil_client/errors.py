"""The one exception the client raises."""

from __future__ import annotations

from typing import Optional


class VigilError(Exception):
    """A request the daemon refused, or one that could not reach it.

    `status` is the HTTP status (None when the daemon could not be reached); `code` is the
    daemon's stable error code (`invalid`, `not_found`, `conflict`, `forbidden`, `too_large`, …, or
    `unreachable`); the message says what to change.
    """

    def __init__(self, status: Optional[int], code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}"
