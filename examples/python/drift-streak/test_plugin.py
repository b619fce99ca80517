"""`drift-streak` under plain CPython, called as the daemon calls it."""

import pytest
from plugin import DriftStreak
from vigil_plugin import Action, History, InvalidConfig, PastWindow, testing


def past(drifted, action=Action.NONE, tested=2):
    return PastWindow(0, 0, 100, tested, drifted, [], True, action)


def test_a_run_of_drifted_windows_retrains_and_a_short_one_alerts():
    now = testing.context(["x"], ["y"])
    assert testing.decide(DriftStreak, now).action == Action.ALERT
    two = testing.context(["x"], ["y"], history=History(recent=[past(["x"])]))
    assert testing.decide(DriftStreak, two).action == Action.ALERT
    three = testing.context(["x"], ["y"], history=History(recent=[past(["x"]), past(["y"])]))
    decision = testing.decide(DriftStreak, three)
    assert decision.action == Action.RETRAIN
    assert "3 drifted windows in a row" in decision.reason


def test_a_stable_window_or_a_retraining_ends_the_run():
    broken = History(recent=[past(["x"]), past([]), past(["x"])])
    assert testing.decide(DriftStreak, testing.context(["x"], history=broken)).action == Action.ALERT
    retrained = History(recent=[past(["x"]), past(["x"], Action.RETRAIN), past(["x"])])
    assert testing.decide(DriftStreak, testing.context(["x"], history=retrained)).action == Action.ALERT


def test_nothing_happens_below_the_share_and_the_cooldown_holds_a_retraining():
    quiet = testing.context(["x"], ["a", "b", "c"])
    decision = testing.decide(DriftStreak, quiet)
    assert decision.action == Action.NONE and decision.reason == "1 of 4 columns drifted"
    recent = History(last_retrain=1_700_000_000 - 60, recent=[past(["x"]), past(["x"])])
    held = testing.decide(DriftStreak, testing.context(["x"], history=recent))
    assert held.action == Action.ALERT and "cooldown" in held.reason
    cooled = testing.decide(
        DriftStreak, testing.context(["x"], history=recent), {"cooldown_seconds": 30}
    )
    assert cooled.action == Action.RETRAIN


def test_bad_settings_are_refused():
    with pytest.raises(InvalidConfig, match="windows must be at least 1"):
        testing.decide(DriftStreak, testing.context(["x"]), {"windows": 0})
    with pytest.raises(InvalidConfig, match="unknown setting"):
        testing.decide(DriftStreak, testing.context(["x"]), {"window": 2})
