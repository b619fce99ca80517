"""Reference detections for the `detect-page-hinkley` plugin, from River's PageHinkley.

Run with the Python environment that has River installed:

    /opt/vigil-py/bin/python tests/reference/generate_page_hinkley.py

Writes `page_hinkley.json` next to this file. Streams are drawn from fixed seeds and rounded to
six decimals, so every value has a short decimal form that any JSON reader parses back to the
same f64 the detector saw here. `null` in a stream is a missing value: River never sees it (the
plugin skips NaN and does not count it as a stream position), so River is fed the stream with
the nulls removed and the expected indices count only the values present.
"""

from __future__ import annotations

import json
import math
import pathlib
import random
import struct

import numpy as np
import river
from river import drift

OUT = pathlib.Path(__file__).with_name("page_hinkley.json")


def rounded(values) -> list[float]:
    out = [round(float(v), 6) for v in values]
    for v in out:
        # Below 1e9 a six-decimal value has at most 15 significant digits, which every JSON
        # parser (serde_json's fast path included) turns back into exactly this f64.
        assert math.isfinite(v) and abs(v) < 1e9, v
    return out


def levels(rng, means, length, sd=1.0) -> list[float]:
    return rounded(np.concatenate([rng.normal(m, sd, length) for m in means]))


def bits(x) -> str:
    """The exact f64 as 16 hex digits, so the comparison does not depend on decimal parsing."""
    return struct.pack(">d", float(x)).hex()


def run(config: dict, stream: list) -> dict:
    detector = drift.PageHinkley(**config)
    found = []
    position = 0
    for value in stream:
        if value is None:
            continue
        detector.update(value)
        if detector.drift_detected:
            found.append(position)
        position += 1
    # River's internal statistics after the last value, to check the arithmetic bit for bit
    # (detections alone would not notice a last-place rounding difference).
    final_state = {
        "n": bits(detector._x_mean.n),
        "mean": bits(detector._x_mean.get()),
        "sum_increase": bits(detector._sum_increase),
        "sum_decrease": bits(detector._sum_decrease),
        "min_increase": bits(detector._min_increase),
        "max_decrease": bits(detector._max_decrease),
        "drift_detected": detector.drift_detected,
    }
    return {"detections": found, "final_state": final_state}


def cases() -> list[dict]:
    out = []

    def case(name, config, stream):
        out.append(
            {
                "name": name,
                "config": config,
                "stream": stream,
                "expected": run(config, stream),
            }
        )

    rng = np.random.default_rng(1)
    case("abrupt_up", {}, levels(rng, [0.0, 2.0], 1500))

    rng = np.random.default_rng(2)
    case("abrupt_down", {}, levels(rng, [5.0, 3.0], 1500))

    # Several shifts: after each detection River resets all statistics, so later indices
    # depend on resetting at exactly the same point.
    rng = np.random.default_rng(3)
    several = levels(rng, [0.0, 3.0, 0.0, -3.0, 2.0], 800)
    case("several_shifts", {}, several)
    case("several_shifts_mode_up", {"mode": "up"}, several)
    case("several_shifts_mode_down", {"mode": "down"}, several)

    rng = np.random.default_rng(4)
    ramp = np.concatenate([np.zeros(1000), np.linspace(0.0, 4.0, 2000)])
    case("gradual", {}, rounded(ramp + rng.normal(0.0, 0.5, ramp.size)))

    rng = np.random.default_rng(5)
    case("no_drift", {}, levels(rng, [1.0], 3000, sd=0.5))

    rng = np.random.default_rng(6)
    case(
        "non_default_parameters",
        {"min_instances": 100, "delta": 0.05, "threshold": 40.0, "alpha": 0.999},
        levels(rng, [0.0, 1.5, -0.5, 1.0], 750),
    )

    rng = np.random.default_rng(7)
    case(
        "no_forgetting_zero_delta",
        {"delta": 0.0, "threshold": 30.0, "alpha": 1.0, "mode": "up"},
        levels(rng, [0.0, 1.0, 2.0, 0.0], 700),
    )

    # Frequent shifts with a small min_instances: detections land soon after each reset.
    rng = np.random.default_rng(8)
    case(
        "frequent_resets",
        {"min_instances": 1, "threshold": 5.0},
        levels(rng, [0.0, 4.0, -4.0, 4.0] * 10, 60),
    )

    # River's own docstring example (integer values; River reports index 1006).
    r = random.Random(12345)
    case("river_docstring_example", {}, r.choices([0, 1], k=1000) + r.choices(range(4, 8), k=1000))

    rng = np.random.default_rng(9)
    stream = levels(rng, [0.0, 2.5, 0.0], 1000)
    missing = rng.random(len(stream)) < 0.05
    case("with_missing_values", {}, [None if m else v for v, m in zip(stream, missing)])

    return out


def main() -> None:
    document = {
        "generated_by": "tests/reference/generate_page_hinkley.py (river.drift.PageHinkley)",
        "versions": {"river": river.__version__, "numpy": np.__version__},
        "cases": cases(),
    }
    with OUT.open("w") as f:
        f.write(dump(document))
    for c in document["cases"]:
        print(f'{c["name"]}: {len(c["stream"])} values, detections {c["expected"]["detections"]}')


def dump(document: dict) -> str:
    """JSON with one case per block and each array on one line, so diffs stay readable."""
    lines = ["{"]
    lines.append(f'  "generated_by": {json.dumps(document["generated_by"])},')
    lines.append(f'  "versions": {json.dumps(document["versions"])},')
    lines.append('  "cases": [')
    blocks = []
    for c in document["cases"]:
        blocks.append(
            "    {\n"
            f'      "name": {json.dumps(c["name"])},\n'
            f'      "config": {json.dumps(c["config"])},\n'
            f'      "expected": {json.dumps(c["expected"])},\n'
            f'      "stream": {json.dumps(c["stream"], allow_nan=False)}\n'
            "    }"
        )
    lines.append(",\n".join(blocks))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
