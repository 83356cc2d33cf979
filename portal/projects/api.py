"""Projects API: projects, their files, analysis, build and release. Thin routes over
``portal.projects.services``; only the owner sees a project (others get 404)."""

from __future__ import annotations

import io
from urllib.parse import urlencode

from flask import current_app, g, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from portal.accounts.auth import api_auth
from portal.core.apipaging import PageArgs, envelope
from portal.projects import services
from portal.projects.schemas import (
    AnalyseSchema,
    AnalysisSchema,
    BuildArgsSchema,
    BuildSchema,
    FileCreateSchema,
    FileInfoSchema,
    FileRenameSchema,
    FileSchema,
    FileWriteSchema,
    ProjectCreateSchema,
    ProjectForkSchema,
    ProjectPageSchema,
    ProjectSchema,
    ProjectUpdateSchema,
    ReleaseArgsSchema,
    ReleaseSchema,
)

blp = Blueprint(
    "projects_api",
    __name__,
    url_prefix="/projects",
    description="Projects: OpenQASM source files, analysis, package builds and releases",
)

# -- routes ----------------------------------------------------------------------------------


def _project(project_id):
    return services.get_project(g.api_user, project_id)


@blp.route("/")
class Projects(MethodView):
    @api_auth(scope="read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ProjectPageSchema)
    def get(self, args):
        """List my projects (most recently changed first)"""
        return envelope(services.list_projects(g.api_user, **args))

    @api_auth(scope="full")
    @blp.arguments(ProjectCreateSchema)
    @blp.response(201, ProjectSchema)
    @blp.alt_response(422, description="Invalid name, repository URL or template")
    def post(self, data):
        """Create a project from a starter template"""
        return services.create_project(
            g.api_user,
            name=data["name"],
            description=data["description"],
            repo=data["repo"],
            starter=data["template"],
        )


@blp.route("/fork", methods=["POST"])
@api_auth(scope="full")
@blp.arguments(ProjectForkSchema)
@blp.response(201, ProjectSchema)
@blp.alt_response(404, description="No such app version, or not one you may open")
@blp.alt_response(413, description="A package file does not fit in a project")
def fork(data):
    """Open an app version in the IDE: a new project with the version's package files"""
    return services.fork_version(g.api_user, data["app_version_id"])


@blp.route("/<uuid:project_id>")
class ProjectItem(MethodView):
    @api_auth(scope="read")
    @blp.response(200, ProjectSchema)
    @blp.alt_response(404, description="No such project, or not yours")
    def get(self, project_id):
        """Show a project and its file list"""
        return _project(project_id)

    @api_auth(scope="full")
    @blp.arguments(ProjectUpdateSchema)
    @blp.response(200, ProjectSchema)
    def put(self, data, project_id):
        """Change a project's name, description or repository URL"""
        return services.update_project(_project(project_id), **data)

    @api_auth(scope="full")
    @blp.response(204)
    def delete(self, project_id):
        """Delete a project and its files (a released app stays)"""
        services.delete_project(_project(project_id))


@blp.route("/<uuid:project_id>/files")
class Files(MethodView):
    @api_auth(scope="read")
    @blp.response(200, FileInfoSchema(many=True))
    def get(self, project_id):
        """List a project's files"""
        return services.list_files(_project(project_id))

    @api_auth(scope="full")
    @blp.arguments(FileCreateSchema)
    @blp.response(201, FileSchema)
    @blp.alt_response(409, description="A file with that path exists")
    @blp.alt_response(413, description="File or project size limit exceeded")
    def post(self, data, project_id):
        """Create a file"""
        return services.create_file(_project(project_id), data["path"], data["content"])


@blp.route("/<uuid:project_id>/files/<path:path>")
class FileItem(MethodView):
    @api_auth(scope="read")
    @blp.response(200, FileSchema)
    def get(self, project_id, path):
        """Read a file"""
        return services.get_file(_project(project_id), path)

    @api_auth(scope="full")
    @blp.arguments(FileWriteSchema)
    @blp.response(200, FileSchema)
    @blp.alt_response(413, description="File or project size limit exceeded")
    def put(self, data, project_id, path):
        """Write a file (created if missing)"""
        return services.write_file(_project(project_id), path, data["content"])

    @api_auth(scope="full")
    @blp.arguments(FileRenameSchema)
    @blp.response(200, FileSchema)
    def patch(self, data, project_id, path):
        """Rename (move) a file"""
        return services.rename_file(_project(project_id), path, data["path"])

    @api_auth(scope="full")
    @blp.response(204)
    def delete(self, project_id, path):
        """Delete a file"""
        services.delete_file(_project(project_id), path)


@blp.route("/<uuid:project_id>/analyse")
class Analyse(MethodView):
    @api_auth(scope="read")
    @blp.arguments(AnalyseSchema)
    @blp.response(200, AnalysisSchema)
    def post(self, data, project_id):
        """Parse a program: diagnostics (line, column) and resource figures, without running"""
        project = _project(project_id)
        return services.analyse(data["source"], _inputs_or_none(project)).as_dict()


def _inputs_or_none(project):
    try:
        return services.saved_inputs(project)
    except services.ValidationFailed:
        return None


def _build_answer(project, data, wait: float):
    result = services.build(project, version=data["version"], entry=data["entry"], wait=wait)
    if not result.checking:
        return result
    query = urlencode({"version": result.version, "entry": result.entry})
    result.status_url = f"/api/v1/projects/{project.id}/build?{query}"
    return result, 202, {"Location": result.status_url, "Retry-After": "1"}


@blp.route("/<uuid:project_id>/build")
class BuildRoute(MethodView):
    @api_auth(scope="full")
    @blp.arguments(BuildArgsSchema)
    @blp.response(200, BuildSchema)
    @blp.alt_response(202, schema=BuildSchema, description="Still checking: GET status_url")
    def post(self, data, project_id):
        """Build and validate the package; `passed` says if it can be released

        Every program is parsed and checked in the request; the entry program's simulation
        (64 shots on Aer) runs on a worker, bounded by QH_WORKER_MEMORY_MB (a state vector is
        16 bytes x 2^qubits: a bigger program is refused with the figure) and
        QH_BUILD_CHECK_TIMEOUT_SECONDS. The request waits up to QH_BUILD_WAIT_SECONDS for the
        worker and answers 200 with the report; if the worker has not answered by then it
        answers 202 with `status: checking` and `status_url` (also in `Location`): GET it until
        the status is `passed` or `failed`. The same program built again reuses the result."""
        return _build_answer(_project(project_id), data, current_app.config["BUILD_WAIT_SECONDS"])

    @api_auth(scope="read")
    @blp.arguments(BuildArgsSchema, location="query")
    @blp.response(200, BuildSchema)
    @blp.alt_response(202, schema=BuildSchema, description="Still checking: GET again")
    def get(self, data, project_id):
        """Read a build's report (200), or 202 while its simulation is still checking"""
        return _build_answer(_project(project_id), data, 0)


@blp.route("/<uuid:project_id>/package")
class Package(MethodView):
    @api_auth(scope="read")
    @blp.arguments(BuildArgsSchema, location="query")
    @blp.response(200, description="The package zip", content_type="application/zip")
    @blp.alt_response(422, description="The build did not pass validation")
    @blp.alt_response(409, description="The build's simulation is still checking on a worker")
    def get(self, data, project_id):
        """Download the package zip of a build that passes validation"""
        result = services.require_passing(
            services.build(
                _project(project_id),
                version=data["version"],
                entry=data["entry"],
                wait=current_app.config["BUILD_WAIT_SECONDS"],
            )
        )
        return _zip_response(result)


def _zip_response(result):
    return send_file(
        io.BytesIO(result.package),
        mimetype="application/zip",
        as_attachment=True,
        download_name=services.package_filename(result),
    )


@blp.route("/<uuid:project_id>/release")
class Release(MethodView):
    @api_auth(scope="full")
    @blp.arguments(ReleaseArgsSchema)
    @blp.response(201, ReleaseSchema)
    @blp.alt_response(422, description="Invalid fields, or the build did not pass validation")
    @blp.alt_response(
        409,
        description="That version number already exists for the app, or the build's "
        "simulation is still checking on a worker (code build_checking: try again)",
    )
    def post(self, data, project_id):
        """Release the project as a quantum app (first time) or a new version of its app

        The build must pass, its simulation included (run on a worker; the release waits up
        to QH_BUILD_WAIT_SECONDS for it)."""
        return services.release(g.api_user, _project(project_id), **data).as_dict()
