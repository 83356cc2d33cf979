"""``make bench``: N small jobs through API → Redis → worker → PostgreSQL → result, and the
same circuits in a plain Aer loop in the same run. Prints the workers' capacity (a full
queue drained, and the same queue drained by one worker: the scale-out ratio), the per-job
overhead over raw Aer, and end-to-end throughput and latency p50/p95 while this process
submits through the API. Not a test: nothing is asserted.

Uses its own database (``<test db>_bench``) and Redis DB 12 (``BENCH_REDIS_DB``) next to the
test services.
Settings: BENCH_JOBS (default 400), BENCH_WORKERS (default 2), BENCH_QUBITS (default 5),
BENCH_SWEEP (default 100): a parameter sweep of that many bindings as one sampler job
(``"primitive": "sampler"``, one Aer run with parameter binding) against the same bindings
as that many separate circuit jobs, end to end, and their ratio, with the workers' CPU (and
this process's, which submits through the API) for each. BENCH_SWEEP_REPEAT (default 1):
run that pair so many times, alternating, and print each and the median.
BENCH_SCALE_REPEAT (default 3): drains by BENCH_WORKERS workers, each between two drains by
one worker (the scale-out ratio is their median); with 2 workers, each drain by two follows
the machine's own gain from a second process (``aer_ceiling.py``), printed beside it.
BENCH_ONLY=sweep: the sweep only (no plain Aer loop, capacity or end-to-end phases).
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def _urls() -> tuple[str, str]:
    base = os.environ.get("QH_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/qh_test")
    parts = urlsplit(base)
    db_url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench"))
    redis = urlsplit(os.environ.get("QH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    return db_url, urlunsplit(redis._replace(path="/" + os.environ.get("BENCH_REDIS_DB", "12")))


def ghz(n: int) -> str:
    body = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(n - 1))
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n{body}'
        "measure q -> c;\n"
    )


SWEEP_PROGRAM = """OPENQASM 3.0;
include "stdgates.inc";
input float theta;
bit[2] c;
qubit[2] q;
ry(theta) q[0];
cx q[0], q[1];
c = measure q;
"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def plain_aer(source: str, runs: int) -> tuple[float, float]:
    """Seconds per run of parse-free Aer on the same circuit (the floor): Aer's defaults, and
    one OpenMP thread per run as the workers use; the faster one is the floor."""
    from qiskit_aer import AerSimulator

    from portal.core.programs import parse_program

    circuit = parse_program(source)
    figures = []
    for options in ({}, {"max_parallel_threads": 1}):
        sim = AerSimulator()
        sim.run(circuit, shots=1024, **options).result()
        started = time.perf_counter()
        for _ in range(runs):
            sim.run(circuit, shots=1024, **options).result()
        figures.append((time.perf_counter() - started) / runs)
    return figures[0], figures[1]


def span(jobs: list[dict], start: str) -> float:
    """Seconds from the first job's ``start`` to the last result stored."""
    return (max(j["finished"] for j in jobs) - min(j[start] for j in jobs)).total_seconds()


def drain_window(jobs: list[dict]) -> tuple[Any, Any, int]:
    """(start, end, jobs run inside) of the time every worker of the drain was at work: from
    the last worker's first start to the first worker's last finish. The workers are started
    with the queue full and warm up unevenly (a few hundred ms), so first start → last finish
    would count one worker's time alone as the drain's."""
    by_worker: dict[str, list] = {}
    for job in jobs:
        by_worker.setdefault(job["worker"], []).append(job)
    start = max(min(j["started"] for j in mine) for mine in by_worker.values())
    end = min(max(j["finished"] for j in mine) for mine in by_worker.values())
    return start, end, sum(1 for j in jobs if j["started"] >= start and j["finished"] <= end)


def drain_rate(jobs: list[dict]) -> float:
    """Jobs per second while every worker of the drain was at work (``drain_window``)."""
    start, end, inside = drain_window(jobs)
    return inside / (end - start).total_seconds()


