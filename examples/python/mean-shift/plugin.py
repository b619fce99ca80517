"""`mean-shift`: how far the window's mean moved from the reference's, in reference standard
deviations (a standardized mean difference). A distance: drift when it reaches the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vigil_plugin import DriftResult, DriftTest, InvalidConfig, InvalidInput, Numeric, log


@dataclass
class Config:
    threshold: float = field(default=0.5, metadata={"doc": "Shift, in reference sds, that is drift"})
    min_rows: int = field(default=2, metadata={"doc": "Fewest non-missing values on a side"})


def _mean_and_sd(values: list[float]) -> tuple[float, float]:
    mean = math.fsum(values) / len(values)
    variance = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance)


class MeanShift(DriftTest):
    name = "mean-shift"
    version = "0.1.0"
    description = "Shift of the mean, in reference standard deviations"
    column_kinds = ("numeric",)
    score = "distance"
    Config = Config

    def __init__(self, reference: Numeric, config: Config) -> None:
        if config.threshold <= 0:
            raise InvalidConfig(f"threshold must be positive, got {config.threshold}")
        values = reference.present()
        if len(values) < max(config.min_rows, 2):
            raise InvalidInput(f"the reference has {len(values)} values; {config.min_rows} needed")
        self.mean, self.sd = _mean_and_sd(values)
        if self.sd == 0:
            raise InvalidInput("the reference is constant: a shift cannot be measured in its sds")
        self.config = config
        log.debug(f"reference of {len(values)} values: mean {self.mean:.6g}, sd {self.sd:.6g}")

    def evaluate(self, current: Numeric) -> DriftResult:
        values = current.present()
        if len(values) < self.config.min_rows:
            raise InvalidInput(
                f"the window has {len(values)} values; {self.config.min_rows} needed"
            )
        shift = abs(math.fsum(values) / len(values) - self.mean) / self.sd
        return DriftResult.from_distance(shift, self.config.threshold)
