"""Reference detections for the streaming-detector plugins (ADWIN, KSWIN, DDM, EDDM, HDDM-A,
HDDM-W from River 0.26.1; CUSUM from the definition in `docs/detectors.md`).

Run with a Python environment that has River 0.26.1 and NumPy installed:

    python3 -m venv venv && venv/bin/pip install numpy river==0.26.1
    venv/bin/python tests/reference/generate_detectors.py

Writes `detectors.json` next to this file: the streams once, then for each detector and stream
the 0-based indices at which River's detector has `drift_detected` set right after the update
with that value. Streams are drawn from fixed seeds and rounded to six decimals, so every value
has a short decimal form that any JSON reader parses back to the same f64. `null` is a missing
value: the plugins skip NaN and do not count it as a stream position, so River is fed the
stream with the nulls removed and the indices count only the values present.

DDM, EDDM, HDDM-A and HDDM-W watch a 0/1 error stream and run on the `bits_*` streams; the
others run on the numeric streams.

River has no CUSUM: `cusum` below is the two-sided tabular CUSUM defined in
`docs/detectors.md`, written plainly so that the plugin is checked against the definition.
"""

from __future__ import annotations

import json
import math
import pathlib
import random

import numpy as np
import river
from river import drift

OUT = pathlib.Path(__file__).with_name("detectors.json")


def rounded(values) -> list[float]:
    out = [round(float(v), 6) for v in values]
    for v in out:
        assert math.isfinite(v) and abs(v) < 1e9, v
    return out


def levels(rng, means, length, sd=1.0) -> list[float]:
    return rounded(np.concatenate([rng.normal(m, sd, length) for m in means]))


def bits(rng, probabilities, length) -> list[float]:
    return [float(b) for p in probabilities for b in (rng.random(length) < p)]


def with_missing(rng, stream, share=0.05) -> list:
    missing = rng.random(len(stream)) < share
    return [None if m else v for v, m in zip(stream, missing)]


def numeric_streams() -> dict[str, list]:
    streams = {}
    streams["abrupt"] = levels(np.random.default_rng(11), [0.0, 2.0], 1000)
    streams["abrupt_small"] = levels(np.random.default_rng(12), [0.0, 0.5], 2000)
    streams["several_shifts"] = levels(np.random.default_rng(13), [0.0, 3.0, 0.0, -3.0, 2.0], 600)
    rng = np.random.default_rng(14)
    ramp = np.concatenate([np.zeros(1000), np.linspace(0.0, 3.0, 2000)])
    streams["gradual"] = rounded(ramp + rng.normal(0.0, 0.5, ramp.size))
    streams["no_drift"] = levels(np.random.default_rng(15), [1.0], 4000, sd=0.5)
    rng = np.random.default_rng(16)
    streams["missing"] = with_missing(rng, levels(rng, [0.0, 2.5, 0.0], 800))
    streams["constant"] = [1.5] * 600
    streams["tiny"] = [0.3, -1.2, 4.0, 0.0, 2.5]
    # River's ADWIN and KSWIN docstring example (integers; River reports 1023 and 1016).
    r = random.Random(12345)
    streams["river_docstring"] = [
        float(v) for v in r.choices([0, 1], k=1000) + r.choices(range(4, 8), k=1000)
    ]
    return streams


def bit_streams() -> dict[str, list]:
    streams = {}
    streams["bits_abrupt"] = bits(np.random.default_rng(21), [0.1, 0.4], 1500)
    streams["bits_gradual"] = bits(np.random.default_rng(22), list(np.linspace(0.1, 0.5, 30)), 100)
    streams["bits_no_drift"] = bits(np.random.default_rng(23), [0.2], 5000)
    streams["bits_several"] = bits(np.random.default_rng(24), [0.1, 0.5, 0.1, 0.6, 0.2], 700)
    streams["bits_improving"] = bits(np.random.default_rng(25), [0.5, 0.1], 1500)
    rng = np.random.default_rng(26)
    streams["bits_missing"] = with_missing(rng, bits(rng, [0.1, 0.5], 1200))
    streams["bits_all_zero"] = [0.0] * 600
    streams["bits_all_one"] = [1.0] * 600
    streams["bits_tiny"] = [1.0, 0.0, 1.0]
    # River's DDM/EDDM/HDDM docstring example (River reports 1334, 1278 with alpha 0.8 and
    # beta 0.75, 1206 and 1077).
    r = random.Random(42)
    stream = r.choices([0, 1], k=1000) + r.choices([0, 1], k=1000, weights=[0.3, 0.7])
    streams["bits_river_docstring"] = [float(v) for v in stream]
    return streams


def cusum(stream, warm_start=30, k=0.5, h=5.0, mode="both"):
    """Two-sided tabular CUSUM, as `docs/detectors.md` defines it, on a stream without nulls."""
    found = []
    n = mean = m2 = 0.0
    target = sd = 0.0
    upper = lower = 0.0
    detected = False
    for i, x in enumerate(stream):
        if detected:
            n = mean = m2 = upper = lower = 0.0
            detected = False
        if n < warm_start:
            n += 1.0
            d = x - mean
            mean += d / n
            m2 += d * (x - mean)
            if n == warm_start:
                target = mean
                sd = math.sqrt(m2 / (n - 1.0)) if n > 1.0 else 0.0
            continue
        upper = max(0.0, upper + (x - target) - k * sd)
        lower = max(0.0, lower + (target - x) - k * sd)
        if mode == "up":
            detected = upper > h * sd
        elif mode == "down":
            detected = lower > h * sd
        else:
            detected = upper > h * sd or lower > h * sd
        if detected:
            found.append(i)
    return found


