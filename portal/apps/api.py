"""JSON API for quantum apps (/api/v1/quantum-apps) and the Registry (/api/v1/registry).
Thin: parse, call ``portal.apps.services`` / ``portal.apps.registry``, serialise."""

from __future__ import annotations

import io

from flask import g, jsonify, request, send_file
from flask_smorest import Blueprint

from portal.accounts.auth import api_auth
from portal.accounts.models import Role
from portal.apps import metrics, registry, services
from portal.apps.schemas import (
    AppCreateSchema,
    AppListArgs,
    AppPageSchema,
    AppSchema,
    AppUpdateSchema,
    DownloadArgs,
    MetricsSchema,
    RegistryAppSchema,
    RegistryArgs,
    VersionCreateSchema,
    VersionDetailSchema,
    VersionDownloadArgs,
    VersionPageSchema,
    VersionSchema,
    VersionUpdateSchema,
    VersionUploadSchema,
    app_item,
)
from portal.core import cache
from portal.core.apidocs import accepts
from portal.core.apipaging import envelope
from portal.core.errors import NotFound, ValidationFailed
from portal.core.forms import load_form
from portal.core.paging import Page

blp = Blueprint(
    "apps_api",
    __name__,
    url_prefix="/quantum-apps",
    description="Quantum apps and their versions (developers manage; others read public apps)",
)
registry_blp = Blueprint(
    "registry_api",
    __name__,
    url_prefix="/registry",
    description="The open-source Registry: browse and download public apps (no sign-in needed)",
)

