"""``make bench``: N small jobs through API → Redis → worker → PostgreSQL → result, and the
same circuits in a plain Aer loop in the same run. Prints throughput, end-to-end latency
p50/p95 and the overhead per job over raw Aer. Not a test: nothing is asserted.

Uses its own database (``<test db>_bench``) and Redis DB 14 next to the test services.
Settings: BENCH_JOBS (default 400), BENCH_WORKERS (default 2), BENCH_QUBITS (default 5).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def _urls() -> tuple[str, str]:
    base = os.environ.get("QH_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/qh_test")
    parts = urlsplit(base)
    db_url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench"))
    redis = urlsplit(os.environ.get("QH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    return db_url, urlunsplit(redis._replace(path="/14"))


def ghz(n: int) -> str:
    body = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(n - 1))
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n{body}'
        "measure q -> c;\n"
    )


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def plain_aer(source: str, runs: int) -> float:
    """Seconds per run of parse-free Aer on the same circuit (the floor)."""
    from qiskit_aer import AerSimulator

    from portal.execution.programs import parse_program

    circuit = parse_program(source)
    sim = AerSimulator()
    sim.run(circuit, shots=1024).result()
    started = time.perf_counter()
    for _ in range(runs):
        sim.run(circuit, shots=1024).result()
    return (time.perf_counter() - started) / runs


def main() -> None:
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
    from portal.execution.catalogue import ensure_catalogue
    from portal.execution.models import Job, JobStatus
    from portal.extensions import db
    from tests.conftest import recreate_database
    from tests.factories.accounts import UserFactory

    recreate_database(db_url)
    Redis.from_url(redis_url).flushdb()
    app = create_app({"BCRYPT_ROUNDS": 4, "RATELIMIT_ENABLED": False})
    source = ghz(qubits)
    workers = []
    with app.app_context():
        upgrade(revision="heads")
        ensure_catalogue()
        user = UserFactory(username="bench")
        db.session.commit()
        headers = {"Authorization": f"Bearer {issue_tokens(user).access_token}"}
        db.session.commit()

        print(f"Plain Aer loop: {qubits}-qubit GHZ, 1024 shots ...", flush=True)
        aer_seconds = plain_aer(source, max(200, n_jobs // 2))

        for i in range(n_workers):
            workers.append(
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
                    ],
                    cwd=ROOT,
                    env=dict(os.environ),
                    stdout=subprocess.DEVNULL,
                )
            )
        client = app.test_client()
        # Let workers import Qiskit and warm up before the clock starts (one job each).
        for _ in range(n_workers * 2):
            client.post(
                "/api/v1/jobs",
                json={
                    "device": "aer-simulator",
                    "shots": 1024,
                    "program": {"source": source},
                    "run_mode": "BLOCKING",
                },
                headers=headers,
            )
        db.session.execute(db.delete(Job))
        db.session.commit()

        print(f"Through the portal: {n_jobs} jobs, {n_workers} workers ...", flush=True)
        started = time.perf_counter()
        for _ in range(n_jobs):
            resp = client.post(
                "/api/v1/jobs",
                json={"device": "aer-simulator", "shots": 1024, "program": {"source": source}},
                headers=headers,
            )
            assert resp.status_code == 201, resp.get_json()
        submitted = time.perf_counter() - started
        while True:
            db.session.remove()
            left = db.session.execute(
                db.select(db.func.count())
                .select_from(Job)
                .where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
            ).scalar_one()
            if not left:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        jobs = db.session.execute(db.select(Job)).scalars().all()
        done = [j for j in jobs if j.status is JobStatus.COMPLETED]
        latency = [(j.finished_at - j.created_at).total_seconds() * 1e3 for j in done]
        overhead = []
        for j in done:
            t = j.result.result_data["timings_ms"]
            overhead.append(t["worker_total_ms"] - t["run_ms"])
        first = min(j.created_at for j in done)
        last = max(j.finished_at for j in done)
        throughput = len(done) / (last - first).total_seconds()
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.wait(timeout=30)

    aer_rate = 1 / aer_seconds
    per_job_ms = 1e3 * n_workers / throughput
    print()
    print(
        f"plain Aer loop            {aer_rate:8.1f} runs/s   ({aer_seconds * 1e3:.2f} ms per run)"
    )
    print(
        f"portal, {n_workers} workers        {throughput:8.1f} jobs/s   "
        f"({len(done)}/{n_jobs} completed; submitting took {submitted:.2f} s, all done in "
        f"{elapsed:.2f} s)"
    )
    print(f"ratio to plain Aer        {throughput / aer_rate:8.2f}")
    print(
        f"end-to-end latency        p50 {pct(latency, 50):.1f} ms   p95 {pct(latency, 95):.1f} ms"
        "   (submit → result stored; includes queueing behind earlier jobs)"
    )
    print(
        f"worker overhead per job   p50 {pct(overhead, 50):.2f} ms   p95 {pct(overhead, 95):.2f} ms"
        "   (worker time minus the Aer run: DB reads/writes, parse, usage, notify)"
    )
    print(
        f"wall time per job/worker  {per_job_ms:.2f} ms vs {aer_seconds * 1e3:.2f} ms raw Aer "
        f"-> {per_job_ms - aer_seconds * 1e3:.2f} ms overhead"
    )


if __name__ == "__main__":
    main()
