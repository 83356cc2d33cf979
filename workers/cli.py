"""``flask --app wsgi worker`` and ``flask --app wsgi reconcile``."""

from __future__ import annotations

import threading
import time

import click
import structlog
from flask import current_app
from flask.cli import with_appcontext

import portal.models  # noqa: F401 - every mapper, so relationships resolve in this process
from portal import scheduler
from portal.core.queue import job_queue, redis_connection
from portal.execution.backends import set_threads, warm_up
from workers.worker import PortalWorker

log = structlog.get_logger("portal.execution.worker")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--name", default=None, help="Worker name (default: RQ's host.pid).")
@click.option(
    "--reconcile-every",
    default=15.0,
    show_default=True,
    help="Seconds between reconciler passes (0 = never).",
)
@click.option(
    "--aer-threads",
    default=1,
    show_default=True,
    help="OpenMP threads per simulation (0 = all cores). Keep 1 with one worker per core; "
    "raise it for fewer workers running wide circuits.",
)
@with_appcontext
def worker_command(burst: bool, name: str | None, reconcile_every: float, aer_threads: int) -> None:
    """Run jobs from Redis: imports Qiskit/Aer once, never forks, reconciles on a schedule.

    Uses RQ's SimpleWorker (no fork per job): a process that has run an Aer simulation
    hangs its forked children, and a fork per job would re-pay the import otherwise. Portal
    jobs take the lean path of ``workers.worker.PortalWorker`` (see there). The periodic
    work (``portal.scheduler``) runs in a background thread."""
    started = time.perf_counter()
    set_threads(aer_threads)
    warm_up()
    log.info("qiskit ready", seconds=round(time.perf_counter() - started, 3))
    app = current_app._get_current_object()
    stop = threading.Event()
    if reconcile_every > 0:
        threading.Thread(
            target=scheduler.run, args=(app, reconcile_every, stop), daemon=True
        ).start()
    config = app.config
    # A short RQ worker TTL: the blocking dequeue returns every ~20 s, so an idle worker beats.
    worker = PortalWorker([job_queue()], connection=redis_connection(), name=name, worker_ttl=35)
    worker.stop_grace = float(config["WORKER_STOP_GRACE_SECONDS"])
    try:
        worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
    finally:
        stop.set()


@click.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """Re-enqueue QUEUED jobs the queue lost; fail RUNNING jobs whose worker died."""
    app = current_app._get_current_object()
    report = scheduler.reconcile_once(app)
    scheduler.flush_counters(app)
    scheduler.deliver_webhooks(app)
    click.echo(" ".join(f"{k}={v}" for k, v in report.items()) or "reconcile failed (see log)")
