"""`{{name}}` under plain CPython, called as the daemon calls it: `pytest`."""

import pytest
from plugin import {{class}}
from vigil_plugin import InvalidConfig, InvalidInput, testing


def test_a_shifted_window_drifts_and_a_similar_one_does_not():
    reference = [float(i % 10) for i in range(1000)]
    assert not testing.drift({{class}}, reference, [float(i % 10) for i in range(500)]).drifted
    shifted = testing.drift({{class}}, reference, [float(i % 10) + 3 for i in range(500)])
    assert shifted.drifted and shifted.statistic == pytest.approx(3 / 9)


def test_bad_input_and_settings_are_refused():
    with pytest.raises(InvalidInput):
        testing.drift({{class}}, [1.0, 2.0], [float("nan")])
    with pytest.raises(InvalidConfig):
        testing.drift({{class}}, [1.0, 2.0], [1.0], {"threshold": -1})
