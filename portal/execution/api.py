"""Execution JSON API: /hardware and /jobs (thin: parse, call services, commit, dispatch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from portal.accounts.auth import api_auth
from portal.apps.models import AppVersion
from portal.core.apidocs import error_responses
from portal.core.apipaging import envelope
from portal.core.errors import Conflict, NotFound
from portal.core.extensions import db
from portal.execution import policy, primitives
from portal.execution.hardware import get_hardware, list_hardware
from portal.execution.jobs import app_label, day_range, get_job, list_jobs, result_document
from portal.execution.models import JobRunMode
from portal.execution.pricing import check_shots, estimate_cost
from portal.execution.queue import queue_position, wait_estimate
from portal.execution.schemas import (
    EstimateArgs,
    EstimateSchema,
    HardwareArgs,
    HardwarePageSchema,
    HardwareSchema,
    JobCreateSchema,
    JobListArgs,
    JobPageSchema,
    JobSchema,
    JobTagsSchema,
    ResultSchema,
    job_item,
)
from portal.execution.submission import cancel_job, set_tags, submit_job, wait_for

# How a key that runs one app submits a job: (user, key, the request's fields) -> Job. The
# marketplace registers its subscription keys' (``portal.marketplace.runs.run_from_api``) at
# app creation, so execution need not know the marketplace.
KEY_SUBMITTERS: list[Callable[[Any, Any, dict], Any]] = []


def register_key_submitter(submit: Callable[[Any, Any, dict], Any]) -> None:
    KEY_SUBMITTERS[:] = [submit]


hardware_blp = Blueprint(
    "hardware_api", __name__, url_prefix="/hardware", description="The device catalogue"
)
jobs_blp = Blueprint(
    "jobs_api", __name__, url_prefix="/jobs", description="Submit, watch, cancel jobs"
)


JOB_ERRORS = {
    409: "The job is already finished",
    422: "Invalid fields, program error (line/column), or the circuit does not fit",
}


def _doc(blp: Blueprint, *statuses: int):
    return error_responses(blp, *statuses, descriptions=JOB_ERRORS)


def _present(job, *, listed: bool = False):
    """The job with its queue position, and its program only where the execution policy
    lets the caller read it (another developer's app shows as "app X, version Y")."""
    job.queue_position = None if listed else queue_position(job)
    job.estimated_wait_seconds = (
        wait_estimate(job, job.queue_position) if job.queue_position else None
    )
    job.result_url = f"/api/v1/jobs/{job.id}/result"
    job.app_label = app_label(job)
    shown = not listed and policy.may_see_program(g.actor, job)
    job.shown_source = job.program_source if shown else None
    return job


@hardware_blp.route("")
class HardwareList(MethodView):
    @api_auth(scope="read")
    @hardware_blp.arguments(HardwareArgs, location="query")
    @hardware_blp.response(200, HardwarePageSchema)
    @_doc(hardware_blp, 401, 403)
    def get(self, args):
        """List devices (filters: status, technology, min_qubits)"""
        return envelope(
            list_hardware(
                status=args.get("status"),
                technology=args.get("technology"),
                min_qubits=args.get("min_qubits"),
                page=args["page"],
                per_page=args["per_page"],
            )
        )


@hardware_blp.route("/<ident>")
class HardwareDetail(MethodView):
    @api_auth(scope="read")
    @hardware_blp.response(200, HardwareSchema)
    @_doc(hardware_blp, 401, 404)
    def get(self, ident):
        """One device, by id or name"""
        return get_hardware(ident)


@jobs_blp.route("")
class JobList(MethodView):
    @api_auth(scope="read", subscription_key=True)
    @jobs_blp.arguments(JobListArgs, location="query")
    @jobs_blp.response(200, JobPageSchema)
    @_doc(jobs_blp, 401)
    def get(self, args):
        """Your jobs, newest first (filters: status, device, tag, app_id, from, to, q)"""
        date_from, date_to = day_range(args.get("date_from"), args.get("date_to"))
        result = list_jobs(
            g.actor,
            status=args.get("status"),
            device=args.get("device"),
            tag=args.get("tag"),
            app_id=args.get("app_id"),
            date_from=date_from,
            date_to=date_to,
            q=args.get("q"),
            page=args["page"],
            per_page=args["per_page"],
        )
        # Dumped here (the same JSON as JobPageSchema: tests/unit/execution/test_job_item.py),
        # and handed back as a response, which the decorator passes on as it is.
        items = [job_item(_present(job, listed=True)) for job in result.items]
        return jsonify(envelope(result, items=items))

    @api_auth(scope="jobs", subscription_key=True)
    @jobs_blp.arguments(JobCreateSchema)
    @jobs_blp.response(201, JobSchema)
    @_doc(jobs_blp, 401, 403, 404, 422)
    def post(self, data):
        """Submit a job: a program or an app version, a device and shots.

        Validated before anything is queued. ASYNC answers at once; BLOCKING waits up to
        QH_BLOCKING_WAIT_SECONDS for the result and answers with the job in whatever state
        it reached."""
        if g.actor.subscription_key is not None:  # a marketplace key runs its app only
            job = KEY_SUBMITTERS[0](g.api_user, g.actor.subscription_key, data)
            if job.run_mode is JobRunMode.BLOCKING:
                wait_for(job, current_app.config["BLOCKING_WAIT_SECONDS"])
            return _present(job)
        program = data.get("program") or {}
        app_version = None
        if data.get("app_version_id"):
            app_version = db.session.get(AppVersion, data["app_version_id"])
            if app_version is None:  # (a version the caller may not run: the same 404)
                raise NotFound("No such app version.", details={"app_version_id": "unknown"})
        job = submit_job(
            g.api_user,
            program=program.get("source"),
            fmt=program.get("format"),
            app_version=app_version,
            inputs=data.get("inputs"),
            device=data["device"],
            shots=(data.get("options") or {}).get("default_shots") or data["shots"],
            run_mode=data["run_mode"],
            tags=data.get("tags"),
            notification_email=data.get("notification_email"),
            name=data.get("name"),
            webhook_url=data.get("webhook_url"),
            **_primitive_args(data),  # sampler/estimator PUBs, memory, seed (primitives.py)
        )
        if job.run_mode is JobRunMode.BLOCKING:
            wait_for(job, current_app.config["BLOCKING_WAIT_SECONDS"])
        return _present(job)


def _primitive_args(data) -> dict:
    """The primitive and reproducibility fields of a submission (top level or ``options``)."""
    options = data.get("options") or {}
    seed = data.get("seed_simulator")
    memory = data.get("memory")
    return {
        "primitive": data.get("primitive"),
        "pubs": data.get("pubs"),
        "memory": memory if memory is not None else options.get("memory"),
        "seed_simulator": seed if seed is not None else options.get("seed_simulator"),
        "default_precision": options.get("default_precision"),
    }


@jobs_blp.route("/estimate", methods=["POST"])
@api_auth(scope="read")
@jobs_blp.arguments(EstimateArgs)
@jobs_blp.response(200, EstimateSchema)
@_doc(jobs_blp, 401, 404, 422)
def estimate(data):
    """Price a run before submitting it (and check the program if one is given)"""
    hardware = get_hardware(data["device"])
    if data.get("primitive"):  # sampler / estimator PUBs: priced as submitted
        return primitives.estimate(hardware, data)
    if data.get("program"):  # price, figures and the transpile preview
        program = data["program"]
        return primitives.quote_program(
            hardware.name, data["shots"], program["source"], program.get("format"),
            data.get("inputs"),
        )  # fmt: skip
    shots = check_shots(hardware, data["shots"])
    return {
        "device": hardware.name,
        "shots": shots,
        "estimated_cost": estimate_cost(hardware, shots),
        "currency": "USD",
        "circuit": None,
        "transpile": None,
    }


@jobs_blp.route("/<job_id>")
class JobDetail(MethodView):
    @api_auth(scope="read", subscription_key=True)
    @jobs_blp.response(200, JobSchema)
    @_doc(jobs_blp, 401, 404)
    def get(self, job_id):
        """One of your jobs, with its queue position while queued"""
        return jsonify(job_item(_present(get_job(g.actor, job_id, with_result=True))))

    @api_auth(scope="jobs", subscription_key=True)
    @jobs_blp.response(200, JobSchema)
    @_doc(jobs_blp, 401, 403, 404, 409)
    def delete(self, job_id):
        """Cancel a queued or running job"""
        job = cancel_job(g.actor, job_id)
        return _present(job)

    @api_auth(scope="jobs")
    @jobs_blp.arguments(JobTagsSchema)
    @jobs_blp.response(200, JobSchema)
    @_doc(jobs_blp, 401, 403, 404, 422)
    def patch(self, data, job_id):
        """Replace a job's tags (at most 10, 50 characters each)"""
        return _present(set_tags(g.actor, job_id, data["tags"]))


@jobs_blp.route("/<job_id>/result")
@api_auth(scope="read", subscription_key=True)
@jobs_blp.response(200, ResultSchema)
@jobs_blp.alt_response(409, description="The job has no result yet (see its status)")
@_doc(jobs_blp, 401, 404)
def result(job_id):
    """Counts, execution time, transpiled depth/size and metadata of a finished job"""
    job = get_job(g.actor, job_id)
    if job.result is None:
        raise Conflict(
            f"The job is {job.status.value.lower()}; its result is not ready. Poll "
            f"GET /api/v1/jobs/{job.id} until it is COMPLETED or FAILED.",
            code="result_not_ready",
            details={"status": job.status.value},
        )
    return result_document(job)
