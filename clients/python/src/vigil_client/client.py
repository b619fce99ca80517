"""`Client`: Vigil's HTTP API for Python users."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from . import _bodies
from ._http import Transport
from .errors import VigilError

DEFAULT_URL = "http://127.0.0.1:8080"


class Client:
    """A client of one Vigil daemon.

    `url` and `token` default to `$VIGIL_URL` and `$VIGIL_TOKEN`, as for the `vigil` CLI.
    Requests that are refused with 429 or 503 (the daemon is busy or its database is away) are
    sent again up to `retries` times, after the daemon's `Retry-After` or an exponential backoff
    with jitter (`backoff` seconds doubled per attempt, at most `max_backoff`), whichever is
    longer; so are reads and ingestion requests whose connection failed, since sending them
    twice stores nothing twice.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.url = url or os.environ.get("VIGIL_URL") or DEFAULT_URL
        self._http = Transport(
            self.url,
            token if token is not None else os.environ.get("VIGIL_TOKEN"),
            timeout,
            retries,
            backoff,
            max_backoff,
        )

    # Models -----------------------------------------------------------------------------

    def create_model(
        self, name: str, task: str = "classification", description: str = ""
    ) -> Dict[str, Any]:
        """Creates a model (`task` is `classification` or `regression`)."""
        body = {"name": name, "task": task, "description": description}
        return self._http.request("POST", "/v1/models", json=body, repeatable=False)

    def models(self) -> List[Dict[str, Any]]:
        return self._http.request("GET", "/v1/models", repeatable=True)["models"]

    def model(self, name: str) -> Dict[str, Any]:
        return self._http.request("GET", f"/v1/models/{_segment(name)}", repeatable=True)

    # Records and labels -----------------------------------------------------------------

    def send_records(
        self,
        model: str,
        records: Any,
        *,
        batch_size: int = 5000,
        progress: Optional[bool] = None,
    ) -> Dict[str, int]:
        """Sends inference records to `model` and returns the daemon's counts summed over the
        batches (`accepted`, `duplicates`, …).

        `records` is a pandas DataFrame (columns `id`, `timestamp`, `model_version`,
        `prediction`, `proba_CLASS`, and every other column a feature; NaN is missing) or a list
        of dicts, either flat like a DataFrame's rows or in the API's shape
        (`{"id", "features": {…}, "prediction", "probabilities": {…}}`).

        Each batch carries an idempotency key derived from its content, so a batch sent again
        after a lost answer is stored once; records whose `id` is stored already are skipped.
        Give records ids to send the same rows again on purpose: a batch without ids that
        repeats an earlier one byte for byte gets the earlier answer. `progress` shows a bar
        (tqdm); by default it does for more than one batch on a terminal.
        """
        if _bodies.is_frame(records):
            content_type = _bodies.CSV
            batches = _bodies.frame_batches(records, batch_size)
            total = len(records)
        else:
            rows = list(records)
            content_type = _bodies.NDJSON
            batches = _bodies.ndjson_batches(rows, batch_size, _bodies.record_of)
            total = len(rows)
        return self._send_batches(
            f"/v1/models/{_segment(model)}/records",
            content_type,
            batches,
            total,
            batch_size,
            progress,
            keyed=True,
        )

    def send_labels(
        self,
        model: str,
        labels: Any,
        *,
        batch_size: int = 5000,
        progress: Optional[bool] = None,
    ) -> Dict[str, int]:
        """Sends true labels: a DataFrame with columns `id` and `label`, a dict `{id: label}`,
        or a list of `{"id", "label"}` dicts. A label sent again replaces the stored one, so
        batches are safe to send twice."""
        content_type, rows = _bodies.label_rows(labels)
        if content_type == _bodies.CSV:
            frame = rows[0]
            batches = _bodies.frame_batches(frame, batch_size)
            total = len(frame)
        else:
            batches = _bodies.ndjson_batches(rows, batch_size, lambda row: row)
            total = len(rows)
        return self._send_batches(
            f"/v1/models/{_segment(model)}/labels",
            content_type,
            batches,
            total,
            batch_size,
            progress,
            keyed=False,
        )

    def _send_batches(
        self,
        path: str,
        content_type: str,
        batches: Iterator[Tuple[int, bytes]],
        total: int,
        batch_size: int,
        progress: Optional[bool],
        keyed: bool,
    ) -> Dict[str, int]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if total == 0:
            raise ValueError("nothing to send: no rows")
        show = progress if progress is not None else (total > batch_size and sys.stderr.isatty())
        bar = _progress_bar(total) if show else None
        totals: Dict[str, int] = {}
        try:
            for rows, body in batches:
                headers = {"Content-Type": content_type}
                if keyed:
                    headers["Idempotency-Key"] = hashlib.sha256(body).hexdigest()
                answer = self._http.request(
                    "POST", path, data=body, headers=headers, repeatable=True
                )
                for name, value in (answer or {}).items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        totals[name] = totals.get(name, 0) + value
                if bar is not None:
                    bar.update(rows)
        finally:
            if bar is not None:
                bar.close()
        return totals

    def records(
        self,
        model: str,
        *,
        start: Optional[int] = None,
        end: Optional[int] = None,
        labeled: bool = False,
        as_frame: bool = True,
    ) -> Any:
        """The model's records at stream offsets `start` (default 0) to `end` (default: the
        end of the stream, at most a million), with their labels, as retraining runs read them
        (docs/retraining.md): a DataFrame with one column per feature and `id`, `timestamp`,
        `model_version`, `prediction`, `proba_CLASS` and `label`, or with `as_frame=False` the
        records in the API's shape. `labeled` keeps only records that have a label."""
        text = self._http.request(
            "GET",
            f"/v1/models/{_segment(model)}/records",
            params={"start": start, "end": end, "labeled": str(labeled).lower(), "format": "ndjson"},
            repeatable=True,
            text=True,
        )
        found = [json.loads(line) for line in text.splitlines() if line.strip()]
        if not as_frame:
            return found
        pd = _pandas()
        rows = []
        for record in found:
            row = {key: value for key, value in record.items() if key not in ("features", "probabilities")}
            row.update(record.get("features") or {})
            for name, p in (record.get("probabilities") or {}).items():
                row[f"{_bodies.PROBABILITY_PREFIX}{name}"] = p
            rows.append(row)
        frame = pd.DataFrame(rows)
        if "timestamp" in frame.columns:
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame

    # Monitors ---------------------------------------------------------------------------

    def create_monitor(
        self, spec: Union[Mapping[str, Any], str, os.PathLike], reference: Any = None
    ) -> Dict[str, Any]:
        """Creates a monitor from its spec (a dict as in docs/monitors.md, or the path of a
        TOML file like those in examples/monitors, whose `reference_file` is read as the CLI
        reads it) and, when given, its reference rows (a DataFrame), in one request: a
        reference the daemon refuses leaves no monitor behind."""
        body = _monitor_body(spec, reference)
        return self._http.request("POST", "/v1/monitors", json=body, repeatable=False)

    def update_monitor(
        self, spec: Union[Mapping[str, Any], str, os.PathLike], reference: Any = None
    ) -> Dict[str, Any]:
        """Replaces a monitor's spec (and, when given, its reference rows)."""
        body = _monitor_body(spec, reference)
        name = _segment(body["name"])
        return self._http.request("PUT", f"/v1/monitors/{name}", json=body, repeatable=True)

    def set_reference(self, monitor: str, reference: Any) -> Dict[str, Any]:
        """Uploads a monitor's reference rows (a DataFrame), replacing the previous ones."""
        if not _bodies.is_frame(reference):
            raise TypeError("the reference is a pandas DataFrame")
        return self._http.request(
            "PUT",
            f"/v1/monitors/{_segment(monitor)}/reference",
            data=_bodies.frame_csv(reference).encode(),
            headers={"Content-Type": _bodies.CSV},
            repeatable=True,
        )

    def monitors(self) -> List[Dict[str, Any]]:
        return self._http.request("GET", "/v1/monitors", repeatable=True)["monitors"]

    def monitor(self, name: str) -> Dict[str, Any]:
        return self._http.request("GET", f"/v1/monitors/{_segment(name)}", repeatable=True)

    def delete_monitor(self, name: str) -> None:
        self._http.request("DELETE", f"/v1/monitors/{_segment(name)}", repeatable=True)

    # Shadows: a candidate plugin version run beside the pinned one (docs/monitors.md) ------

    def start_shadow(
        self,
        monitor: str,
        plugin: str,
        *,
        replaces: Optional[str] = None,
        config: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Runs `plugin` (`name@version`, or `name` for its newest) in shadow on `monitor`."""
        body: Dict[str, Any] = {"plugin": plugin}
        if replaces is not None:
            body["replaces"] = replaces
        if config is not None:
            body["config"] = config
        path = f"/v1/monitors/{_segment(monitor)}/shadows"
        return self._http.request("POST", path, json=body, repeatable=False)

    def shadows(self, monitor: str) -> List[Dict[str, Any]]:
        path = f"/v1/monitors/{_segment(monitor)}/shadows"
        return self._http.request("GET", path, repeatable=True)["shadows"]

    def shadow(
        self, monitor: str, shadow_id: int, *, before: Optional[int] = None, limit: int = 50
    ) -> Dict[str, Any]:
        """The shadow, its summary and a page of its windows compared, newest first."""
        path = f"/v1/monitors/{_segment(monitor)}/shadows/{int(shadow_id)}"
        params = {"limit": limit, "before": before}
        return self._http.request("GET", path, params=params, repeatable=True)

    def promote_shadow(self, monitor: str, shadow_id: int) -> Dict[str, Any]:
        path = f"/v1/monitors/{_segment(monitor)}/shadows/{int(shadow_id)}/promote"
        return self._http.request("POST", path, json={}, repeatable=False)

    def drop_shadow(self, monitor: str, shadow_id: int) -> Dict[str, Any]:
        path = f"/v1/monitors/{_segment(monitor)}/shadows/{int(shadow_id)}/drop"
        return self._http.request("POST", path, json={}, repeatable=False)

    # Results ----------------------------------------------------------------------------

    def evaluations(
        self,
        monitor: str,
        *,
        since: Any = None,
        until: Any = None,
        limit: Optional[int] = None,
        as_frame: bool = True,
    ) -> Any:
        """The monitor's evaluations, newest first: a DataFrame with one row per window (id,
        window bounds, times, status, action, reason, drifted and failed columns, rows, labels,
        and one `metric.NAME` column per metric), or with `as_frame=False` the API's dicts.

        `since` and `until` bound the evaluation time (datetimes, or Unix milliseconds);
        `limit` caps how many are read (all by default, a page of up to 1000 at a time)."""
        found = list(self._evaluation_pages(monitor, since, until, limit))
        if not as_frame:
            return found
        pd = _pandas()
        rows = [_evaluation_row(e) for e in found]
        frame = pd.DataFrame(rows, columns=_EVALUATION_COLUMNS if not rows else None)
        for column in ("started_at", "finished_at"):
            frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
        return frame

    def column_results(
        self,
        monitor: str,
        *,
        since: Any = None,
        until: Any = None,
        limit: Optional[int] = None,
    ) -> Any:
        """Every column's drift-test result in the monitor's evaluations, one row per
        (evaluation, column), newest evaluation first: the long format that plots and pivots
        (`pivot(index="evaluation_id", columns="column", values="statistic")`) want."""
        pd = _pandas()
        rows = []
        for evaluation in self._evaluation_pages(monitor, since, until, limit):
            result = evaluation.get("result") or {}
            for column in result.get("columns") or []:
                failure = column.get("failure")
                rows.append(
                    {
                        "evaluation_id": evaluation["id"],
                        "window_end": evaluation["window_end"],
                        "finished_at": evaluation["finished_at"],
                        "column": column.get("name"),
                        "kind": column.get("kind"),
                        "test": column.get("test"),
                        "plugin": column.get("plugin"),
                        "statistic": column.get("statistic"),
                        "p_value": column.get("p_value"),
                        "threshold": column.get("threshold"),
                        "drifted": column.get("drifted"),
                        "missing": column.get("missing"),
                        "failure": failure.get("message") if failure else None,
                    }
                )
        frame = pd.DataFrame(rows, columns=_COLUMN_RESULT_COLUMNS)
        frame["finished_at"] = pd.to_datetime(frame["finished_at"], unit="ms", utc=True)
        return frame

    def evaluation(self, evaluation_id: int) -> Dict[str, Any]:
        return self._http.request("GET", f"/v1/evaluations/{int(evaluation_id)}", repeatable=True)

    def _evaluation_pages(
        self, monitor: str, since: Any, until: Any, limit: Optional[int]
    ) -> Iterator[Dict[str, Any]]:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        before = None
        read = 0
        while True:
            page_size = 1000 if limit is None else min(1000, limit - read)
            page = self._http.request(
                "GET",
                f"/v1/monitors/{_segment(monitor)}/evaluations",
                params={
                    "limit": page_size,
                    "before": before,
                    "since": _unix_ms(since),
                    "until": _unix_ms(until),
                },
                repeatable=True,
            )
            for evaluation in page["evaluations"]:
                yield evaluation
                read += 1
            before = page.get("next_before")
            if before is None or (limit is not None and read >= limit):
                return

    def status(self) -> Dict[str, Any]:
        """Every monitor's state, as `vigil status --json` prints it."""
        return self._http.request("GET", "/v1/status", repeatable=True)

    def alerts(self, monitor: Optional[str] = None, limit: int = 100) -> List[Dict[str, Any]]:
        return self._http.request(
            "GET", "/v1/alerts", params={"monitor": monitor, "limit": limit}, repeatable=True
        )["alerts"]

    def actions(self, monitor: Optional[str] = None, limit: int = 100) -> List[Dict[str, Any]]:
        return self._http.request(
            "GET", "/v1/actions", params={"monitor": monitor, "limit": limit}, repeatable=True
        )["actions"]


