"""Execution pages: submit a circuit, the job list (live), a job, the device catalogue.
Thin: parse the form, call services, commit, dispatch, render."""

from __future__ import annotations

import json
import uuid
from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from markupsafe import Markup

from portal.accounts.auth import page_auth
from portal.core import conditional, memo
from portal.core.db import utcnow
from portal.core.errors import PortalError, ValidationFailed
from portal.core.extensions import htmx
from portal.core.paging import page_number
from portal.core.programs import parse_program, resource_figures
from portal.core.web import FORM_ERROR_STATUS, flash_refusal
from portal.execution import backends, policy, svg
from portal.execution.calibration import calibration_of
from portal.execution.freshness import (
    job_list_page_etag,
    job_rows_etag,
    job_status_etag,
    job_status_version,
)
from portal.execution.hardware import get_hardware, list_hardware, online_devices, run_defaults
from portal.execution.jobs import (
    app_label,
    day_range,
    get_job,
    job_apps,
    job_devices,
    job_tags,
    list_jobs,
    outcome_rows,
    result_csv,
    result_document,
)
from portal.execution.models import JobStatus
from portal.execution.pricing import check_fits, check_shots, estimate_cost
from portal.execution.queue import queue_position, wait_estimate
from portal.execution.submission import cancel_job, cancel_jobs, parse_tags, set_tags, submit_job

jobs_bp = Blueprint("jobs", __name__, url_prefix="/jobs")
hardware_bp = Blueprint("hardware", __name__, url_prefix="/devices")

PER_PAGE = 20
SAMPLE = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0], q[1];
cx q[1], q[2];
measure q -> c;
"""


def _date(value):
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _uuid(value):
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _filters() -> dict:
    """The list's filters from the query string; a value that does not parse is ignored."""
    args = request.args
    status = args.get("status") or None
    try:
        status_filter = JobStatus(status) if status else None
    except ValueError:
        status_filter = None
    return {
        "status": status_filter,
        "device": (args.get("device") or "").strip()[:100] or None,
        "tag": (args.get("tag") or "").strip()[:50] or None,
        "app_id": _uuid(args.get("app_id")),
        "from": _date(args.get("from")),
        "to": _date(args.get("to")),
        "q": (args.get("q") or "").strip()[:100] or None,
    }


def _query_args(filters: dict) -> dict:
    """The filters as URL arguments (empty ones left out): pager links and the live poll."""
    values = {
        "status": filters["status"].value if filters["status"] else None,
        "device": filters["device"],
        "tag": filters["tag"],
        "app_id": str(filters["app_id"]) if filters["app_id"] else None,
        "from": filters["from"].isoformat() if filters["from"] else None,
        "to": filters["to"].isoformat() if filters["to"] else None,
        "q": filters["q"],
    }
    return {k: v for k, v in values.items() if v}


@jobs_bp.get("")
@page_auth()
def index():
    filters = _filters()
    page = page_number(request.args.get("page"))
    etag = None
    if htmx:  # the rows' live poll: 304 while none of the user's jobs has changed
        etag = job_rows_etag(current_user, request.full_path)
        unchanged = conditional.not_modified(etag)
        if unchanged is not None:
            return unchanged
    elif "_flashes" not in session:  # the full page: 304 too, unless it shows a message
        etag, apps = job_list_page_etag(current_user, request.full_path)
        unchanged = conditional.not_modified(etag)
        if unchanged is not None:
            return unchanged
    date_from, date_to = day_range(filters["from"], filters["to"])
    result = list_jobs(
        current_user,
        status=filters["status"],
        device=filters["device"],
        tag=filters["tag"],
        app_id=filters["app_id"],
        date_from=date_from,
        date_to=date_to,
        q=filters["q"],
        page=page,
        per_page=PER_PAGE,
    )
    query_args = _query_args(filters)
    jobs = result.items
    context = {
        "jobs": jobs,
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "status": query_args.get("status", ""),
        "filters": query_args,
        "filtered": bool(query_args),
        "statuses": [s.value for s in JobStatus],
        "active": any(not j.status.is_terminal for j in jobs),
        "cancellable": any(j.status is JobStatus.QUEUED for j in jobs),
    }
    if htmx:
        rows = Response(render_template("execution/_job_rows.html", **context))
        return conditional.tag(rows, etag)
    context.update(
        devices=job_devices(current_user),
        tags=job_tags(current_user),
        apps=apps if etag else job_apps(current_user),
    )
    full = Response(render_template("execution/jobs.html", **context))
    return conditional.tag(full, etag) if etag else full


