"""Pages: the provider's apps (``apps.*``) and the public Registry (``registry.*``).
Thin: parse the form, call the services, commit, render (HTMX requests get fragments)."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup

from portal.accounts.auth import page_auth
from portal.accounts.models import Role
from portal.apps import metrics, registry, services
from portal.apps.markdown import render_markdown
from portal.apps.models import AppType, AppVisibility, LicenseType, SDKType, VersionStatus
from portal.apps.packages import MAX_PACKAGE_BYTES
from portal.apps.schemas import (
    AppCreateSchema,
    AppUpdateSchema,
    VersionCreateSchema,
    VersionUpdateSchema,
)
from portal.core import cache
from portal.core.errors import NotFound, PortalError
from portal.core.extensions import htmx
from portal.core.forms import load_form
from portal.core.paging import page_number
from portal.core.web import FORM_ERROR_STATUS, flash_refusal, user_timezone

bp = Blueprint("apps", __name__, url_prefix="/apps")
registry_bp = Blueprint("registry", __name__, url_prefix="/registry")

PROVIDERS = (Role.PROVIDER, Role.ADMIN)
APP_FIELDS = (
    "name", "description", "type", "visibility", "license_type", "license_url",
    "readme_content", "documentation_url", "repository_url",
)  # fmt: skip
CHOICES = {
    "types": list(AppType),
    "visibilities": list(AppVisibility),
    "licenses": list(LicenseType),
    "sdks": list(SDKType),
}


@bp.app_template_filter("markdown")
def markdown_filter(text):
    return render_markdown(text)


def _user():
    return current_user if current_user.is_authenticated else None


def _done(url: str):
    """Redirect, the HTMX way for HTMX requests (a full navigation, not a swap)."""
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)


def _form_error(template: str, exc: PortalError, **context):
    status = FORM_ERROR_STATUS if htmx else exc.status
    return render_template(
        template, error=exc.message, errors=exc.details or {}, **CHOICES, **context
    ), status


# -- provider pages -------------------------------------------------------------------------


@bp.get("/")
@page_auth(roles=PROVIDERS)
def mine():
    page = services.list_apps(
        current_user, mine=True, page=page_number(request.args.get("page")), per_page=20
    )
    return render_template("apps/mine.html", page=page)


@bp.route("/new", methods=["GET", "POST"])
@page_auth(roles=PROVIDERS)
def new():
    form = {k: request.form.get(k, "") for k in (*APP_FIELDS, "tags")}
    if request.method == "POST":
        try:
            app = services.create_app(current_user, **load_form(AppCreateSchema(), request.form))
        except PortalError as exc:
            return _form_error("apps/form.html", exc, form=form, app=None)
        flash(f"App “{app.name}” created. Add a first version next.", "success")
        return _done(url_for("apps.detail", app_id=app.id))
    form.update(type="CIRCUIT", visibility="PRIVATE", license_type="MIT")
    return render_template("apps/form.html", form=form, app=None, errors={}, **CHOICES)


@bp.get("/<app_id>")
@page_auth(roles=PROVIDERS)
def detail(app_id):
    app = services.get_app_for_change(app_id, current_user)
    return render_template(
        "apps/detail.html",
        app=app,
        versions=services.sorted_versions(app),
        metrics=metrics.app_metrics(app.id),
        problems=services.publish_problems(app),
    )


@bp.route("/<app_id>/settings", methods=["GET", "POST"])
@page_auth(roles=PROVIDERS)
def settings(app_id):
    app = services.get_app_for_change(app_id, current_user)
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in (*APP_FIELDS, "tags")}
        try:
            services.update_app(app, **load_form(AppUpdateSchema(), request.form))
        except PortalError as exc:
            return _form_error("apps/form.html", exc, form=form, app=app)
        flash("Settings saved.", "success")
        return _done(url_for("apps.detail", app_id=app.id))
    form = {k: getattr(app, k) for k in APP_FIELDS}
    for key in ("type", "visibility", "license_type"):
        form[key] = form[key].name if form[key] is not None else ""
    form["tags"] = ", ".join(t.name for t in app.tags)
    return render_template("apps/form.html", form=form, app=app, errors={}, **CHOICES)


@bp.route("/<app_id>/delete", methods=["GET", "POST"])
@page_auth(roles=PROVIDERS)
def delete(app_id):
    app = services.get_app_for_change(app_id, current_user)
    if request.method == "POST":
        name = app.name
        services.delete_app(app)
        flash(f"App “{name}” deleted.", "success")
        return _done(url_for("apps.mine"))
    return render_template("apps/delete.html", app=app)


@bp.post("/<app_id>/registry")
@page_auth(roles=PROVIDERS)
def publish(app_id):
    app = services.get_app_for_change(app_id, current_user)
    try:
        services.publish_to_registry(app)
    except PortalError as exc:
        flash_refusal(exc)
        return _done(url_for("apps.detail", app_id=app_id))
    flash("Published to the Registry.", "success")
    return _done(url_for("apps.detail", app_id=app.id))


@bp.post("/<app_id>/registry/remove")
@page_auth(roles=PROVIDERS)
def unpublish(app_id):
    app = services.get_app_for_change(app_id, current_user)
    services.remove_from_registry(app)
    flash("Removed from the Registry. Existing downloads are unaffected.", "success")
    return _done(url_for("apps.detail", app_id=app.id))


@bp.post("/<app_id>/feature")
@page_auth(roles=(Role.ADMIN,))
def feature(app_id):
    app = services.get_app_for_change(app_id, current_user)
    services.set_featured(app, current_user, request.form.get("featured") == "1")
    return _done(url_for("registry.app", app_id=app.id))


@bp.route("/<app_id>/versions/new", methods=["GET", "POST"])
@page_auth(roles=PROVIDERS)
def new_version(app_id):
    app = services.get_app_for_change(app_id, current_user)
    form = {
        k: request.form.get(k, "")
        for k in ("version_number", "entry_program", "release_notes", "sdk")
    }
    if request.method == "POST":
        upload = request.files.get("package")
        try:
            data = load_form(VersionCreateSchema(), request.form, checkboxes=("publish",))
            version = services.create_version(
                app,
                version_number=(data.get("version_number") or "").strip() or None,
                package=upload.read() if upload and upload.filename else None,
                entry_program=data.get("entry_program") or None,
                sdk=data["sdk"],
                release_notes=data.get("release_notes"),
                publish=data["publish"],
            )
        except PortalError as exc:
            return _form_error(
                "apps/version_new.html", exc, app=app, form=form, max_bytes=MAX_PACKAGE_BYTES
            )
        flash(f"Version {version.version_number} created ({version.status.value}).", "success")
        return _done(url_for("apps.detail", app_id=app.id))
    form["sdk"] = "OPENQASM3"
    return render_template(
        "apps/version_new.html", app=app, form=form, errors={}, max_bytes=MAX_PACKAGE_BYTES,
        **CHOICES,
    )  # fmt: skip


@bp.route("/<app_id>/versions/<version_id>", methods=["GET", "POST"])
@page_auth(roles=PROVIDERS)
def version(app_id, version_id):
    app = services.get_app_for_change(app_id, current_user)
    version = services.get_version(app, version_id)
    if request.method == "POST":
        try:
            services.update_version(version, **load_form(VersionUpdateSchema(), request.form))
        except PortalError as exc:
            flash_refusal(exc)
            return _done(url_for("apps.version", app_id=app_id, version_id=version_id))
        flash(f"Version {version.version_number} saved ({version.status.value}).", "success")
        return _done(url_for("apps.detail", app_id=app.id))
    return render_template("apps/version.html", app=app, version=version)


@bp.post("/<app_id>/versions/<version_id>/delete")
@page_auth(roles=PROVIDERS)
def delete_version(app_id, version_id):
    app = services.get_app_for_change(app_id, current_user)
    version = services.get_version(app, version_id)
    try:
        services.delete_version(version)
    except PortalError as exc:
        flash_refusal(exc)
        return _done(url_for("apps.detail", app_id=app_id))
    flash("Draft deleted.", "success")
    return _done(url_for("apps.detail", app_id=app_id))


@bp.route("/<app_id>/docs/new", methods=["GET", "POST"])
@bp.route("/<app_id>/docs/<doc_id>/edit", methods=["GET", "POST"])
@page_auth(roles=PROVIDERS)
def edit_doc(app_id, doc_id=None):
    app = services.get_app_for_change(app_id, current_user)
    doc = services.get_doc(app, doc_id) if doc_id else None
    form = {"title": request.form.get("title", doc.title if doc else "")}
    form["content"] = request.form.get("content", doc.content if doc else "")
    if request.method == "POST":
        try:
            if doc is None:
                services.add_doc(app, **form)
            else:
                services.update_doc(doc, **form)
        except PortalError as exc:
            return _form_error("apps/doc_form.html", exc, app=app, doc=doc, form=form)
        flash("Documentation page saved.", "success")
        return _done(url_for("apps.detail", app_id=app.id) + "#docs")
    return render_template("apps/doc_form.html", app=app, doc=doc, form=form, errors={})


@bp.post("/<app_id>/docs/<doc_id>/delete")
@page_auth(roles=PROVIDERS)
def delete_doc(app_id, doc_id):
    app = services.get_app_for_change(app_id, current_user)
    services.delete_doc(app, services.get_doc(app, doc_id))
    flash("Documentation page deleted.", "success")
    return _done(url_for("apps.detail", app_id=app.id) + "#docs")


@bp.post("/<app_id>/docs/<doc_id>/move")
@page_auth(roles=PROVIDERS)
def move_doc(app_id, doc_id):
    app = services.get_app_for_change(app_id, current_user)
    services.move_doc(app, services.get_doc(app, doc_id), request.form.get("direction", "up"))
    return _done(url_for("apps.detail", app_id=app.id) + "#docs")


# -- the Registry ---------------------------------------------------------------------------

FILTERS = ("q", "type", "sdk", "license", "tag", "min_qubits", "max_qubits", "sort")


@registry_bp.get("/")
def browse():
    return cache.shared_page("registry", {}, _browse)


def _browse():
    filters = {k: request.args.get(k, "").strip() for k in FILTERS}
    page_no = page_number(request.args.get("page"))
    query = {k: v for k, v in filters.items() if v}
    signed_in = current_user.is_authenticated  # the empty Registry invites them to publish

    def results():
        page = registry.browse(**filters, page=page_no)
        return render_template(
            "registry/_results.html", page=page, query=query, error=None, **CHOICES
        )

    try:
        results_html = cache.fragment(
            "registry", {**filters, "page": page_no, "signed_in": signed_in}, results
        )
    except PortalError as exc:
        error_html = render_template("registry/_results.html", error=exc.message)
        results_html = Markup(error_html)  # noqa: S704 - our own template
    if htmx and htmx.target == "registry-results":
        response = make_response(results_html)
        # A clean, shareable address in the location bar (no empty filter parameters).
        response.headers["HX-Push-Url"] = url_for("registry.browse", **query)
        return response
    featured_html = None
    if not query:
        featured_html = cache.fragment(
            "registry-featured",
            {},
            lambda: render_template("registry/_featured.html", featured=registry.featured()),
        )
    return render_template(
        "registry/browse.html",
        results_html=results_html,
        featured_html=featured_html,
        filters=filters,
        sorts=registry.SORTS,
        **CHOICES,
    )


@registry_bp.get("/<app_id>")
def app(app_id):
    response = cache.shared_page("registry-app", {}, lambda: _app_page(app_id))
    # Reached on a 200 only (the id is a Registry app's); counted after rendering, so the
    # page shows the count before this view and no commit expires the app mid-render.
    services.record_view(app_id)
    return response


def _app_page(app_id):
    app = registry.get_registry_app(app_id, for_page=True)
    latest = app.latest_version
    example = registry.example_job_request(request.host_url, latest)

    def body():
        return render_template(
            "registry/_app_body.html",
            app=app,
            versions=registry.visible_versions(app),
            latest=latest,
            example=example,
        )

    # README, versions and docs are the same for every reader (in the reader's time zone):
    # cached, and re-rendered at once when the app, a version, a tag or a doc changes.
    reader = {"id": str(app.id), "example": example, "tz": user_timezone().key}
    return render_template(
        "registry/app.html",
        app=app,
        latest=latest,
        body_html=cache.fragment("registry-app", reader, body),
        metrics=app.metrics or metrics.app_metrics(app.id),
        liked=services.has_liked(app, _user()),
        can_manage=services.can_manage(app, _user()),
    )


@registry_bp.get("/<app_id>/versions/<version_id>")
def version_page(app_id, version_id):
    app = registry.get_registry_app(app_id)
    version = services.get_version(app, version_id)
    if version.status is VersionStatus.DRAFT:
        raise NotFound("No such version of this app.")
    return render_template(
        "registry/version.html",
        app=app,
        version=version,
        example=registry.example_job_request(request.host_url, version),
    )


@registry_bp.get("/<app_id>/docs/<doc_id>")
def doc(app_id, doc_id):
    app = registry.get_registry_app(app_id)
    return render_template("registry/doc.html", app=app, doc=services.get_doc(app, doc_id))


@registry_bp.post("/<app_id>/download")
def download(app_id):
    app = registry.get_registry_app(app_id)
    version = None
    if request.form.get("version_id"):
        version = services.get_version(app, request.form["version_id"])
        if version.status is VersionStatus.DRAFT:
            raise NotFound("No such version of this app.")
    version, data, filename = services.download(app, version)
    response = send_file(
        io.BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=filename
    )
    response.headers["X-Package-SHA256"] = version.package_sha256 or ""
    return response


@registry_bp.get("/<app_id>/stats")
def stats(app_id):
    app = registry.get_registry_app(app_id)
    return render_template("registry/_stats.html", app=app, metrics=metrics.app_metrics(app.id))


@registry_bp.post("/<app_id>/like")
@page_auth()
def like(app_id):
    app = registry.get_registry_app(app_id)
    liked = services.toggle_like(app, current_user)
    context = {"app": app, "liked": liked, "metrics": metrics.app_metrics(app.id)}
    if htmx:
        return render_template("registry/_like.html", **context)
    return redirect(url_for("registry.app", app_id=app.id))
