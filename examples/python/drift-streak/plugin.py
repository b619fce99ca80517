"""`drift-streak`: retrain once enough windows in a row have drifted, then wait.

A window has drifted when at least `drift_share` of its tested columns did. The policy counts
the run of drifted windows in its own state, which the host keeps from one window to the next
(`Context.state` in, `Decision.state` out): a stable window ends the run, and so does a
retraining, so each retraining needs a new run. Within `cooldown_seconds` of the last
retraining, a full run only alerts (and the run goes on).

The state is JSON, `{"run": n}`; the host stores the bytes and never reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from vigil_plugin import Action, Context, Decision, InvalidConfig, Policy


@dataclass
class Config:
    windows: int = field(default=3, metadata={"doc": "Drifted windows in a row that retrain"})
    drift_share: float = field(default=0.3, metadata={"doc": "Share of columns that is drift"})
    cooldown_seconds: int = field(default=86400, metadata={"doc": "Quiet time after a retrain"})


class DriftStreak(Policy):
    name = "drift-streak"
    version = "0.2.0"
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
            # No state kept: the next window starts a new run.
            return Decision(Action.NONE, f"{len(drifted)} of {tested} columns drifted")
        run = 1 + (json.loads(context.state)["run"] if context.state else 0)
        kept = json.dumps({"run": run}).encode()
        if run < self.config.windows:
            return Decision(
                Action.ALERT,
                f"{', '.join(drifted)} drifted: {run} drifted window(s) in a row of the "
                f"{self.config.windows} that retrain",
                kept,
            )
        last = context.history.last_retrain
        if last is not None and context.now - last < self.config.cooldown_seconds:
            return Decision(
                Action.ALERT,
                f"{run} drifted windows in a row, but the last retraining was "
                f"{context.now - last} s ago (cooldown {self.config.cooldown_seconds} s)",
                kept,
            )
        return Decision(
            Action.RETRAIN, f"{run} drifted windows in a row; now {', '.join(drifted)}"
        )
