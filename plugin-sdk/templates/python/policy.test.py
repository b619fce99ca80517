"""`{{name}}` under plain CPython, called as the daemon calls it: `pytest`."""

import pytest
from plugin import {{class}}
from vigil_plugin import Action, InvalidConfig, testing


def test_the_share_of_drifted_columns_decides():
    assert testing.decide({{class}}, testing.context([], ["x", "y"])).action == Action.NONE
    assert testing.decide({{class}}, testing.context(["x"], ["y", "z"])).action == Action.ALERT
    decision = testing.decide({{class}}, testing.context(["x", "y"], ["z"]))
    assert decision.action == Action.RETRAIN and "2 of 3" in decision.reason


def test_bad_settings_are_refused():
    with pytest.raises(InvalidConfig):
        testing.decide({{class}}, testing.context(["x"]), {"drift_share": 2})
