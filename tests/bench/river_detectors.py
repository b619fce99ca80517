"""Times River's streaming detectors on the streams `tests/benches/detectors.rs` feeds the Wasm
plugins, and prints one JSON object: updates per second for each detector name.

    python tests/bench/river_detectors.py [DATA_DIR [VALUES]]

Needs River 0.26.1 and NumPy. Also writes both streams to DATA_DIR (default
`target/bench-data`) as little-endian f64 (`detector_numeric.f64`, `detector_bits.f64`), for the
Wasm side to read. The streams: a numeric stream of standard normal values whose mean
moves by 1 every 50,000 values, and a 0/1 error stream whose error rate alternates between 0.2
and 0.4 every 50,000 values, both from fixed seeds. Each detector takes the median of three
passes over VALUES values (default 200,000; KSWIN, at about a millisecond per update in River,
over a tenth of them). CUSUM is not in River and is not timed here.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
import time

import numpy as np
from river import drift


def numeric_stream(n: int) -> list[float]:
    rng = np.random.default_rng(0)
    shift = (np.arange(n) // 50_000) % 2
    return (rng.normal(0.0, 1.0, n) + shift).tolist()


def error_stream(n: int) -> list[int]:
    rng = np.random.default_rng(1)
    rate = np.where((np.arange(n) // 50_000) % 2 == 0, 0.2, 0.4)
    return (rng.random(n) < rate).astype(int).tolist()


DETECTORS = {
    "adwin": (drift.ADWIN, "numeric"),
    "page-hinkley": (drift.PageHinkley, "numeric"),
    "kswin": (lambda: drift.KSWIN(seed=42), "numeric"),
    "ddm": (drift.binary.DDM, "bits"),
    "eddm": (drift.binary.EDDM, "bits"),
    "hddm-a": (drift.binary.HDDMA, "bits"),
    "hddm-w": (drift.binary.HDDMW, "bits"),
}


def updates_per_second(make, stream) -> float:
    times = []
    for _ in range(3):
        detector = make()
        start = time.perf_counter()
        for x in stream:
            detector.update(x)
        times.append(time.perf_counter() - start)
    return len(stream) / statistics.median(times)


def main() -> None:
    data = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench-data")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    streams = {"numeric": numeric_stream(n), "bits": error_stream(n)}
    data.mkdir(parents=True, exist_ok=True)
    np.asarray(streams["numeric"], dtype="<f8").tofile(data / "detector_numeric.f64")
    np.asarray(streams["bits"], dtype="<f8").tofile(data / "detector_bits.f64")
    result = {}
    for name, (make, kind) in DETECTORS.items():
        stream = streams[kind]
        if name == "kswin":
            stream = stream[: n // 10]
        result[name] = round(updates_per_second(make, stream))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
