"""Runs a command and prints its wall time (s) and peak resident memory (MiB) as JSON."""
import json
import resource
import subprocess
import sys
import time

start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
wall = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall_s": round(wall, 3), "peak_mib": round(peak_kib / 1024, 1), "exit": done.returncode}))
