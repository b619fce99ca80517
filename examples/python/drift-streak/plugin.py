"""`drift-streak`: retrain once enough windows in a row have drifted, then wait.

A window has drifted when at least `drift_share` of its tested columns did. The policy looks
back through the monitor's recent windows (newest first) for the run of drifted windows that
ends with this one; a window that decided `retrain` ends the run, so each retraining needs a
new run. Within `cooldown_seconds` of the last retraining, a full run only alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil_plugin import Action, Context, Decision, InvalidConfig, Policy


@dataclass
class Config:
    windows: int = field(default=3, metadata={"doc": "Drifted windows in a row that retrain"})
    drift_share: float = field(default=0.3, metadata={"doc": "Share of columns that is drift"})
    cooldown_seconds: int = field(default=86400, metadata={"doc": "Quiet time after a retrain"})


class DriftStreak(Policy):
    name = "drift-streak"
    version = "0.1.0"
    description = "Retrain after N drifted windows in a row, with a cooldown"
    Config = Config

    def __init__(self, config: Config) -> None:
        if config.windows < 1:
            raise InvalidConfig(f"windows must be at least 1, got {config.windows}")
        if not 0 < config.drift_share <= 1:
            raise InvalidConfig(f"drift_share must lie in (0, 1], got {config.drift_share}")
        self.config = config

    def _drifted(self, drifted: int, tested: int) -> bool:
        return tested > 0 and drifted / tested >= self.config.drift_share

    def decide(self, context: Context) -> Decision:
        tested = len(context.tested())
        drifted = context.drifted()
        if not self._drifted(len(drifted), tested):
            return Decision(Action.NONE, f"{len(drifted)} of {tested} columns drifted")
        run = 1
        for past in context.history.recent:
            if run >= self.config.windows or past.action == Action.RETRAIN:
                break
            if not past.decided or not self._drifted(len(past.drifted), past.tested):
                break
            run += 1
        if run < self.config.windows:
            return Decision(
                Action.ALERT,
                f"{', '.join(drifted)} drifted: {run} drifted window(s) in a row of the "
                f"{self.config.windows} that retrain",
            )
        last = context.history.last_retrain
        if last is not None and context.now - last < self.config.cooldown_seconds:
            return Decision(
                Action.ALERT,
                f"{run} drifted windows in a row, but the last retraining was "
                f"{context.now - last} s ago (cooldown {self.config.cooldown_seconds} s)",
            )
        return Decision(
            Action.RETRAIN, f"{run} drifted windows in a row; now {', '.join(drifted)}"
        )
