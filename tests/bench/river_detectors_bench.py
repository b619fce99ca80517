"""River's detectors on the streams `vigil bench detectors` wrote, scored the same way, side by
side with Vigil's (docs/detectors.md, "Benchmark").

    vigil bench detectors --out DIR
    python tests/bench/river_detectors_bench.py DIR [--kswin-repetitions N]

Needs River 0.26.1 and NumPy. Reads DIR/bench.json (the streams, their true drifts and Vigil's
detections) and each stream's `error` column from DIR/streams/, runs River's ADWIN,
PageHinkley, KSWIN (seed 42, as the plugin's default), DDM, EDDM, HDDMA and HDDMW with their
defaults over each stream in a fresh detector, and scores both sides with the same definitions
as Vigil: a drift at p is detected by the first detection d with p <= d < min(next drift, end
of stream, p + horizon), delay d - p; every detection on a drift-free stream is a false alarm,
counted per 10,000 drift-free values. River's KSWIN takes about a millisecond per value, so it
runs on the first N repetitions of each stream (default 1), and Vigil's KSWIN is scored on the
same streams. CUSUM is not in River.

Prints the comparison and writes DIR/comparison.json and DIR/comparison.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import pathlib
import statistics
import time

import numpy as np
from river import drift

RIVER = {
    "adwin": (drift.ADWIN, float),
    "page-hinkley": (drift.PageHinkley, float),
    "kswin": (lambda: drift.KSWIN(seed=42), float),
    "ddm": (drift.binary.DDM, int),
    "eddm": (drift.binary.EDDM, int),
    "hddm-a": (drift.binary.HDDMA, int),
    "hddm-w": (drift.binary.HDDMW, int),
}


def score(streams: list[dict], detections: list[list[int]], horizon: int) -> dict:
    """Vigil's scoring (host/daemon/src/bench/metrics.rs) on one detector's detections."""
    drifts = missed = false_alarms = stable_values = 0
    delays: list[int] = []
    for stream, found in zip(streams, detections):
        if not stream["drifting"]:
            false_alarms += len(found)
            stable_values += stream["length"]
            continue
        points = stream["drifts"]
        for i, p in enumerate(points):
            end = min(points[i + 1] if i + 1 < len(points) else stream["length"], p + horizon)
            drifts += 1
            hit = next((d for d in found if p <= d < end), None)
            if hit is None:
                missed += 1
            else:
                delays.append(hit - p)
    return {
        "drifts": drifts,
        "detected": drifts - missed,
        "missed": missed,
        "mean_delay": statistics.fmean(delays) if delays else None,
        "median_delay": statistics.median(delays) if delays else None,
        "false_alarms": false_alarms,
        "stable_values": stable_values,
        "false_alarms_per_10k": false_alarms * 10_000 / stable_values if stable_values else None,
    }


def read_errors(path: pathlib.Path) -> np.ndarray:
    with path.open() as f:
        header = f.readline().strip().split(",")
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=header.index("error"))


def run_river(name: str, values: np.ndarray) -> tuple[list[int], float]:
    make, cast = RIVER[name]
    stream = [cast(x) for x in values.tolist()]
    start = time.perf_counter()
    detector = make()
    found = []
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.drift_detected:
            found.append(i)
    return found, time.perf_counter() - start


def fmt(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--kswin-repetitions", type=int, default=1)
    args = parser.parse_args()
    report = json.loads((args.dir / "bench.json").read_text())
    horizon = report["sizes"]["segment"]
    vigil_rates = {d["detector"]: d["values_per_second"] for d in report["detectors"]}
    errors = {s["file"]: read_errors(args.dir / s["file"]) for s in report["streams"]}

    rows = []
    for name in RIVER:
        streams = [
            s
            for s in report["streams"]
            if name != "kswin" or s["repetition"] < args.kswin_repetitions
        ]
        river_found, seconds = [], 0.0
        for s in streams:
            found, elapsed = run_river(name, errors[s["file"]])
            river_found.append(found)
            seconds += elapsed
        vigil_found = [s["detections"][name] for s in streams]
        values = sum(s["length"] for s in streams)
        vigil, river = score(streams, vigil_found, horizon), score(streams, river_found, horizon)
        river_rate = values / seconds
        # The target: Vigil's delay at most River's, at an equal or lower false-alarm rate.
        met = (vigil["mean_delay"] or 0) <= (river["mean_delay"] or 0) and (
            vigil["false_alarms_per_10k"] or 0
        ) <= (river["false_alarms_per_10k"] or 0)
        rows.append(
            {
                "detector": name,
                "streams": len(streams),
                "values": values,
                "vigil": vigil,
                "river": river,
                "same_detections": sum(a == b for a, b in zip(vigil_found, river_found)),
                "vigil_values_per_second": vigil_rates[name],
                "river_values_per_second": river_rate,
                "throughput_ratio": vigil_rates[name] / river_rate,
                "target_met": met,
                "river_detections": {s["file"]: f for s, f in zip(streams, river_found)},
            }
        )

    header = [
        "detector", "streams", "same detections",
        "delay Vigil", "delay River", "false alarms/10k Vigil", "false alarms/10k River",
        "missed Vigil", "missed River", "values/s Vigil", "values/s River", "ratio", "target",
    ]
    table = [
        [
            r["detector"], str(r["streams"]), f"{r['same_detections']}/{r['streams']}",
            fmt(r["vigil"]["mean_delay"]), fmt(r["river"]["mean_delay"]),
            fmt(r["vigil"]["false_alarms_per_10k"], 2), fmt(r["river"]["false_alarms_per_10k"], 2),
            f"{r['vigil']['missed']}/{r['vigil']['drifts']}",
            f"{r['river']['missed']}/{r['river']['drifts']}",
            f"{r['vigil_values_per_second']:.3g}", f"{r['river_values_per_second']:.3g}",
            f"{r['throughput_ratio']:.1f}x", "met" if r["target_met"] else "not met",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    for line in [header, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())

    (args.dir / "comparison.json").write_text(
        json.dumps({"seed": report["seed"], "quick": report["quick"], "detectors": rows}, indent=1)
        + "\n"
    )
    with (args.dir / "comparison.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["detector", "side", "streams", "drifts", "detected", "missed", "mean_delay",
             "median_delay", "false_alarms", "false_alarms_per_10k", "values_per_second"]
        )
        for r in rows:
            for side in ("vigil", "river"):
                s = r[side]
                writer.writerow(
                    [r["detector"], side, r["streams"], s["drifts"], s["detected"], s["missed"],
                     s["mean_delay"], s["median_delay"], s["false_alarms"],
                     s["false_alarms_per_10k"], r[f"{side}_values_per_second"]]
                )


if __name__ == "__main__":
    main()