ZIP_RESPONSE = {
    "200": {
        "description": "The package zip (manifest.json, programs, README)",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _saved(value=None):
    """Commit at the request boundary; services only flush."""
    return value


def _zip(version, data: bytes, filename: str):
    response = send_file(
        io.BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=filename
    )
    response.headers["X-Package-SHA256"] = version.package_sha256 or ""
    return response


# -- apps -----------------------------------------------------------------------------------


@blp.route("/", methods=["GET"])
@api_auth(scope="read", anonymous=True)
@blp.arguments(AppListArgs, location="query")
@blp.response(200, AppPageSchema)
def list_apps(args):
    """List apps you can see (filters, search, sort, paging); without credentials, public apps"""
    return envelope(services.list_apps(g.api_user, **args))


@blp.route("/", methods=["POST"])
@api_auth(scope="full", roles=(Role.PROVIDER, Role.ADMIN))
@blp.arguments(AppCreateSchema)
@blp.response(201, AppSchema)
def create_app(data):
    """Create an app (PROVIDER role)"""
    return _saved(services.create_app(g.api_user, **data))


@blp.route("/<app_id>", methods=["GET"])
@api_auth(scope="read")
@blp.response(200, AppSchema)
def get_app(app_id):
    """One app (404 for another developer's private app)"""
    return services.get_app(app_id, g.api_user)


@blp.route("/<app_id>", methods=["PUT"])
@api_auth(scope="full")
@blp.arguments(AppUpdateSchema)
@blp.response(200, AppSchema)
def update_app(data, app_id):
    """Change an app (its developer or an admin)"""
    app = services.get_app_for_change(app_id, g.api_user)
    return _saved(services.update_app(app, **data))


@blp.route("/<app_id>", methods=["DELETE"])
@api_auth(scope="full")
@blp.response(204)
def delete_app(app_id):
    """Delete an app with its versions and pages (its developer or an admin)"""
    services.delete_app(services.get_app_for_change(app_id, g.api_user))
    _saved()


@blp.route("/<app_id>/publish-registry", methods=["POST"])
@api_auth(scope="full")
@blp.response(200, AppSchema)
def publish_registry(app_id):
    """Publish to the Registry (needs public visibility, an open-source licence, a README
    and a published version; 422 lists what is missing)"""
    return _saved(services.publish_to_registry(services.get_app_for_change(app_id, g.api_user)))


@blp.route("/<app_id>/metrics", methods=["GET"])
@api_auth(scope="read")
@blp.response(200, MetricsSchema)
def app_metrics(app_id):
    """Views, downloads, likes and rating of an app"""
    return _saved(metrics.app_metrics(services.get_app(app_id, g.api_user).id))


# -- versions -------------------------------------------------------------------------------


@blp.route("/<app_id>/versions", methods=["GET"])
@api_auth(scope="read")
@blp.response(200, VersionPageSchema)
def list_versions(app_id):
    """Versions, newest first by semantic version (drafts only for the developer)"""
    app = services.get_app(app_id, g.api_user)
    versions = services.sorted_versions(app)
    if not services.can_manage(app, g.api_user):
        versions = [v for v in versions if v.status.name != "DRAFT"]
    return envelope(Page(versions, len(versions), 1, max(1, len(versions))))  # all, one page


@blp.route("/<app_id>/versions", methods=["POST"])
@accepts("multipart/form-data")
@api_auth(scope="full")
@blp.arguments(VersionCreateSchema)
@blp.response(201, VersionDetailSchema)
def create_version(data, app_id):
    """Create a version: JSON with ``entry_program`` (OpenQASM 3) or ``multipart/form-data``
    with a ``package`` zip (plus ``version_number``, ``release_notes``, ``publish``). The
    package is validated (manifest, programs parse, size limits, no traversal or zip bombs)."""
    app = services.get_app_for_change(app_id, g.api_user)
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("package")
        if upload is None:
            raise ValidationFailed(
                "Attach the package zip as the 'package' file field.",
                details={"package": "required"},
            )
        form = load_form(VersionUploadSchema(), request.form)
        return _saved(
            services.create_version(
                app,
                version_number=form.get("version_number") or None,
                package=upload.read(),
                release_notes=form.get("release_notes"),
                publish=form["publish"],
            )
        )
    return _saved(
        services.create_version(
            app,
            version_number=data.get("version_number"),
            entry_program=data.get("entry_program"),
            sdk=data.get("sdk", "OPENQASM3"),
            release_notes=data.get("release_notes"),
            publish=data.get("publish", False),
        )
    )


def _version_for(app_id, version_id, manage: bool = False):
    user = g.api_user
    app = services.get_app_for_change(app_id, user) if manage else services.get_app(app_id, user)
    version = services.get_version(app, version_id)
    if version.status.name == "DRAFT" and not services.can_manage(app, user):
        raise NotFound("No such version of this app.")
    return app, version


@blp.route("/<app_id>/versions/<version_id>", methods=["GET"])
@api_auth(scope="read")
@blp.response(200, VersionDetailSchema)
def get_version(app_id, version_id):
    """One version with its program, schemas and validation results"""
    return _version_for(app_id, version_id)[1]


@blp.route("/<app_id>/versions/<version_id>", methods=["PUT"])
@api_auth(scope="full")
@blp.arguments(VersionUpdateSchema)
@blp.response(200, VersionSchema)
def update_version(data, app_id, version_id):
    """Edit release notes or move the status (PUBLISHED, DEPRECATED, YANKED with a reason)"""
    version = _version_for(app_id, version_id, manage=True)[1]
    return _saved(services.update_version(version, **data))


@blp.route("/<app_id>/versions/<version_id>", methods=["DELETE"])
@api_auth(scope="full")
@blp.response(204)
def delete_version(app_id, version_id):
    """Delete a draft version (released versions are yanked instead: 409)"""
    services.delete_version(_version_for(app_id, version_id, manage=True)[1])
    _saved()


@blp.route("/<app_id>/versions/<version_id>/download", methods=["GET"])
@api_auth(scope="read")
@blp.arguments(VersionDownloadArgs, location="query")
@blp.doc(responses=ZIP_RESPONSE)
def download_version(args, app_id, version_id):
    """Download a version's package (a yanked one only with allow_yanked=true; 409 says why)"""
    app, version = _version_for(app_id, version_id)
    return _zip(*services.download(app, version, allow_yanked=args["allow_yanked"]))


# -- registry -------------------------------------------------------------------------------


@registry_blp.route("/", methods=["GET"])
@registry_blp.arguments(RegistryArgs, location="query")
@registry_blp.response(200, AppPageSchema)
def registry_list(args):
    """Search and browse the Registry (full-text search, filters, sort, paging)"""

    # The same for every caller: the serialised page is cached like the web listing's.
    def dump() -> dict:
        page = registry.browse(**args)
        return envelope(page, items=[app_item(app) for app in page.items])  # = AppPageSchema

    body = cache.remember("api-registry", args, dump)
    return jsonify(body)


@registry_blp.route("/<app_id>", methods=["GET"])
@registry_blp.response(200, RegistryAppSchema)
def registry_app(app_id):
    """One Registry app with its released versions and documentation pages (counts a view)"""
    app = registry.get_registry_app(app_id)
    services.record_view(app.id)
    return _saved(app)


@registry_blp.route("/download/<app_id>", methods=["POST"])
@registry_blp.arguments(DownloadArgs, location="query")
@registry_blp.doc(responses=ZIP_RESPONSE)
def registry_download(args, app_id):
    """Download a Registry app's package (latest, or ``?version=1.2.0``); counts a download"""
    app = registry.get_registry_app(app_id)
    version = None
    if args.get("version"):
        version = next((v for v in app.versions if v.version_number == args["version"]), None)
        if version is None or version.status.name == "DRAFT":
            raise NotFound(f"This app has no version {args['version']}.")
    return _zip(*services.download(app, version, allow_yanked=args["allow_yanked"]))
