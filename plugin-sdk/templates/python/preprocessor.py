"""`{{name}}`: clips each numeric column to the range the reference saw, widened by
`margin` of that range, so outliers do not dominate the drift tests. Replace `transform` with
yours: it must return as many rows as it was given."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vigil_plugin import Batch, InvalidConfig, Numeric, Preprocessor


@dataclass
class Config:
    margin: float = field(default=0.0, metadata={"doc": "Extra room, as a share of the range"})


class {{class}}(Preprocessor):
    name = "{{name}}"
    version = "0.1.0"
    description = "Clips numeric columns to the reference's range"
    Config = Config

    def __init__(self, reference: Batch, config: Config) -> None:
        if config.margin < 0:
            raise InvalidConfig(f"margin must be 0 or more, got {config.margin}")
        self.bounds = {}
        for name, column in reference.columns.items():
            values = column.present() if isinstance(column, Numeric) else []
            if values:
                low, high = min(values), max(values)
                room = (high - low) * config.margin
                self.bounds[name] = (low - room, high + room)

    def transform(self, batch: Batch) -> Batch:
        columns = {}
        for name, column in batch.columns.items():
            if name in self.bounds and isinstance(column, Numeric):
                low, high = self.bounds[name]
                column = Numeric([v if math.isnan(v) else min(max(v, low), high) for v in column.values])
            columns[name] = column
        return Batch(columns)