def river_detections(make, stream) -> list[int]:
    detector = make()
    found = []
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.drift_detected:
            found.append(i)
    return found


RIVER = {
    "adwin": lambda c: drift.ADWIN(**c),
    "kswin": lambda c: drift.KSWIN(**{"seed": 42, **c}),
    "ddm": lambda c: drift.binary.DDM(**c),
    "eddm": lambda c: drift.binary.EDDM(**c),
    "hddm-a": lambda c: drift.binary.HDDMA(**c),
    "hddm-w": lambda c: drift.binary.HDDMW(**c),
}

NUMERIC = [
    "abrupt",
    "abrupt_small",
    "several_shifts",
    "gradual",
    "no_drift",
    "missing",
    "constant",
    "tiny",
    "river_docstring",
]
BINARY = [
    "bits_abrupt",
    "bits_gradual",
    "bits_no_drift",
    "bits_several",
    "bits_improving",
    "bits_missing",
    "bits_all_zero",
    "bits_all_one",
    "bits_tiny",
    "bits_river_docstring",
]

# (detector, stream names, configuration) for every case beyond the defaults.
EXTRA = [
    ("adwin", ["abrupt_small", "several_shifts", "gradual"], {"clock": 1}),
    ("adwin", ["abrupt_small", "no_drift"], {"delta": 0.05, "max_buckets": 3}),
    ("adwin", ["several_shifts"], {"min_window_length": 20, "grace_period": 100, "clock": 8}),
    ("kswin", ["abrupt", "several_shifts", "no_drift", "river_docstring"], {"seed": 7}),
    ("kswin", ["river_docstring"], {"alpha": 0.0001}),
    ("kswin", ["abrupt_small", "gradual"], {"alpha": 0.05, "window_size": 60, "stat_size": 10}),
    ("kswin", ["several_shifts"], {"window_size": 300, "stat_size": 120, "seed": 3}),
    # Five picks from 95 values: Python's sampling takes its set-based branch.
    ("kswin", ["abrupt", "no_drift"], {"window_size": 100, "stat_size": 5, "alpha": 0.05}),
    ("kswin", ["several_shifts"], {"seed": 0}),
    ("ddm", ["bits_several", "bits_gradual"], {"warm_start": 100, "drift_threshold": 2.5}),
    ("eddm", ["bits_river_docstring", "bits_several"], {"alpha": 0.8, "beta": 0.75}),
    ("eddm", ["bits_no_drift", "bits_abrupt"], {"warm_start": 10, "alpha": 0.99, "beta": 0.98}),
    ("hddm-a", BINARY, {"two_sided_test": True}),
    ("hddm-a", ["bits_several"], {"drift_confidence": 0.01, "warning_confidence": 0.05}),
    ("hddm-w", BINARY, {"two_sided_test": True}),
    ("hddm-w", ["bits_several", "bits_gradual"], {"lambda_val": 0.2, "drift_confidence": 0.01}),
    ("cusum", ["several_shifts", "gradual", "no_drift"], {"k": 0.25, "h": 8.0, "warm_start": 100}),
    ("cusum", ["several_shifts"], {"mode": "up"}),
    ("cusum", ["several_shifts"], {"mode": "down"}),
    ("cusum", ["abrupt_small", "no_drift"], {"warm_start": 2}),
]


def expected(detector: str, config: dict, stream: list) -> list[int]:
    present = [v for v in stream if v is not None]
    if detector == "cusum":
        return cusum(present, **config)
    return river_detections(lambda: RIVER[detector](config), present)


def main() -> None:
    streams = {**numeric_streams(), **bit_streams()}
    cases = []
    for detector in ["adwin", "kswin", "cusum"]:
        for name in NUMERIC:
            cases.append((detector, name, {}))
    for detector in ["ddm", "eddm", "hddm-a", "hddm-w"]:
        for name in BINARY:
            cases.append((detector, name, {}))
    for detector, names, config in EXTRA:
        for name in names:
            cases.append((detector, name, config))
    document = {
        "generated_by": "tests/reference/generate_detectors.py",
        "versions": {"river": river.__version__, "numpy": np.__version__},
        "cases": [
            {
                "detector": detector,
                "stream": name,
                "config": config,
                "detections": expected(detector, config, streams[name]),
            }
            for detector, name, config in cases
        ],
        "streams": streams,
    }
    with OUT.open("w") as f:
        f.write(dump(document))
    for c in document["cases"]:
        print(f'{c["detector"]} {c["stream"]} {json.dumps(c["config"])}: {c["detections"]}')


def dump(document: dict) -> str:
    """JSON with one case or stream per line, so diffs stay readable."""
    lines = ["{"]
    lines.append(f'  "generated_by": {json.dumps(document["generated_by"])},')
    lines.append(f'  "versions": {json.dumps(document["versions"])},')
    lines.append('  "cases": [')
    lines.append(",\n".join(f"    {json.dumps(c)}" for c in document["cases"]))
    lines.append("  ],")
    lines.append('  "streams": {')
    lines.append(
        ",\n".join(
            f"    {json.dumps(name)}: {json.dumps(s, allow_nan=False)}"
            for name, s in document["streams"].items()
        )
    )
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
