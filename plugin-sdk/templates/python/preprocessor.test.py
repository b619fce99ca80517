"""`{{name}}` under plain CPython, called as the daemon calls it: `pytest`."""

import math

from plugin import {{class}}
from vigil_plugin import testing


def test_values_are_clipped_to_the_reference_range_and_the_rest_kept():
    reference = {"x": [0.0, 10.0], "kind": ["a", "b"]}
    out = testing.transform({{class}}, reference, {"x": [-5.0, 5.0, 50.0, math.nan], "kind": ["a", "b", "c", None]})
    assert out["x"].values[:3] == [0.0, 5.0, 10.0] and math.isnan(out["x"].values[3])
    assert out["kind"].labels() == ["a", "b", "c", None]
    wider = testing.transform({{class}}, reference, {"x": [50.0], "kind": ["a"]}, {"margin": 0.5})
    assert wider["x"].values == [15.0]
