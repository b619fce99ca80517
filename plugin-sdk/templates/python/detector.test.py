"""`{{name}}` under plain CPython, called as the daemon calls it: `pytest`."""

import pytest
from plugin import {{class}}
from vigil_plugin import InvalidConfig, testing


def test_a_jump_is_found_once_and_a_flat_stream_never():
    flat = [[1.0] * 50, [1.0] * 50]
    assert testing.detect({{class}}, flat) == []
    jump = [[0.0] * 100, [10.0] * 20]
    found = testing.detect({{class}}, jump)
    assert len(found) >= 1 and 100 <= found[0] < 105


def test_bad_settings_are_refused():
    with pytest.raises(InvalidConfig):
        testing.detect({{class}}, [[1.0]], {"threshold": 0})
