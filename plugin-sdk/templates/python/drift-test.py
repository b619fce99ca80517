"""`{{name}}`: how far the window's mean moved from the reference's, relative to the
reference's range. A distance: the window drifted when it reaches `threshold`. Replace the
statistic with yours; `test_plugin.py` shows how to check it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vigil_plugin import DriftResult, DriftTest, InvalidConfig, InvalidInput, Numeric, log


@dataclass
class Config:
    threshold: float = field(default=0.1, metadata={"doc": "Distance that counts as drift"})


class {{class}}(DriftTest):
    name = "{{name}}"
    version = "0.1.0"
    description = "Shift of the mean, relative to the reference's range"
    column_kinds = ("numeric",)
    score = "distance"
    Config = Config

    def __init__(self, reference: Numeric, config: Config) -> None:
        if config.threshold <= 0:
            raise InvalidConfig(f"threshold must be positive, got {config.threshold}")
        values = reference.present()
        if len(values) < 2:
            raise InvalidInput("the reference needs at least two values")
        self.mean = math.fsum(values) / len(values)
        self.range = (max(values) - min(values)) or 1.0
        self.threshold = config.threshold
        log.debug(f"reference of {len(values)} values, mean {self.mean:.6g}")

    def evaluate(self, current: Numeric) -> DriftResult:
        values = current.present()
        if not values:
            raise InvalidInput("the window has no values")
        distance = abs(math.fsum(values) / len(values) - self.mean) / self.range
        return DriftResult.from_distance(distance, self.threshold)
