"""`drift-streak` under plain CPython, called as the daemon calls it: window after window, each
given the state the decision before kept."""

import pytest
from plugin import DriftStreak
from vigil_plugin import Action, History, InvalidConfig, testing

DRIFTED = testing.context(["x"], ["y"])
STABLE = testing.context([], ["x", "y"])


def actions(windows, config=None):
    return [d.action for d in testing.decide(DriftStreak, windows, config)]


def test_a_run_of_drifted_windows_retrains_and_a_short_one_alerts():
    decisions = testing.decide(DriftStreak, [DRIFTED, DRIFTED, DRIFTED])
    assert [d.action for d in decisions] == [Action.ALERT, Action.ALERT, Action.RETRAIN]
    assert "3 drifted windows in a row" in decisions[-1].reason
    assert decisions[0].state == b'{"run": 1}'
    # The state is what the policy reads: a run can resume where another window left it.
    resumed = testing.decide(DriftStreak, testing.context(["x"], state=b'{"run": 2}'))
    assert resumed.action == Action.RETRAIN


def test_a_stable_window_or_a_retraining_ends_the_run():
    assert actions([DRIFTED, DRIFTED, STABLE, DRIFTED]) == [
        Action.ALERT, Action.ALERT, Action.NONE, Action.ALERT
    ]
    retrained = testing.decide(DriftStreak, [DRIFTED, DRIFTED, DRIFTED, DRIFTED])
    assert retrained[2].action == Action.RETRAIN and retrained[2].state is None
    assert retrained[3].action == Action.ALERT and "1 drifted window(s)" in retrained[3].reason


def test_nothing_happens_below_the_share_and_the_cooldown_holds_a_retraining():
    quiet = testing.context(["x"], ["a", "b", "c"])
    decision = testing.decide(DriftStreak, quiet)
    assert decision.action == Action.NONE and decision.reason == "1 of 4 columns drifted"
    assert decision.state is None
    cooling = testing.context(["x"], history=History(last_retrain=1_700_000_000 - 60))
    held = testing.decide(DriftStreak, [cooling] * 3)[-1]
    assert held.action == Action.ALERT and "cooldown" in held.reason
    assert actions([cooling] * 3, {"cooldown_seconds": 30})[-1] == Action.RETRAIN


def test_bad_settings_are_refused():
    with pytest.raises(InvalidConfig, match="windows must be at least 1"):
        testing.decide(DriftStreak, testing.context(["x"]), {"windows": 0})
    with pytest.raises(InvalidConfig, match="unknown setting"):
        testing.decide(DriftStreak, testing.context(["x"]), {"window": 2})
