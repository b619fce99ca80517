"""`{{name}}`: retrains when at least `drift_share` of the tested columns drifted, and alerts
when some did. Replace `decide` with yours; `context.history.recent` holds the monitor's
earlier windows, newest first, and `context.state` what your last decision kept
(`Decision(action, reason, state=b"...")`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil_plugin import Action, Context, Decision, InvalidConfig, Policy


@dataclass
class Config:
    drift_share: float = field(default=0.5, metadata={"doc": "Share of drifted columns that retrains"})


class {{class}}(Policy):
    name = "{{name}}"
    version = "0.1.0"
    description = "Retrain when enough columns drifted"
    Config = Config

    def __init__(self, config: Config) -> None:
        if not 0 < config.drift_share <= 1:
            raise InvalidConfig(f"drift_share must lie in (0, 1], got {config.drift_share}")
        self.config = config

    def decide(self, context: Context) -> Decision:
        tested = len(context.tested())
        drifted = context.drifted()
        if not drifted:
            return Decision(Action.NONE, f"none of {tested} columns drifted")
        reason = f"{len(drifted)} of {tested} columns drifted: {', '.join(drifted)}"
        if len(drifted) / tested >= self.config.drift_share:
            return Decision(Action.RETRAIN, reason)
        return Decision(Action.ALERT, reason)
