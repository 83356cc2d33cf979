"""Build checks in tests: ``run_build_checks()`` runs the queued build-check jobs (the build's
simulation, ``workers.jobs.check``) in this process as a worker does, as ``run_job`` does for
quantum jobs. A real ``flask worker`` (``tests.worker_process.start_worker``) runs them too."""

from __future__ import annotations

from portal.projects.checks import CHECK_FUNCTION


def run_build_checks() -> int:
    """Run every build check waiting in the queue; returns how many ran."""
    from rq.job import Job as RQJob

    import workers.jobs
    from portal.core.queue import job_queue

    queue = job_queue()
    ran = 0
    for job_id in queue.get_job_ids():
        rq_job = RQJob.fetch(job_id, connection=queue.connection)
        if rq_job.func_name != CHECK_FUNCTION:
            continue
        queue.remove(job_id)
        rq_job.delete()
        workers.jobs.check(*rq_job.args)
        ran += 1
    return ran
