"""`mean-shift` under plain CPython, called as the daemon calls it."""

import math
import random

import pytest
from plugin import MeanShift
from vigil_plugin import InvalidConfig, InvalidInput, testing


def normal(n, mean, seed):
    rng = random.Random(seed)
    return [rng.gauss(mean, 1.0) for _ in range(n)]


def test_a_shift_of_one_sd_drifts_and_none_does_not():
    reference = normal(5000, 0.0, 1)
    shifted = testing.drift(MeanShift, reference, normal(2000, 1.0, 2))
    assert shifted.drifted and shifted.statistic == pytest.approx(1.0, abs=0.1)
    same = testing.drift(MeanShift, reference, normal(2000, 0.0, 3))
    assert not same.drifted and same.statistic < 0.1
    assert same.p_value is None and same.threshold == 0.5


def test_the_statistic_is_the_standardized_mean_difference():
    # Reference mean 2, sd 1; the window's mean 4: two sds, drift at a threshold of 2, not 3.
    result = testing.drift(MeanShift, [1.0, 2.0, 3.0], [4.0, 4.0], {"threshold": 2.0})
    assert result.statistic == pytest.approx(2.0)
    assert result.drifted
    assert not testing.drift(MeanShift, [1.0, 2.0, 3.0], [4.0, 4.0], {"threshold": 3.0}).drifted


def test_missing_values_are_left_out_and_an_empty_window_is_refused():
    result = testing.drift(MeanShift, [1.0, math.nan, 2.0, 3.0], [2.0, None, 2.0])
    assert result.statistic == pytest.approx(0.0)
    with pytest.raises(InvalidInput, match="window has 0 values"):
        testing.drift(MeanShift, [1.0, 2.0, 3.0], [math.nan, math.nan])


def test_bad_settings_and_data_are_refused_with_a_reason():
    with pytest.raises(InvalidConfig, match="unknown setting"):
        testing.drift(MeanShift, [1.0, 2.0], [1.0, 2.0], {"treshold": 1})
    with pytest.raises(InvalidConfig, match="must be a number"):
        testing.drift(MeanShift, [1.0, 2.0], [1.0, 2.0], {"threshold": "high"})
    with pytest.raises(InvalidInput, match="constant"):
        testing.drift(MeanShift, [2.0, 2.0, 2.0], [1.0, 2.0])
    with pytest.raises(InvalidInput, match="categorical"):
        testing.drift(MeanShift, ["a", "b"], ["a", "a"])


def test_it_describes_itself():
    info = testing.info(MeanShift)
    assert info["kind"] == "drift-test" and info["score"] == "distance"
    assert '"threshold"' in info["config_schema"]
