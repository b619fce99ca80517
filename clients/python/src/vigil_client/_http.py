"""HTTP with the daemon: bearer token, JSON errors, and retries that cannot store twice."""

from __future__ import annotations

import random
import time
from typing import Any, Mapping, Optional

import requests

from .errors import VigilError

# Statuses that mean "not processed, try again": the daemon's overload and unavailability
# answers (with Retry-After) and a proxy's.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class Transport:
    """One session to one daemon. `retries` extra attempts are made for retryable answers,
    and for connection failures of requests that are safe to repeat."""

    def __init__(
        self,
        url: str,
        token: Optional[str],
        timeout: float,
        retries: int,
        backoff: float,
        max_backoff: float,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = "vigil-client-python/0.1.0"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Optional[bytes] = None,
        params: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        repeatable: bool,
        text: bool = False,
    ) -> Any:
        """Sends a request and returns the decoded JSON answer (None for an empty one), or
        with `text` the answer's text.

        `repeatable` says whether sending the request twice stores nothing twice (a read, an
        ingestion with an idempotency key, a label upsert). Only such requests are sent again
        after a connection failure, where the daemon may have acted on the first; any request
        is sent again after 429 or 503, which the daemon answers before acting.
        """
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    self.url + path,
                    json=json,
                    data=data,
                    params={k: v for k, v in (params or {}).items() if v is not None},
                    headers=dict(headers or {}),
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if not repeatable or attempt >= self.retries:
                    raise VigilError(
                        None, "unreachable", f"{method} {self.url}{path}: {error}"
                    ) from error
                self._wait(attempt, None)
                attempt += 1
                continue
            if response.status_code in RETRYABLE_STATUSES and attempt < self.retries:
                self._wait(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            return _decode(method, path, response, text)

    def _wait(self, attempt: int, retry_after: Optional[str]) -> None:
        # Exponential backoff with full jitter, never shorter than the daemon asked for.
        delay = random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
        if retry_after is not None:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass
        time.sleep(delay)


def _decode(method: str, path: str, response: requests.Response, text: bool) -> Any:
    if response.status_code >= 400:
        code, message = "http", response.text.strip()[:500]
        try:
            error = response.json()["error"]
            code, message = error["code"], error["message"]
        except (ValueError, KeyError, TypeError):
            pass
        raise VigilError(response.status_code, code, f"{method} {path}: {message}")
    if text:
        return response.text
    if not response.content:
        return None
    return response.json()
