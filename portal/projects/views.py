"""Project pages and the IDE: thin views over ``portal.projects.services``.

The IDE's own requests (autosave, analysis, run, build, release) are session-authenticated
page routes with CSRF, answering JSON (autosave) or HTMX fragments; the JSON API under
/api/v1/projects serves integrations with tokens and keys.
"""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from portal.accounts.auth import page_auth
from portal.apps import policy as apps_policy
from portal.apps.models import AppType, AppVisibility, LicenseType, QuantumApp
from portal.core.errors import PortalError
from portal.core.extensions import db, htmx
from portal.core.forms import load_form
from portal.core.paging import page_number
from portal.core.programs import parse_program
from portal.core.web import FORM_ERROR_STATUS, flash_refusal
from portal.execution.hardware import online_devices, run_defaults
from portal.execution.jobs import get_job
from portal.execution.policy import may_see_program
from portal.projects import services
from portal.projects.schemas import ProjectCreateSchema, ProjectUpdateSchema
from portal.projects.starters import DEFAULT_STARTER, STARTERS

bp = Blueprint("projects", __name__, url_prefix="/projects")
PER_PAGE = 20


def _project(project_id) -> object:
    return services.get_project(current_user, project_id)


# -- list, create, settings, delete ----------------------------------------------------------


@bp.get("/")
@page_auth()
def index():
    page = page_number(request.args.get("page"))
    result = services.list_projects(current_user, page=page, per_page=PER_PAGE)
    return render_template(
        "projects/index.html",
        projects=result.items,
        total=result.total,
        page=result.page,
        pages=result.pages,
    )


@bp.route("/new", methods=["GET", "POST"])
@page_auth()
def create():
    form = {"name": "", "description": "", "repo": "", "template": DEFAULT_STARTER}
    error = None
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in form}
        try:
            data = load_form(ProjectCreateSchema(), request.form)
            project = services.create_project(
                current_user,
                name=data["name"],
                description=data["description"],
                repo=data["repo"],
                starter=data["template"],
            )
        except PortalError as exc:
            error = exc.message
        else:
            flash(f"Project “{project.name}” created. Press Run to simulate it.", "success")
            return redirect(url_for("projects.ide", project_id=project.id))
    status = 422 if error else 200
    return render_template(
        "projects/new.html", form=form, error=error, starters=STARTERS.values()
    ), status


@bp.post("/fork")
@page_auth()
def fork():
    """ "Open in IDE" on a Registry app page: a new project with the version's files."""
    try:
        project = services.fork_version(current_user, request.form.get("app_version_id", ""))
    except PortalError as exc:
        flash_refusal(exc)
        return redirect(url_for("projects.index"))
    flash(f"Project “{project.name}” created from the Registry; press Run.", "success")
    entry = services.default_entry(project)
    return redirect(url_for("projects.ide", project_id=project.id, file=entry))


@bp.route("/<uuid:project_id>/settings", methods=["GET", "POST"])
@page_auth()
def settings(project_id):
    project = _project(project_id)
    error = None
    if request.method == "POST":
        try:
            services.update_project(project, **load_form(ProjectUpdateSchema(), request.form))
        except PortalError as exc:
            project = _project(project_id)
            error = exc.message
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("projects.settings", project_id=project.id))
    return render_template("projects/settings.html", project=project, error=error), (
        422 if error else 200
    )


@bp.route("/<uuid:project_id>/delete", methods=["GET", "POST"])
@page_auth()
def delete(project_id):
    project = _project(project_id)
    if request.method == "POST":
        name = project.name
        services.delete_project(project)
        flash(f"Project “{name}” deleted.", "success")
        return redirect(url_for("projects.index"))
    return render_template("projects/delete.html", project=project)


# -- the IDE ---------------------------------------------------------------------------------


def _devices():
    """Online devices for the run panel, and the user's preferred device and shots."""
    device, shots = run_defaults(current_user)
    return online_devices(), device, shots


def _release_defaults(project) -> dict:
    app = db.session.get(QuantumApp, project.quantum_app_id) if project.quantum_app_id else None
    return {
        "app": app,
        "name": app.name if app else project.name,
        "type": app.type.value if app else AppType.CIRCUIT.value,
        "license": (app.license_type.value if app and app.license_type else "MIT"),
        "visibility": app.visibility.value if app else AppVisibility.PRIVATE.value,
        "version": services.next_version(project),
    }


