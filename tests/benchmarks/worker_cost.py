"""The worker's own cost per job, without Redis or other processes: N committed jobs run
in this process through ``run_job(worker=True)`` (what ``workers.jobs.run`` calls). Prints
the SQL statements per job (every one sent, by kind) and the CPU time per job minus its Aer
run (``time.process_time``: other load on the machine barely moves it). Not a test.

``BENCH_JOBS`` (default 200); ``BENCH_PROFILE=1`` adds a CPU-time cProfile of the runs
(``BENCH_PROFILE_SORT``, default cumulative; ``BENCH_PROFILE_LINES``, default 25), also
written to /tmp/worker_cost.prof. Uses ``<test db>_wcost`` next to the test database.
"""

from __future__ import annotations

import collections
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]


def _kind(statement: str) -> str:
    statement = " ".join(statement.split())
    words = statement.split(" ")
    head = words[0].upper()
    if head == "SELECT" and "pg_advisory" in statement:
        return "SELECT " + statement.split("(")[0].split()[-1]
    if head in {"INSERT", "UPDATE"}:
        target = words[2] if head == "INSERT" else words[1]
        return f"{head} {target}"
    if head == "SELECT" and " FROM " in statement:
        return "SELECT FROM " + statement.split(" FROM ", 1)[1].split()[0]
    return head


def main() -> None:
    n_jobs = int(os.environ.get("BENCH_JOBS", "200"))
    base = os.environ.get("QH_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/qh_test")
    parts = urlsplit(base)
    os.environ["QH_TEST_DATABASE_URL"] = urlunsplit(
        parts._replace(path=parts.path.rstrip("/") + "_wcost")
    )
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa
    from flask_migrate import upgrade

    import portal.models  # noqa: F401
    from portal import create_app
    from portal.core.extensions import db
    from portal.execution.backends import set_threads, warm_up
    from portal.execution.catalogue import ensure_catalogue
    from portal.execution.models import Hardware, Job, JobStatus
    from portal.execution.runner import run_job
    from tests.conftest import database_url, make_config, recreate_database
    from tests.factories.accounts import UserFactory
    from tests.factories.execution import JobFactory

    recreate_database(database_url())
    app = create_app(make_config(LOG_LEVEL="WARNING"))
    with app.app_context():
        upgrade(revision="heads")
        ensure_catalogue()
        set_threads(1)
        warm_up()
        user = UserFactory(username="wcost")
        device = db.session.execute(
            sa.select(Hardware).where(Hardware.name == "aer-simulator")
        ).scalar_one()
        ids = [
            JobFactory(user=user, hardware=device, device_id=device.name, shots=1024).id
            for _ in range(n_jobs + 5)
        ]
        db.session.commit()
        for key in ids[:5]:  # warm: parse cache, mappers, statement caches
            run_job(key, worker=True)
            db.session.remove()

        seen: list[str] = []

        def note(conn, cursor, statement, *args):
            seen.append(statement)

        def begun(conn):  # psycopg sends BEGIN before a transaction's first statement
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                seen.append("BEGIN")

        def committed(conn):
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                seen.append("COMMIT")

        sa.event.listen(db.engine, "before_cursor_execute", note)
        sa.event.listen(db.engine, "begin", begun)
        sa.event.listen(db.engine, "commit", committed)
        profiler = cProfile.Profile(time.process_time) if os.environ.get("BENCH_PROFILE") else None
        cpu = {}
        for key in ids[5:]:
            started = time.process_time()
            if profiler:
                profiler.enable()
            status = run_job(key, worker=True)
            db.session.remove()  # as workers.jobs.run does
            if profiler:
                profiler.disable()
            cpu[key] = time.process_time() - started
            assert status is JobStatus.COMPLETED, status
        sa.event.remove(db.engine, "before_cursor_execute", note)
        sa.event.remove(db.engine, "begin", begun)
        sa.event.remove(db.engine, "commit", committed)
        runs = db.session.execute(
            sa.select(Job).where(Job.id.in_(ids[5:])).options(sa.orm.joinedload(Job.result))
        ).scalars()
        aer_ms = {j.id: j.result.result_data["timings_ms"]["run_ms"] for j in runs}

    kinds = collections.Counter(_kind(s) for s in seen)
    cpu_ms = sorted(c * 1e3 for c in cpu.values())
    over = sorted(cpu[key] * 1e3 - aer_ms[key] for key in cpu)
    print(f"{n_jobs} jobs in-process (Bell, 1024 shots, aer-simulator)")
    print(f"round trips per job       {len(seen) / n_jobs:.2f} (statements, BEGIN, COMMIT)")
    for kind, count in kinds.most_common():
        print(f"  {count / n_jobs:5.2f}  {kind}")
    print(
        f"worker CPU per job        p50 {cpu_ms[len(cpu_ms) // 2]:.2f} ms  "
        f"mean {sum(cpu_ms) / n_jobs:.2f} ms"
    )
    print(
        f"CPU minus Aer run         p50 {over[len(over) // 2]:.2f} ms  "
        f"mean {sum(over) / n_jobs:.2f} ms"
    )
    if profiler:
        profiler.dump_stats("/tmp/worker_cost.prof")  # for pstats: callers and callees
        stats = pstats.Stats(profiler).sort_stats(
            os.environ.get("BENCH_PROFILE_SORT", "cumulative")
        )
        stats.print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "25")))


if __name__ == "__main__":
    main()