class MachineBusy:
    """The machine's busy CPU (``/proc/stat``: all but idle and iowait) sampled every 0.1 s
    by a thread, so a drain's window can be read back: how many cores were busy, and the CPU
    of all processes (workers, PostgreSQL, Redis, this one) per job."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []  # (time, busy ticks so far)
        self.ticks = os.sysconf("SC_CLK_TCK")

    def start(self) -> MachineBusy:
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self) -> None:
        while True:  # a daemon thread: it ends with the bench
            with open("/proc/stat") as stat:
                fields = [int(f) for f in stat.readline().split()[1:9]]
            self.samples.append((time.time(), sum(fields) - fields[3] - fields[4]))
            time.sleep(0.1)

    def cores_busy(self, start: Any, end: Any) -> float:
        """Cores busy on average from ``start`` to ``end`` (datetimes), from the samples
        nearest inside the window."""
        inside = [s for s in self.samples if start.timestamp() <= s[0] <= end.timestamp()]
        if len(inside) < 2:
            return float("nan")
        (t0, busy0), (t1, busy1) = inside[0], inside[-1]
        return (busy1 - busy0) / self.ticks / (t1 - t0)


def busy_line(busy: MachineBusy, drains: list[list[dict]]) -> str:
    """Median cores busy and CPU ms a job over ``drains``, as one figure each."""
    cores, per_job = [], []
    for jobs in drains:
        start, end, inside = drain_window(jobs)
        used = busy.cores_busy(start, end)
        cores.append(used)
        per_job.append(used * (end - start).total_seconds() / inside * 1e3)
    return f"{statistics.median(cores):.2f} cores ({statistics.median(per_job):.2f} ms a job)"


def start_workers(n: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "worker",
                "--name",
                f"bench-{i}",
                "--reconcile-every",
                "0",
                "--aer-threads",
                "1",
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
        )
        for i in range(n)
    ]


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.wait(timeout=30)


def cpu_seconds(workers: list[subprocess.Popen]) -> float:
    """User + system CPU seconds the worker processes have used so far (they never fork)."""
    import psutil

    return sum(sum(psutil.Process(w.pid).cpu_times()[:2]) for w in workers)


def main() -> None:
    only = os.environ.get("BENCH_ONLY", "")
    if only not in ("", "sweep"):
        raise SystemExit(f"BENCH_ONLY={only!r}: use 'sweep' or leave it unset")
    n_jobs = int(os.environ.get("BENCH_JOBS", "400"))
    n_workers = int(os.environ.get("BENCH_WORKERS", "2"))
    qubits = int(os.environ.get("BENCH_QUBITS", "5"))
    db_url, redis_url = _urls()
    os.environ.update(
        QH_ENV="testing",
        QH_DATABASE_URL=db_url,
        QH_REDIS_URL=redis_url,
        QH_SECRET_KEY=SECRET,
        QH_LOG_LEVEL="WARNING",
        QH_RATELIMIT_ENABLED="0",
    )
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade
    from redis import Redis

    from portal import create_app
    from portal.accounts.tokens import issue_tokens
    from portal.core.extensions import db
    from portal.execution.catalogue import ensure_catalogue
    from portal.execution.models import Job, JobStatus
    from tests.benchmarks.aer_ceiling import machine_scale_out
    from tests.conftest import recreate_database
    from tests.factories.accounts import UserFactory

    recreate_database(db_url)
    Redis.from_url(redis_url).flushdb()
    app = create_app({"BCRYPT_ROUNDS": 4, "RATELIMIT_ENABLED": False})
    source = ghz(qubits)
    body = {"device": "aer-simulator", "shots": 1024, "program": {"source": source}}
    with app.app_context():
        upgrade(revision="heads")
        ensure_catalogue()
        user = UserFactory(username="bench")
        db.session.commit()
        headers = {"Authorization": f"Bearer {issue_tokens(user).access_token}"}
        db.session.commit()
        client = app.test_client()

        def submit(count: int) -> float:
            started = time.perf_counter()
            for _ in range(count):
                resp = client.post("/api/v1/jobs", json=body, headers=headers)
                assert resp.status_code == 201, resp.get_json()
                db.session.remove()  # as a server does after each request: nothing cached
            return time.perf_counter() - started

        def wait_done(interval: float = 0.25) -> list:
            # Rarely: the figures come from the jobs' own times, and a 20 ms poll cost 8 % of
            # a core here plus 8 % in its PostgreSQL backend, taken from the workers.
            while True:
                db.session.remove()
                left = db.session.execute(
                    db.select(db.func.count())
                    .select_from(Job)
                    .where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
                ).scalar_one()
                if not left:
                    break
                time.sleep(interval)
            rows = db.session.execute(db.select(Job).options(db.joinedload(Job.result))).scalars()
            done = [
                {
                    "created": j.created_at,
                    "started": j.started_at,
                    "finished": j.finished_at,
                    "worker": j.platform_job_id,
                    "run_ms": j.result.result_data["timings_ms"]["run_ms"],
                }
                for j in rows
                if j.status is JobStatus.COMPLETED
            ]
            db.session.execute(db.delete(Job))
            db.session.commit()
            return done

        if only == "sweep":
            workers = start_workers(n_workers)
        else:
            print(f"Plain Aer loop: {qubits}-qubit GHZ, 1024 shots ...", flush=True)
            aer_default, aer_one_thread = plain_aer(source, max(200, n_jobs // 2))
            aer_seconds = min(aer_default, aer_one_thread)

            # Phase 1, worker capacity: the jobs are submitted through the API while no
            # worker runs, then the workers drain the queue. Throughput = the jobs run while
            # every worker was at work / that time (``drain_rate``). Per-job overhead = each
            # worker's cycle (one job's start to its next job's start: dequeue, claim, run,
            # finish, RQ clean-up) minus that job's Aer run.
            # Scale-out: the same full queue drained by one worker before and after each
            # drain by the n workers (BENCH_SCALE_REPEAT of them, default 3), each n-worker
            # drain compared with the mean of its two neighbours: the machine's speed swings
            # within seconds, and the median of the ratios is what survives that drift.
            def drain(n: int) -> list:
                print(f"{n_jobs} queued jobs drained by {n} worker(s) ...")
                submit(n_jobs)
                started = start_workers(n)
                try:
                    return wait_done()
                finally:
                    stop_workers(started)

            repeat_scale = max(1, int(os.environ.get("BENCH_SCALE_REPEAT", "3")))
            busy = MachineBusy().start()
            singles = [drain(1)] if n_workers > 1 else []
            drains, ceilings = [], []
            for _ in range(repeat_scale if n_workers > 1 else 1):
                if n_workers == 2:  # the machine's own 1 -> 2 gain, in the same minute
                    ceilings.append(machine_scale_out(source))
                drains.append(drain(n_workers))
                if n_workers > 1:
                    singles.append(drain(1))
            workers = start_workers(n_workers)
        try:
            if only != "sweep":
                submit(4 * n_workers)  # untimed: the restarted workers' first jobs
                wait_done()
                # Phase 2, end to end: the workers (warmed above) while this process submits
                # through the API on the same cores. Throughput = jobs / (first submit →
                # last result stored).
                print(f"End to end: {n_jobs} jobs submitted while {n_workers} workers run ...")
                submitted = submit(n_jobs)
                done = wait_done()
            # Phase 3, a sweep: N bindings as one sampler job against N circuit jobs.
            n_sweep = int(os.environ.get("BENCH_SWEEP", "100"))
            thetas = [3.14159 * i / max(1, n_sweep - 1) for i in range(n_sweep)]
            print(f"Sweep: {n_sweep} bindings as one sampler job and as {n_sweep} jobs ...")

            def timed(bodies: list[dict]) -> tuple[float, float, float]:
                """(seconds, the workers' CPU seconds, this process's CPU seconds)."""
                started, cpu, own = time.perf_counter(), cpu_seconds(workers), time.process_time()
                for one in bodies:
                    resp = client.post("/api/v1/jobs", json=one, headers=headers)
                    assert resp.status_code == 201, resp.get_json()
                    db.session.remove()
                wait_done(interval=0.005)  # finer: the one-job figure is ~0.1 s
                return (
                    time.perf_counter() - started,
                    cpu_seconds(workers) - cpu,
                    time.process_time() - own,
                )

            one_job = [
                {"device": "aer-simulator", "primitive": "sampler",
                 "pubs": [[SWEEP_PROGRAM, thetas, 1024]]}
            ]  # fmt: skip
            many_jobs = [
                {"device": "aer-simulator", "shots": 1024, "program": {"source": SWEEP_PROGRAM},
                 "inputs": {"theta": t}}
                for t in thetas
            ]  # fmt: skip
            # Untimed: this process's first sampler submission imports the primitives'
            # containers (~0.5 s), which a long-running web worker pays once, not per job;
            # one small sweep for each worker (its first parse of the program) and a few
            # circuit jobs warm the workers.
            warm = {"device": "aer-simulator", "primitive": "sampler",
                    "pubs": [[SWEEP_PROGRAM, [0.0, 1.0], 16]]}  # fmt: skip
            timed([warm] * n_workers + many_jobs[: 2 * n_workers])
            repeat = max(1, int(os.environ.get("BENCH_SWEEP_REPEAT", "1")))
            sweeps = [(timed(one_job), timed(many_jobs)) for _ in range(repeat)]
        finally:
            stop_workers(workers)
    if only != "sweep":
        capacities = [drain_rate(one) for one in drains]
        capacity = statistics.median(capacities)
        by_worker: dict[str, list] = {}
        for job in itertools.chain(*drains):  # each drain's workers are new processes
            by_worker.setdefault(job["worker"], []).append(job)
        cycle_overhead = []
        for jobs in by_worker.values():
            jobs.sort(key=lambda j: j["started"])
            for job, following in itertools.pairwise(jobs):
                cycle = (following["started"] - job["started"]).total_seconds() * 1e3
                cycle_overhead.append(cycle - job["run_ms"])
        latency = [(j["finished"] - j["created"]).total_seconds() * 1e3 for j in done]
        throughput = len(done) / span(done, "created")

        aer_rate = 1 / aer_seconds
        print()
        print(
            f"plain Aer loop            {aer_rate:8.1f} runs/s   ({aer_default * 1e3:.2f} ms "
            f"per run with Aer's defaults, {aer_one_thread * 1e3:.2f} ms with one thread; the "
            "faster is the floor)"
        )
        print(
            f"worker capacity           {capacity:8.1f} jobs/s   (median of {len(drains)} "
            f"full queues of {n_jobs} drained by {n_workers} workers: "
            f"{', '.join(f'{c:.1f}' for c in capacities)}; ratio to plain Aer "
            f"{capacity / aer_rate:.2f}; while all {n_workers} were at work)"
        )
        if singles:
            alone = [drain_rate(one) for one in singles]
            pairs = list(zip(capacities, alone, alone[1:], strict=False))  # alone: one more
            ratios = [c / ((a + b) / 2) for c, a, b in pairs]
            print(
                f"scale-out 1 -> {n_workers} workers  ratio {statistics.median(ratios):.2f}x   "
                f"(median; goal >= 1.7x for 2 workers on 2 cores; each drain by {n_workers} "
                f"against one worker's drains just before and after it: "
                + "; ".join(
                    f"{c:.1f} against {a:.1f}/{b:.1f} = {r:.2f}x"
                    for (c, a, b), r in zip(pairs, ratios, strict=True)
                )
                + ")"
            )
            if ceilings:
                machine = [both / ((a + b) / 2) for a, both, b in ceilings]
                share = statistics.median(ratios) / statistics.median(machine)
                print(
                    f"machine's own 1 -> 2 gain  ratio {statistics.median(machine):.2f}x   "
                    "(median; the plain Aer loop, one thread a run, in one process, then two "
                    "at once, then one, 2 s each, just before each drain by 2: "
                    + "; ".join(
                        f"{both:.0f} against {a:.0f}/{b:.0f} runs/s = {m:.2f}x"
                        for (a, both, b), m in zip(ceilings, machine, strict=True)
                    )
                    + f"; the workers' scale-out is {share:.0%} of it)"
                )
            print(
                f"machine busy in drains     {busy_line(busy, singles)} with one worker, "
                f"{busy_line(busy, drains)} with {n_workers}   (cores busy of "
                f"{os.cpu_count()}, all processes, while every worker was at work; the CPU "
                "a job: what two workers would need twice of to double)"
            )
            runs_alone = [j["run_ms"] for j in itertools.chain(*singles)]
            runs_n = [j["run_ms"] for j in itertools.chain(*drains)]
            print(
                f"Aer run inside the jobs     p50 {pct(runs_alone, 50):.2f} ms with one worker, "
                f"{pct(runs_n, 50):.2f} ms with {n_workers}   (the simulation itself, as the "
                "job's result times it: what the cores share besides the portal)"
            )
        print(
            f"per-job overhead          p50 {pct(cycle_overhead, 50):.2f} ms   "
            f"p95 {pct(cycle_overhead, 95):.2f} ms   (a worker's whole cycle per job minus its "
            "Aer run: Redis dequeue, PostgreSQL lock/claim/read/writes/commit, usage, notify)"
        )
        print(
            f"end to end                {throughput:8.1f} jobs/s   ({len(done)}/{n_jobs} "
            f"completed; ratio to plain Aer {throughput / aer_rate:.2f}; submitting {n_jobs} "
            f"through the API took {submitted:.2f} s = {submitted / n_jobs * 1e3:.1f} ms each, "
            "on the same cores)"
        )
        print(
            f"end-to-end latency        p50 {pct(latency, 50):.1f} ms   "
            f"p95 {pct(latency, 95):.1f} ms   (submit → result stored; includes queueing "
            "behind earlier jobs)"
        )
    ratios = []
    for (one, one_cpu, one_api), (many, many_cpu, many_api) in sweeps:
        ratios.append(many / one)
        print(
            f"{n_sweep}-binding sweep         one sampler job {one:.3f} s, {n_sweep} jobs "
            f"{many:.2f} s: one job is {many / one:.1f}x faster (submit → all results stored); "
            f"workers' CPU {one_cpu * 1e3:.0f} ms against {many_cpu * 1e3:.0f} ms "
            f"({many_cpu / max(one_cpu, 1e-9):.1f}x; 10 ms ticks), this process's (API, polls) "
            f"{one_api * 1e3:.0f} ms against {many_api * 1e3:.0f} ms"
        )
    if len(ratios) > 1:
        print(
            f"{n_sweep}-binding sweep, median of {len(ratios)}: {statistics.median(ratios):.1f}x "
            f"({min(ratios):.1f}-{max(ratios):.1f}x)"
        )


if __name__ == "__main__":
    main()
