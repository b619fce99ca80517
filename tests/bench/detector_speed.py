"""Updates per second of every streaming detector: Vigil's Wasm plugin against River 0.26.1, in
one run on the same streams, and the ratio of the two.

    python tests/bench/detector_speed.py [VALUES]

Run with a Python that has River 0.26.1 and NumPy. It runs `tests/bench/river_detectors.py`
(which writes the streams to `target/bench-data/` and times River), then
`cargo bench -p vigil-tests --bench detectors` (which times the plugins through the runtime on
the same streams), then River again, and prints a Markdown table: Vigil's rate, River's (the
better of its two runs, so that the machine's slow spells count against Vigil), and the ratio.
CUSUM is not in River: its row has Vigil's rate only.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def river(values: str) -> dict:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests/bench/river_detectors.py"), "target/bench-data", values],
        cwd=ROOT, stdout=subprocess.PIPE, check=True, text=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def vigil() -> dict:
    run = subprocess.run(
        ["cargo", "bench", "-q", "-p", "vigil-tests", "--bench", "detectors"],
        cwd=ROOT, env=dict(os.environ, VIGIL_BENCH_DATA=str(ROOT / "target/bench-data")),
        stdout=subprocess.PIPE, check=True, text=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    values = sys.argv[1] if len(sys.argv) > 1 else "200000"
    first = river(values)
    ours = vigil()
    second = river(values)
    print("| detector | Vigil (Wasm), updates/s | River 0.26.1, updates/s | Vigil / River |")
    print("| --- | ---: | ---: | ---: |")
    for name, rate in ours.items():
        theirs = max(first.get(name, 0), second.get(name, 0))
        ratio = f"{rate / theirs:.1f}x" if theirs else "-"
        river_rate = f"{theirs:,.0f}" if theirs else "-"
        print(f"| `{name}` | {rate:,.0f} | {river_rate} | {ratio} |")
    print(json.dumps({"vigil": ours, "river": [first, second]}), file=sys.stderr)


if __name__ == "__main__":
    main()
