"""Marshmallow schemas of the projects API, which the IDE's pages load their forms with too."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.apps.models import AppType, AppVisibility, LicenseType
from portal.core.apipaging import PageMeta
from portal.projects import services
from portal.projects.starters import STARTERS


class FileInfoSchema(Schema):
    path = fields.String(metadata={"example": "main.qasm"})
    size = fields.Integer(metadata={"description": "bytes (UTF-8)", "example": 142})
    updated_at = fields.DateTime()


class FileSchema(FileInfoSchema):
    content = fields.String(metadata={"example": 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'})


class ProjectSchema(Schema):
    id = fields.UUID()
    name = fields.String(metadata={"example": "Bell pair"})
    description = fields.String(allow_none=True)
    repo = fields.String(allow_none=True, metadata={"example": "https://github.com/me/bell"})
    quantum_app_id = fields.UUID(
        allow_none=True, metadata={"description": "the app released from this project"}
    )
    size = fields.Function(lambda p: services.project_size(p), metadata={"description": "bytes"})
    files = fields.Function(
        lambda p: FileInfoSchema(many=True).dump(services.list_files(p)),
        metadata={"description": "path, size and updated_at of each file"},
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProjectSummarySchema(Schema):
    id = fields.UUID()
    name = fields.String()
    description = fields.String(allow_none=True)
    repo = fields.String(allow_none=True)
    quantum_app_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProjectPageSchema(PageMeta):
    items = fields.List(fields.Nested(ProjectSummarySchema))


class ProjectCreateSchema(Schema):
    name = fields.String(required=True, metadata={"example": "My Bell pair"})
    description = fields.String(allow_none=True, load_default=None)
    repo = fields.String(allow_none=True, load_default=None)
    template = fields.String(
        load_default="bell",
        validate=validate.OneOf(list(STARTERS)),
        metadata={"description": "starter files", "example": "ghz"},
    )


class ProjectForkSchema(Schema):
    app_version_id = fields.UUID(
        required=True, metadata={"description": "A released version of a public Registry app"}
    )


class ProjectUpdateSchema(Schema):
    name = fields.String()
    description = fields.String(allow_none=True)
    repo = fields.String(allow_none=True)


class FileCreateSchema(Schema):
    path = fields.String(required=True, metadata={"example": "circuits/ghz.qasm"})
    content = fields.String(load_default="")


class FileWriteSchema(Schema):
    content = fields.String(required=True)


class FileRenameSchema(Schema):
    path = fields.String(required=True, metadata={"description": "the new path"})


class AnalyseSchema(Schema):
    source = fields.String(required=True, metadata={"example": "OPENQASM 2.0;\nqreg q[1];\n"})


class DiagnosticSchema(Schema):
    line = fields.Integer()
    column = fields.Integer()
    message = fields.String()


class AnalysisSchema(Schema):
    ok = fields.Boolean()
    format = fields.String(allow_none=True, metadata={"example": "qasm3"})
    diagnostics = fields.List(fields.Nested(DiagnosticSchema))
    resources = fields.Dict(
        allow_none=True,
        metadata={"example": {"qubits": 2, "clbits": 2, "depth": 3, "size": 4,
                              "gate_counts": {"h": 1, "cx": 1, "measure": 2}}},
    )  # fmt: skip
    input_schema = fields.Dict(allow_none=True)


class BuildArgsSchema(Schema):
    version = fields.String(required=True, metadata={"example": "0.1.0"})
    entry = fields.String(load_default=None, metadata={"example": "main.qasm"})


class BuildSchema(Schema):
    version = fields.String()
    entry = fields.String()
    passed = fields.Boolean()
    status = fields.String(
        metadata={
            "description": "passed | failed | checking (the simulation is still running on a "
            "worker: GET status_url until it is not)",
            "example": "passed",
        }
    )
    status_url = fields.Function(
        lambda b: getattr(b, "status_url", None),
        metadata={"description": "where to read the build again while it is checking"},
    )
    manifest = fields.Dict()
    validation = fields.Dict()
    package_size = fields.Function(lambda b: len(b.package) if b.package else None)


class ReleaseArgsSchema(Schema):
    name = fields.String(required=True, metadata={"example": "Bell pair"})
    version = fields.String(required=True, metadata={"example": "0.1.0"})
    type = fields.String(load_default=None, validate=validate.OneOf([t.value for t in AppType]))
    license = fields.String(
        load_default=None,
        validate=validate.OneOf([t.value for t in LicenseType]),
    )
    visibility = fields.String(
        load_default=None,
        validate=validate.OneOf([t.value for t in AppVisibility]),
    )
    description = fields.String(allow_none=True, load_default=None)
    release_notes = fields.String(allow_none=True, load_default=None)
    entry = fields.String(load_default=None)


class ReleaseSchema(Schema):
    app_id = fields.UUID()
    version_id = fields.UUID()
    version = fields.String()
    created_app = fields.Boolean(metadata={"description": "true on the first release"})
    validation = fields.Dict()
