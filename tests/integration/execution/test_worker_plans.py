"""The worker's claim and finish reach the job through its primary key, whatever the
planner knows about the jobs table (issue 23). Their status condition is no index condition:
on a table without statistics the planner rated the status index as cheap as the primary
key and took it, and that index holds an entry for every past QUEUED and RUNNING row until
vacuum, so each claim and finish read all of them (measured: the CPU a job grew from 2.9 to
5.6 ms within one `make bench`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.execution.models import JobStatus
from portal.execution.runner import run_job
from tests.factories.accounts import UserFactory
from tests.factories.execution import JobFactory


@pytest.fixture
def sent(app):
    """The statements and parameters sent to PostgreSQL, as the driver got them."""
    seen: list[tuple[str, object]] = []

    def statement(conn, cursor, sql, parameters, *args):
        seen.append((sql, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", statement)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", statement)


def _plans(sql: str, parameters) -> dict[str, str]:
    """The plan of ``sql`` as PostgreSQL would run it once (custom) and prepared (generic).
    Sequential scans are priced out: on a near-empty table one may be cheapest, and the
    question here is which index the statement takes."""
    plans = {}
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for mode in ("force_custom_plan", "force_generic_plan"):
            conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
            rows = conn.exec_driver_sql(f"EXPLAIN {sql}", parameters)
            plans[mode] = "\n".join(r[0] for r in rows)
        conn.rollback()
    return plans


def _claim_and_finish(catalogue, sent) -> list[tuple[str, object]]:
    job = JobFactory(user=UserFactory(), hardware=catalogue["aer-simulator"]).id
    db.session.commit()
    sent.clear()
    assert run_job(job, worker=True) is JobStatus.COMPLETED
    claim = [s for s in sent if s[0].startswith("UPDATE jobs") and "pg_advisory_lock" in s[0]]
    finish = [s for s in sent if s[0].startswith("WITH done AS (UPDATE jobs")]
    assert len(claim) == 1 and len(finish) == 1
    return [*claim, *finish]


def _assert_by_primary_key(statements) -> None:
    for sql, parameters in statements:
        for mode, plan in _plans(sql, parameters).items():
            jobs_scans = [
                line for line in plan.splitlines() if "Scan" in line and " on jobs" in line
            ]
            assert jobs_scans, plan
            assert all("using pk_jobs on jobs" in line for line in jobs_scans), (mode, plan)


def test_claim_and_finish_use_the_primary_key_on_a_table_without_statistics(
    committed_db, catalogue, sent
):
    # As a new or truncated table has it (the tests' and the bench's): no statistics yet.
    statements = _claim_and_finish(catalogue, sent)
    tuples = db.session.execute(
        sa.text("SELECT reltuples FROM pg_class WHERE relname = 'jobs'")
    ).scalar_one()
    assert tuples <= 0  # never analysed: the case the planner tied
    _assert_by_primary_key(statements)


def test_claim_and_finish_use_the_primary_key_with_many_jobs_analysed(
    committed_db, catalogue, sent
):
    device, user = catalogue["aer-simulator"], UserFactory()
    for status in (JobStatus.COMPLETED,) * 150 + (JobStatus.QUEUED, JobStatus.RUNNING) * 25:
        JobFactory(user=user, hardware=device, status=status)
    db.session.commit()
    statements = _claim_and_finish(catalogue, sent)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE jobs")
    _assert_by_primary_key(statements)
