"""A plugin's JSON configuration, read into a dataclass, and the JSON Schema the plugin
publishes for it (`info.config_schema`).

Settings are the dataclass's fields. A key that is not one of them, a value of the wrong type
or a missing setting without a default is an `InvalidConfig` that names it: the daemon shows
the message to whoever wrote the monitor.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any

from .errors import InvalidConfig

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional(annotation: Any) -> tuple[Any, bool]:
    """(the type inside `X | None`, whether None is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _check(name: str, value: Any, annotation: Any) -> Any:
    inner, nullable = _optional(annotation)
    if value is None:
        if nullable:
            return None
        raise InvalidConfig(f"setting `{name}` may not be null")
    origin = typing.get_origin(inner) or inner
    if inner is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidConfig(f"setting `{name}` must be a number, got {json.dumps(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise InvalidConfig(f"setting `{name}` must be finite")
        return value
    if inner is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidConfig(f"setting `{name}` must be an integer, got {json.dumps(value)}")
        return value
    if inner in (bool, str):
        if not isinstance(value, inner):
            raise InvalidConfig(
                f"setting `{name}` must be a {_JSON_TYPES[inner]}, got {json.dumps(value)}"
            )
        return value
    if origin is list:
        if not isinstance(value, list):
            raise InvalidConfig(f"setting `{name}` must be a list, got {json.dumps(value)}")
        (item,) = typing.get_args(inner) or (Any,)
        return [_check(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidConfig(f"setting `{name}` must be an object, got {json.dumps(value)}")
        return value
    return value


def parse(cls: type | None, text: str) -> Any:
    """The configuration `text` (JSON) as an instance of the dataclass `cls`; `None` when the
    plugin takes no settings (then only `{}` is accepted)."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise InvalidConfig(f"the configuration is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidConfig("the configuration must be a JSON object")
    if cls is None:
        if data:
            raise InvalidConfig(f"this plugin takes no settings, got {sorted(data)}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise InvalidConfig(
            f"unknown setting(s) {', '.join(f'`{u}`' for u in unknown)}; the settings are: {known}"
        )
    hints = _hints(cls)
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _check(name, data[name], hints.get(name, Any))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise InvalidConfig(f"missing setting `{name}`")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise InvalidConfig(str(error)) from None


def _schema_of(annotation: Any) -> dict:
    inner, nullable = _optional(annotation)
    origin = typing.get_origin(inner) or inner
    if inner in _JSON_TYPES:
        schema: dict = {"type": _JSON_TYPES[inner]}
    elif origin is list:
        (item,) = typing.get_args(inner) or (Any,)
        schema = {"type": "array", "items": _schema_of(item)}
    elif origin is dict:
        schema = {"type": "object"}
    else:
        schema = {}
    if nullable and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def schema(cls: type | None, title: str = "Config") -> str:
    """The JSON Schema of the dataclass `cls` (no settings when `None`), as text."""
    properties: dict = {}
    required = []
    if cls is not None:
        hints = _hints(cls)
        for field in dataclasses.fields(cls):
            prop = _schema_of(hints.get(field.name, Any))
            if field.default is not dataclasses.MISSING:
                prop["default"] = field.default
            elif field.default_factory is dataclasses.MISSING:
                required.append(field.name)
            doc = field.metadata.get("doc")
            if doc:
                prop["description"] = doc
            properties[field.name] = prop
    result = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": getattr(cls, "__name__", title),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        result["required"] = required
    return json.dumps(result)
