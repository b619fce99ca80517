"""`{{name}}`: a two-sided CUSUM on the stream's running mean: flags a change when the
cumulative deviation passes `threshold`, then starts over. Replace `update` with yours; the
host keeps the detector's state between windows through `snapshot`/`restore` (by default its
attributes as JSON)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vigil_plugin import Detector, InvalidConfig


@dataclass
class Config:
    threshold: float = field(default=5.0, metadata={"doc": "Cumulative deviation that is a change"})
    drift: float = field(default=0.5, metadata={"doc": "Deviation ignored at each step"})


class {{class}}(Detector):
    name = "{{name}}"
    version = "0.1.0"
    description = "Two-sided CUSUM around the running mean"
    Config = Config

    def __init__(self, config: Config) -> None:
        if config.threshold <= 0:
            raise InvalidConfig(f"threshold must be positive, got {config.threshold}")
        self.config = config
        self.seen = 0
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.high = 0.0
        self.low = 0.0

    def update(self, values: list[float]) -> list[int]:
        found = []
        for value in values:
            if math.isnan(value):
                continue
            position = self.seen
            self.seen += 1
            self.count += 1
            self.mean += (value - self.mean) / self.count
            self.high = max(0.0, self.high + value - self.mean - self.config.drift)
            self.low = max(0.0, self.low + self.mean - value - self.config.drift)
            if self.high > self.config.threshold or self.low > self.config.threshold:
                found.append(position)
                self.reset()
        return found
