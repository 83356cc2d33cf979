"""Execution pages: submit a circuit, the job list (live), a job, the device catalogue.
Thin: parse the form, call services, commit, dispatch, render."""

from __future__ import annotations

import json
from functools import lru_cache

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from portal.accounts.auth import page_auth
from portal.core.errors import PortalError
from portal.core.web import FORM_ERROR_STATUS
from portal.execution import policy, services, svg
from portal.execution.calibration import calibration_of
from portal.execution.models import JobStatus
from portal.extensions import htmx

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


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@jobs_bp.get("")
@page_auth()
def index():
    status = request.args.get("status") or None
    try:
        status_filter = JobStatus(status) if status else None
    except ValueError:
        status_filter = None
    page = max(1, _int(request.args.get("page"), 1))
    jobs, total = services.list_jobs(
        current_user, status=status_filter, page=page, per_page=PER_PAGE
    )
    context = {
        "jobs": jobs,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "status": status_filter.value if status_filter else "",
        "statuses": [s.value for s in JobStatus],
        "active": any(not j.status.is_terminal for j in jobs),
    }
    if htmx:
        return render_template("execution/_job_rows.html", **context)
    return render_template("execution/jobs.html", **context)


def _form_context(form: dict, error=None, errors=None):
    return {
        "form": form,
        "devices": services.online_devices(),
        "error": error,
        "errors": errors or {},
    }


@jobs_bp.route("/new", methods=["GET", "POST"])
@page_auth()
def new():
    device, shots = services.run_defaults(current_user)
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
        job = services.submit_job(
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
    from portal.core.errors import ValidationFailed

    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValidationFailed("Shots must be a whole number.", details={"shots": "integer"})


def _parse_inputs(raw: str):
    from portal.core.errors import ValidationFailed

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
    from portal.execution.programs import parse_program, resource_figures

    context: dict = {"cost": None, "figures": None, "problem": None}
    try:
        hardware = services.get_hardware(request.form.get("device", ""))
        shots = services.check_shots(hardware, _shots(request.form.get("shots", "")))
        context.update(hardware=hardware, shots=shots)
        context["cost"] = services.estimate_cost(hardware, shots)
        source = request.form.get("source", "")
        if source.strip():
            circuit = parse_program(source, None, _parse_inputs(request.form.get("inputs", "")))
            context["figures"] = resource_figures(circuit)
            services.check_fits(hardware, context["figures"])
    except PortalError as exc:
        context["problem"] = exc.message
    return render_template("execution/_estimate.html", **context)


@jobs_bp.get("/<job_id>")
@page_auth()
def detail(job_id):
    job = services.get_job(current_user, job_id, with_result=True)
    context = _detail_context(job)
    if htmx:
        return render_template("execution/_job_status.html", **context)
    return render_template("execution/job.html", **context)


def _detail_context(job) -> dict:
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
    return {
        "job": job,
        "queue_position": services.queue_position(job),
        # Built from numbers and escaped labels only.
        "histogram": Markup(svg.histogram(counts, job.shots)) if counts else None,  # noqa: S704
        "result": services.result_document(job) if job.result else None,
        "drawing": drawing,
        "show_program": show_program,
        "app_label": services.app_label(job),
    }


@lru_cache(maxsize=256)  # a pure function of the program; job pages show the same ones often
def _drawing_of(source: str, program_format: str | None, inputs: str) -> str | None:
    from portal.execution.programs import parse_program

    try:
        circuit = parse_program(source, program_format, json.loads(inputs))
    except PortalError:
        return None
    if circuit.num_qubits > 30 or circuit.size() > 400:
        return None  # too big to read as text
    return str(circuit.draw(output="text", fold=100))


def _drawing(source: str, program_format: str | None, inputs: dict | None) -> str | None:
    return _drawing_of(source, program_format, json.dumps(inputs or {}, sort_keys=True))


@jobs_bp.post("/<job_id>/cancel")
@page_auth()
def cancel(job_id):
    services.cancel_job(current_user, job_id)
    job = services.get_job(current_user, job_id)
    if htmx:
        return render_template("execution/_job_status.html", **_detail_context(job))
    return redirect(url_for("jobs.detail", job_id=job.id))


@jobs_bp.get("/<job_id>/result.json")
@page_auth()
def download(job_id):
    job = services.get_job(current_user, job_id)
    body = json.dumps(services.result_document(job) or {"status": job.status.value}, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="job-{job.id}.json"'},
    )


# The catalogue is public (read-only): visitors see what they could run on before signing up.
@hardware_bp.get("", endpoint="index")
def device_list():
    items, total = services.list_hardware(per_page=100)
    return render_template("execution/devices.html", devices=items, total=total)


@hardware_bp.get("/<ident>")
def device(ident):
    hardware = services.get_hardware(ident)
    figures = calibration_of(hardware.qubits, hardware.backend_config, hardware.connectivity_map)
    drawing = svg.connectivity(hardware.qubits, hardware.connectivity_map, figures)
    return render_template(
        "execution/device.html",
        device=hardware,
        connectivity=Markup(drawing) if drawing else None,  # noqa: S704 - numbers only
        layout=svg.layout_kind(drawing),
        calibration=figures,
        estimate=services.estimate_cost(hardware, 1024),
    )