@bp.get("/<uuid:project_id>")
@page_auth()
def ide(project_id):
    project = _project(project_id)
    path = request.args.get("file") or services.default_entry(project)
    current = services.find_file(project, path) if path else None
    if current is None and project.files:
        current = services.list_files(project)[0]
    devices, default_device, default_shots = _devices()
    return render_template(
        "projects/ide.html",
        project=project,
        files=services.list_files(project),
        current=current,
        devices=devices,
        default_device=default_device,
        default_shots=default_shots,
        entries=services.program_paths(project),
        release=_release_defaults(project),
        may_release=apps_policy.may_create_apps(current_user),
        app_types=[t.value for t in AppType],
        licenses=[t.value for t in LicenseType],
        visibilities=[t.value for t in AppVisibility],
        limits={"file": services.MAX_FILE_BYTES, "project": services.MAX_PROJECT_BYTES},
    )


@bp.put("/<uuid:project_id>/files/<path:path>")
@page_auth()
def save_file(project_id, path):
    """Autosave (JSON in, JSON out): ``{"content": "..."}``."""
    project = _project(project_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        return {"error": {"message": 'Send JSON {"content": "..."}.'}}, 400
    try:
        file = services.write_file(project, path, body["content"])
    except PortalError as exc:
        return {"error": {"code": exc.code, "message": exc.message}}, exc.status
    return {"path": file.path, "size": file.size, "updated_at": file.updated_at.isoformat()}


def _back_to_ide(project, path=None):
    target = (
        url_for("projects.ide", project_id=project.id, file=path)
        if path
        else url_for("projects.ide", project_id=project.id)
    )
    if htmx:
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


@bp.post("/<uuid:project_id>/files")
@page_auth()
def new_file(project_id):
    project = _project(project_id)
    path = request.form.get("path", "")
    try:
        file = services.create_file(project, path, "")
    except PortalError as exc:
        flash_refusal(exc)
        return _back_to_ide(_project(project_id))
    return _back_to_ide(project, file.path)


@bp.post("/<uuid:project_id>/files/<path:path>/rename")
@page_auth()
def rename_file(project_id, path):
    project = _project(project_id)
    try:
        file = services.rename_file(project, path, request.form.get("new_path", ""))
    except PortalError as exc:
        flash_refusal(exc)
        return _back_to_ide(_project(project_id), path)
    flash(f"Renamed {path} to {file.path}.", "success")
    return _back_to_ide(project, file.path)


@bp.post("/<uuid:project_id>/files/<path:path>/delete")
@page_auth()
def delete_file(project_id, path):
    project = _project(project_id)
    services.delete_file(project, path)
    flash(f"Deleted {path}.", "success")
    return _back_to_ide(project)


def _inputs_or_none(project):
    try:
        return services.saved_inputs(project)
    except PortalError:
        return None


@bp.post("/<uuid:project_id>/analyse")
@page_auth()
def analyse(project_id):
    """The analysis panel (resource figures) with the diagnostics as a JSON block."""
    project = _project(project_id)
    source = request.form.get("source", "")
    result = services.analyse(source, _inputs_or_none(project))
    return render_template("projects/_analysis.html", analysis=result)


@bp.post("/<uuid:project_id>/run")
@page_auth()
def run(project_id):
    project = _project(project_id)
    raw_shots = (request.form.get("shots") or "").strip()
    try:
        shots = int(raw_shots) if raw_shots else None
    except ValueError:
        shots = -1  # let the execution service say what the bounds are
    try:
        job = services.run_program(
            current_user,
            project,
            source=request.form.get("source", ""),
            path=request.form.get("path"),
            device=request.form.get("device") or None,
            shots=shots,
        )
    except PortalError as exc:
        return render_template(
            "projects/_run.html", project=project, job=None, error=exc
        ), FORM_ERROR_STATUS
    db.session.refresh(job)
    return _run_fragment(project, job)


@bp.post("/<uuid:project_id>/quote")
@page_auth()
def quote(project_id):
    """The price and transpile preview of the editor's program on the chosen device, shown
    next to Run (nothing is written; a program or device the run would refuse says why)."""
    project = _project(project_id)
    raw_shots = (request.form.get("shots") or "").strip()
    try:
        shots = int(raw_shots) if raw_shots else None
    except ValueError:
        shots = -1  # the execution service says what the bounds are
    try:
        figures = services.quote_program(
            current_user,
            project,
            source=request.form.get("source", ""),
            device=request.form.get("device") or None,
            shots=shots,
        )
    except PortalError as exc:
        return render_template("projects/_quote.html", quote=None, error=exc), FORM_ERROR_STATUS
    return render_template("projects/_quote.html", quote=figures, error=None)


def _run_fragment(project, job):
    drawing = None
    # Drawn only where the policy lets this user read the program (not another's app).
    if job.status.is_terminal and job.program_source and may_see_program(current_user, job):
        try:
            circuit = parse_program(job.program_source, job.program_format, job.inputs)
            drawing = services.draw_circuit(circuit)
        except PortalError:
            drawing = None
    counts = job.result.counts if job.result is not None and job.result.counts else {}
    return render_template(
        "projects/_run.html",
        project=project,
        job=job,
        error=None,
        counts=_histogram(counts),
        drawing=drawing,
        has_job_page=_has_endpoint("jobs.detail"),
    )


def _has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def _histogram(counts: dict[str, int], limit: int = 32) -> list[dict]:
    """Bars for the histogram: the most frequent outcomes, as shares of the largest."""
    if not counts:
        return []
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    peak = top[0][1]
    return [
        {
            "state": state,
            "count": n,
            "share": round(100 * n / total, 1),
            "height": round(100 * n / peak, 1),
        }
        for state, n in sorted(top)
    ]


@bp.get("/<uuid:project_id>/runs/<uuid:job_id>")
@page_auth()
def run_status(project_id, job_id):
    project = _project(project_id)

    return _run_fragment(project, get_job(current_user, job_id))


@bp.post("/<uuid:project_id>/build")
@page_auth()
def build(project_id):
    """Build: static checks now; while a worker simulates, the fragment says "checking…"
    and polls ``build_status`` until the result is in."""
    return _build_fragment(
        _project(project_id), request.form.get("version", ""), request.form.get("entry") or None
    )


# The fragment polls every 0.7 s; after this many polls (about 3 minutes: the check's own
# time limit, and re-enqueues of a lost check, fit in it) it stops and says so.
MAX_BUILD_POLLS = 250


@bp.get("/<uuid:project_id>/build")
@page_auth()
def build_status(project_id):
    polls = request.args.get("polls", "0")
    return _build_fragment(
        _project(project_id),
        request.args.get("version", ""),
        request.args.get("entry") or None,
        polls=int(polls) if polls.isdigit() and len(polls) < 6 else 0,
    )


def _build_fragment(project, version, entry, polls: int = 0):
    try:
        result = services.build(project, version=version, entry=entry)
    except PortalError as exc:
        return render_template(
            "projects/_build.html", project=project, result=None, error=exc
        ), FORM_ERROR_STATUS
    return render_template(
        "projects/_build.html",
        project=project,
        result=result,
        error=None,
        polls=polls + 1,
        stalled=result.checking and polls >= MAX_BUILD_POLLS,
    )


@bp.get("/<uuid:project_id>/package")
@page_auth()
def package(project_id):
    project = _project(project_id)
    result = services.require_passing(
        services.build(
            project,
            version=request.args.get("version", ""),
            entry=request.args.get("entry") or None,
            wait=current_app.config["BUILD_WAIT_SECONDS"],
        )
    )
    return send_file(
        io.BytesIO(result.package),
        mimetype="application/zip",
        as_attachment=True,
        download_name=services.package_filename(result),
    )


@bp.post("/<uuid:project_id>/release")
@page_auth()
def release(project_id):
    project = _project(project_id)
    form = request.form
    try:
        released = services.release(
            current_user,
            project,
            name=form.get("name", ""),
            version=form.get("version", ""),
            type=form.get("type") or AppType.CIRCUIT.value,
            license=form.get("license") or LicenseType.MIT.value,
            visibility=form.get("visibility") or AppVisibility.PRIVATE.value,
            release_notes=form.get("release_notes") or None,
            entry=form.get("entry") or None,
        )
    except PortalError as exc:
        return render_template(
            "projects/_release.html", released=None, error=exc
        ), FORM_ERROR_STATUS
    return render_template(
        "projects/_release.html",
        released=released,
        error=None,
        app_url=_app_url(released.app),
        next_version=services.next_version(project),
    )


def _app_url(app) -> str | None:
    """The app's page (the apps domain's), when that page is installed."""
    return url_for("apps.detail", app_id=app.id) if _has_endpoint("apps.detail") else None