_EVALUATION_COLUMNS = [
    "id",
    "window_start",
    "window_end",
    "started_at",
    "finished_at",
    "status",
    "action",
    "reason",
    "drifted_columns",
    "failed_columns",
    "rows",
    "labels",
]

_COLUMN_RESULT_COLUMNS = [
    "evaluation_id",
    "window_end",
    "finished_at",
    "column",
    "kind",
    "test",
    "plugin",
    "statistic",
    "p_value",
    "threshold",
    "drifted",
    "missing",
    "failure",
]


def _evaluation_row(evaluation: Mapping[str, Any]) -> Dict[str, Any]:
    result = evaluation.get("result") or {}
    window = result.get("window") or {}
    row = {name: evaluation.get(name) for name in _EVALUATION_COLUMNS[:8]}
    row["drifted_columns"] = result.get("drifted_columns")
    row["failed_columns"] = result.get("failed_columns")
    row["rows"] = window.get("rows")
    row["labels"] = window.get("labels")
    for metric in result.get("metrics") or []:
        row[f"metric.{metric['name']}"] = metric.get("value")
    return row


def _monitor_body(spec: Any, reference: Any) -> Dict[str, Any]:
    if isinstance(spec, Mapping):
        body = dict(spec)
        base = None
    else:
        body, base = _toml_spec(Path(spec)), Path(spec).parent
    reference_file = body.pop("reference_file", None)
    if reference is not None:
        if not _bodies.is_frame(reference):
            raise TypeError("the reference is a pandas DataFrame")
        body["reference_upload"] = {
            "content_type": _bodies.CSV,
            "body": _bodies.frame_csv(reference),
        }
    elif reference_file is not None:
        path = Path(reference_file)
        if base is not None and not path.is_absolute():
            path = base / path
        content_type = {".csv": _bodies.CSV, ".json": "application/json"}.get(
            path.suffix.lower(), _bodies.NDJSON
        )
        body["reference_upload"] = {"content_type": content_type, "body": path.read_text()}
    if "name" not in body:
        raise ValueError("a monitor spec has a `name`")
    return body


def _toml_spec(path: Path) -> Dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ImportError as error:  # pragma: no cover - older Pythons
        raise VigilError(
            None, "invalid", "reading a TOML spec needs Python 3.11; pass the spec as a dict"
        ) from error
    with path.open("rb") as file:
        return tomllib.load(file)


def _unix_ms(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if hasattr(value, "timestamp"):  # datetime or pandas Timestamp; naive means UTC
        if getattr(value, "tzinfo", None) is None:
            from datetime import timezone

            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp() * 1000)
    raise TypeError(f"a time is a datetime or Unix milliseconds, got {value!r}")


def _segment(name: str) -> str:
    from urllib.parse import quote

    return quote(str(name), safe="")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            "DataFrames need pandas: pip install 'vigil-client[pandas]' (or as_frame=False)"
        ) from error
    return pandas


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="rows", unit_scale=True, desc="vigil")