@jobs_bp.post("/cancel")
@page_auth()
def cancel_many():
    """Bulk cancel: the ticked jobs of the list (each with cancel_job's rules)."""
    try:
        done = cancel_jobs(current_user, request.form.getlist("ids"))
    except PortalError as exc:
        flash_refusal(exc)
    else:
        if done.cancelled:
            flash(f"Cancelled {len(done.cancelled)} job(s).", "success")
        if done.refused:
            flash(f"{len(done.refused)} job(s) could not be cancelled (already finished).", "error")
    back = request.form.get("next") or ""
    if not back.startswith("/jobs") or back.startswith("//"):  # the list, never elsewhere
        back = url_for("jobs.index")
    return redirect(back)


@jobs_bp.post("/<job_id>/tags")
@page_auth()
def tags(job_id):
    """The job page's inline tag form (HTMX swaps the form; 422 with the error)."""
    job = get_job(current_user, job_id)
    raw = request.form.get("tags", "")
    refusal = None
    try:
        set_tags(current_user, job.id, parse_tags(raw))
    except PortalError as exc:
        refusal = exc
    if htmx:
        context = {
            "job": job,
            "tags_error": refusal.message if refusal else None,
            "tags_value": raw if refusal else None,
        }
        status = FORM_ERROR_STATUS if refusal else 200
        return render_template("execution/_job_tags.html", **context), status
    if refusal is not None:
        flash_refusal(refusal)
    return redirect(url_for("jobs.detail", job_id=job.id))


def _form_context(form: dict, error=None, errors=None):
    return {
        "form": form,
        "devices": online_devices(),
        "error": error,
        "errors": errors or {},
    }


@jobs_bp.route("/new", methods=["GET", "POST"])
@page_auth()
def new():
    device, shots = run_defaults(current_user)
    form = {
        "source": request.form.get("source", SAMPLE),
        "device": request.form.get("device", request.args.get("device", device)),
        "shots": request.form.get("shots", str(shots)),
        "name": request.form.get("name", ""),
        "inputs": request.form.get("inputs", ""),
    }
    if request.method == "GET":
        return render_template("execution/new.html", **_form_context(form))
    try:
        inputs = _parse_inputs(form["inputs"])
        job = submit_job(
            current_user,
            program=form["source"],
            inputs=inputs,
            device=form["device"],
            shots=_shots(form["shots"]),
            tags=None,
            name=form["name"] or None,
        )
    except PortalError as exc:
        context = _form_context(form, exc.message, exc.details)
        return render_template("execution/new.html", **context), FORM_ERROR_STATUS
    return redirect(url_for("jobs.detail", job_id=job.id))


def _shots(raw):
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValidationFailed("Shots must be a whole number.", details={"shots": "integer"})


def _parse_inputs(raw: str):
    if not raw or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"Inputs must be a JSON object: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            details={"inputs": "JSON object"},
        )
    if not isinstance(value, dict):
        raise ValidationFailed(
            'Inputs must be a JSON object such as {"theta": 0.5}.',
            details={"inputs": "JSON object"},
        )
    return value


@jobs_bp.post("/estimate")
@page_auth()
def estimate():
    """The price (and program check) shown live on the submit form."""
    context: dict = {"cost": None, "figures": None, "problem": None}
    try:
        hardware = get_hardware(request.form.get("device", ""))
        shots = check_shots(hardware, _shots(request.form.get("shots", "")))
        context.update(hardware=hardware, shots=shots)
        context["cost"] = estimate_cost(hardware, shots)
        source = request.form.get("source", "")
        if source.strip():
            circuit = parse_program(source, None, _parse_inputs(request.form.get("inputs", "")))
            context["figures"] = resource_figures(circuit)
            check_fits(hardware, context["figures"])
    except PortalError as exc:
        context["problem"] = exc.message
    return render_template("execution/_estimate.html", **context)


@jobs_bp.get("/<job_id>")
@page_auth()
def detail(job_id):
    if htmx:  # the status poll: 304 while the job and its place in the queue are unchanged
        # The ETag's inputs first (one light statement); the job itself only for a 200.
        version = job_status_version(current_user, job_id)
        position = version.position
        queue = (position, wait_estimate(version, position) if position else None)
        etag = job_status_etag(version, *queue)
        unchanged = conditional.not_modified(etag)
        if unchanged is not None:
            return unchanged
        job = get_job(current_user, job_id, with_result=True)
        fragment = render_template("execution/_job_status.html", **_detail_context(job, queue))
        return conditional.tag(Response(fragment), etag)
    job = get_job(current_user, job_id, with_result=True)
    return render_template("execution/job.html", **_detail_context(job))


def _queue_figures(job) -> tuple[int | None, float | None]:
    """The job's place in the queue and the wait estimate (None, None once it has left)."""
    position = queue_position(job)
    return position, wait_estimate(job, position) if position else None


