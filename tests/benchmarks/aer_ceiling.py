"""The machine's own scale-out, for ``make bench``: the plain Aer loop (one OpenMP thread a
run, as the workers run) in one process, then in two at once, then in one again, in three
back-to-back windows. What a second process gains on this machine swings from minute to
minute (1.6-2.4x here), so the workers' scale-out is printed beside what the simulator alone
gains in the same minute.

``machine_scale_out(source, seconds)`` runs it: two processes of
``python -m tests.benchmarks.aer_ceiling START SECONDS ROLE SOURCE`` that import and warm up
first, then run in the windows by the wall clock. Role 0 runs in all three windows, role 1
in the middle one only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GAP = 0.2  # seconds between windows: a window's last run ends inside the gap
IMPORT_TIME = 6.0  # seconds for both processes to import Qiskit and warm up, on a slow phase


def _windows(start: float, seconds: float) -> list[tuple[float, float]]:
    return [(start + i * (seconds + GAP), start + i * (seconds + GAP) + seconds) for i in range(3)]


def machine_scale_out(source: str, seconds: float = 2.0) -> tuple[float, float, float]:
    """(runs/s of one process, of two at once, of one again): two Aer loops in the middle
    window against one before and after it."""
    start = time.time() + IMPORT_TIME
    command = [sys.executable, "-m", "tests.benchmarks.aer_ceiling", str(start), str(seconds)]
    procs = [
        subprocess.Popen([*command, str(role), source], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for role in (0, 1)
    ]
    counts = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    if any(c.get("late") for c in counts):
        raise RuntimeError(f"an Aer loop process was not ready at the start: {counts}")
    first, both, last = counts[0]["runs"]
    return first / seconds, (both + counts[1]["runs"][0]) / seconds, last / seconds


def _loop(start: float, seconds: float, role: int, source: str) -> dict:
    from qiskit_aer import AerSimulator

    from portal.core.programs import parse_program

    circuit = parse_program(source)
    sim = AerSimulator()
    options = {"shots": 1024, "max_parallel_threads": 1}
    for _ in range(50):
        sim.run(circuit, **options).result()
    windows = _windows(start, seconds)
    mine = windows if role == 0 else windows[1:2]
    late = time.time() > windows[0][0]
    runs = []
    for begin, end in mine:
        while (now := time.time()) < begin:
            time.sleep(min(0.01, begin - now))
        count = 0
        while time.time() < end:
            sim.run(circuit, **options).result()
            count += 1
        runs.append(count)
    return {"runs": runs, "late": late}


if __name__ == "__main__":
    start_at, window, role_, program = sys.argv[1:5]
    print(json.dumps(_loop(float(start_at), float(window), int(role_), program)))