def _detail_context(job, queue: tuple[int | None, float | None] | None = None) -> dict:
    # The program (source and drawing) only where the policy lets this user read it: a job
    # of another developer's app shows "app X, version Y" instead.
    show_program = policy.may_see_program(current_user, job)
    # Only the full page shows the drawing; status polls (HTMX) never redraw it.
    drawing = (
        None
        if htmx or not show_program
        else _drawing(job.program_source or "", job.program_format, job.inputs)
    )
    counts = job.result.counts if job.result and job.result.counts else {}
    transpiled = (
        None
        if htmx or not show_program or job.status is not JobStatus.COMPLETED
        else _transpiled_drawing(job)
    )
    position, wait = queue or _queue_figures(job)
    return {
        "wait_estimate": wait,
        "elapsed_seconds": _elapsed(job),
        "outcomes": outcome_rows(job)[:32] if counts else [],
        "outcome_count": len(counts),
        "transpiled_drawing": transpiled,
        "job": job,
        "queue_position": position,
        # Built from numbers and escaped labels only.
        "histogram": Markup(svg.histogram(counts, job.shots)) if counts else None,  # noqa: S704
        "result": result_document(job) if job.result else None,
        "drawing": drawing,
        "show_program": show_program,
        "app_label": app_label(job),
    }


def _elapsed(job) -> int | None:
    """Whole seconds a running job has run (the page's ticking starts from it)."""
    if job.status is not JobStatus.RUNNING or job.started_at is None:
        return None
    return max(0, int((utcnow() - job.started_at).total_seconds()))


@memo.bounded(256)  # a pure function of the program; job pages show the same ones often
def _drawing_of(source: str, program_format: str | None, inputs: str) -> str | None:
    try:
        circuit = parse_program(source, program_format, json.loads(inputs))
    except PortalError:
        return None
    if circuit.num_qubits > 30 or circuit.size() > 400:
        return None  # too big to read as text
    return str(circuit.draw(output="text", fold=100))


def _drawing(source: str, program_format: str | None, inputs: dict | None) -> str | None:
    return _drawing_of(source, program_format, json.dumps(inputs or {}, sort_keys=True))


@memo.bounded(128)
def _transpiled_of(source: str, fmt: str | None, inputs: str, device: str, config: str):
    """The circuit as it ran on a device-like entry (transpiled for its coupling map and basis
    gates, as the worker does; no simulation), or None where it runs as written or is too big
    to read."""
    settings = json.loads(config)
    if not backends.is_device_like(settings):
        return None
    try:
        circuit = parse_program(source, fmt, json.loads(inputs))
        if circuit.num_qubits > 30 or circuit.size() > 400:
            return None
        if circuit.num_clbits == 0:
            circuit.measure_all()
        key = backends.program_hash(source, fmt, json.loads(inputs))
        compiled, _cached = backends.prepare(circuit, device, settings, key)
    except Exception:  # a drawing never breaks the page (the worker reported any error)
        return None
    if compiled.size() > 1500:
        return None
    return str(compiled.draw(output="text", fold=100, idle_wires=False))


def _transpiled_drawing(job) -> str | None:
    if job.hardware is None or not job.program_source:
        return None
    return _transpiled_of(
        job.program_source,
        job.program_format,
        json.dumps(job.inputs or {}, sort_keys=True),
        job.hardware.name,
        json.dumps(job.hardware.backend_config or {}, sort_keys=True),
    )


@jobs_bp.post("/<job_id>/cancel")
@page_auth()
def cancel(job_id):
    cancel_job(current_user, job_id)
    job = get_job(current_user, job_id)
    if htmx:
        return render_template("execution/_job_status.html", **_detail_context(job))
    return redirect(url_for("jobs.detail", job_id=job.id))


@jobs_bp.get("/<job_id>/result.json")
@page_auth()
def download(job_id):
    job = get_job(current_user, job_id)
    body = json.dumps(result_document(job) or {"status": job.status.value}, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="job-{job.id}.json"'},
    )


@jobs_bp.get("/<job_id>/result.csv")
@page_auth()
def download_csv(job_id):
    job = get_job(current_user, job_id, with_result=True)
    return Response(
        result_csv(job),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="job-{job.id}.csv"'},
    )


# The catalogue is public (read-only): visitors see what they could run on before signing up.
@hardware_bp.get("", endpoint="index")
def device_list():
    result = list_hardware(per_page=100)
    return render_template("execution/devices.html", devices=result.items, total=result.total)


@hardware_bp.get("/<ident>")
def device(ident):
    hardware = get_hardware(ident)
    figures = calibration_of(hardware.qubits, hardware.backend_config, hardware.connectivity_map)
    drawing = svg.connectivity(hardware.qubits, hardware.connectivity_map, figures)
    return render_template(
        "execution/device.html",
        device=hardware,
        connectivity=Markup(drawing) if drawing else None,  # noqa: S704 - numbers only
        layout=svg.layout_kind(drawing),
        calibration=figures,
        estimate=estimate_cost(hardware, 1024),
    )
