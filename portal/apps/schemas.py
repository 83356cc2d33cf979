"""Marshmallow schemas of the apps and Registry API (they validate and document)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.apps.models import AppType, AppVisibility, LicenseType, SDKType, VersionStatus
from portal.apps.registry import visible_versions
from portal.core.apipaging import PageArgs, PageMeta
from portal.core.inputs import Int

SORTS = ["downloads", "newest", "rating", "name", "relevance"]


def _names(enum_cls) -> list[str]:
    return [m.name for m in enum_cls]


class MetricsSchema(Schema):
    views = fields.Integer(metadata={"example": 120})
    downloads = fields.Integer(metadata={"example": 42})
    registry_likes = fields.Integer(metadata={"example": 7})
    average_rating = fields.Float(metadata={"example": 4.5})


class VersionSchema(Schema):
    id = fields.UUID(dump_only=True)
    quantum_app_id = fields.UUID(dump_only=True)
    version_number = fields.String(metadata={"example": "1.2.0"})
    status = fields.Enum(VersionStatus, metadata={"example": "PUBLISHED"})
    is_latest = fields.Boolean()
    sdk_used = fields.Enum(SDKType)
    release_notes = fields.String(allow_none=True)
    yank_reason = fields.String(allow_none=True)
    input_schema = fields.Dict(allow_none=True)
    output_schema = fields.Dict(allow_none=True)
    number_of_qubits = fields.Integer(allow_none=True)
    resource_estimate = fields.Dict(allow_none=True)
    validation_results = fields.Dict(allow_none=True)
    package_sha256 = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class VersionDetailSchema(VersionSchema):
    entry_program = fields.String(allow_none=True)


class AppSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(metadata={"example": "Bell Pair"})
    description = fields.String(allow_none=True)
    type = fields.Enum(AppType)
    visibility = fields.Enum(AppVisibility)
    license_type = fields.Enum(LicenseType, allow_none=True)
    license_url = fields.String(allow_none=True)
    documentation_url = fields.String(allow_none=True)
    repository_url = fields.String(allow_none=True)
    readme_content = fields.String(allow_none=True)
    developer = fields.Function(lambda app: app.developer.username if app.developer else None)
    developer_id = fields.UUID()
    tags = fields.Function(lambda app: [t.name for t in app.tags])
    is_in_registry = fields.Boolean()
    featured_in_registry = fields.Boolean()
    registry_published_at = fields.DateTime(allow_none=True)
    latest_version = fields.Nested(VersionSchema, allow_none=True)
    metrics = fields.Nested(MetricsSchema, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


_url = fields.String(allow_none=True, validate=validate.Length(max=255))


def _text(value) -> str | None:
    return None if value is None else str(value)


def _name(value) -> str | None:
    return None if value is None else value.name


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def _number(kind, value):
    return None if value is None else kind(value)


def _mapping(value) -> dict | None:
    return None if value is None else dict(value)


def version_item(version) -> dict | None:
    """What ``VersionSchema().dump(version)`` gives (see ``app_item``)."""
    if version is None:
        return None
    return {
        "id": _text(version.id),
        "quantum_app_id": _text(version.quantum_app_id),
        "version_number": _text(version.version_number),
        "status": _name(version.status),
        "is_latest": _number(bool, version.is_latest),
        "sdk_used": _name(version.sdk_used),
        "release_notes": _text(version.release_notes),
        "yank_reason": _text(version.yank_reason),
        "input_schema": _mapping(version.input_schema),
        "output_schema": _mapping(version.output_schema),
        "number_of_qubits": _number(int, version.number_of_qubits),
        "resource_estimate": _mapping(version.resource_estimate),
        "validation_results": _mapping(version.validation_results),
        "package_sha256": _text(version.package_sha256),
        "published_at": _iso(version.published_at),
        "created_at": _iso(version.created_at),
    }


def app_item(app) -> dict:
    """What ``AppSchema().dump(app)`` gives, built without marshmallow's per-field machinery
    (a Registry search page dumps a dozen cards: a third of the request's CPU). Keep the two
    in step: tests/unit/apps/test_app_item.py compares them field by field."""
    metrics = app.metrics
    return {
        "id": _text(app.id),
        "name": _text(app.name),
        "description": _text(app.description),
        "type": _name(app.type),
        "visibility": _name(app.visibility),
        "license_type": _name(app.license_type),
        "license_url": _text(app.license_url),
        "documentation_url": _text(app.documentation_url),
        "repository_url": _text(app.repository_url),
        "readme_content": _text(app.readme_content),
        "developer": app.developer.username if app.developer else None,
        "developer_id": _text(app.developer_id),
        "tags": [t.name for t in app.tags],
        "is_in_registry": _number(bool, app.is_in_registry),
        "featured_in_registry": _number(bool, app.featured_in_registry),
        "registry_published_at": _iso(app.registry_published_at),
        "latest_version": version_item(app.latest_version),
        "metrics": None
        if metrics is None
        else {
            "views": _number(int, metrics.views),
            "downloads": _number(int, metrics.downloads),
            "registry_likes": _number(int, metrics.registry_likes),
            "average_rating": _number(float, metrics.average_rating),
        },
        "created_at": _iso(app.created_at),
        "updated_at": _iso(app.updated_at),
    }


class AppCreateSchema(Schema):
    name = fields.String(
        required=True, validate=validate.Length(1, 100), metadata={"example": "Bell Pair"}
    )
    description = fields.String(allow_none=True, metadata={"example": "An entangled pair."})
    type = fields.String(
        load_default="CIRCUIT", validate=validate.OneOf(_names(AppType)),
        metadata={"example": "CIRCUIT"},
    )  # fmt: skip
    visibility = fields.String(
        load_default="PRIVATE", validate=validate.OneOf(_names(AppVisibility))
    )
    license_type = fields.String(
        load_default="MIT", allow_none=True, validate=validate.OneOf(_names(LicenseType))
    )
    license_url = _url
    readme_content = fields.String(allow_none=True, metadata={"example": "# Bell Pair\n..."})
    documentation_url = _url
    repository_url = _url
    tags = fields.List(fields.String(), load_default=list, metadata={"example": ["entanglement"]})


class AppUpdateSchema(AppCreateSchema):
    """Every field optional: only the fields sent change."""

    class Meta:
        partial = True

    name = fields.String(validate=validate.Length(1, 100))
    type = fields.String(validate=validate.OneOf(_names(AppType)))
    visibility = fields.String(validate=validate.OneOf(_names(AppVisibility)))
    license_type = fields.String(allow_none=True, validate=validate.OneOf(_names(LicenseType)))
    tags = fields.List(fields.String())


class AppListArgs(PageArgs):
    type = fields.String(validate=validate.OneOf(_names(AppType)))
    sdk = fields.String(validate=validate.OneOf(_names(SDKType)))
    tag = fields.String()
    visibility = fields.String(validate=validate.OneOf(_names(AppVisibility)))
    developer = fields.String(metadata={"description": "username or user id"})
    mine = fields.Boolean(load_default=False)
    search = fields.String(validate=validate.Length(max=200))
    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS))


class RegistryArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=200), metadata={"example": "bell"})
    type = fields.String(validate=validate.OneOf(_names(AppType)))
    sdk = fields.String(validate=validate.OneOf(_names(SDKType)))
    license = fields.String(validate=validate.OneOf(_names(LicenseType)))
    tag = fields.String()
    min_qubits = Int(validate=validate.Range(min=0))
    max_qubits = Int(validate=validate.Range(min=0))
    sort = fields.String(validate=validate.OneOf(SORTS))


class AppPageSchema(PageMeta):
    items = fields.List(fields.Nested(AppSchema))


class RegistryAppSchema(AppSchema):
    versions = fields.Method("_versions")
    documentation = fields.Function(
        lambda app: [{"id": str(d.id), "title": d.title, "order": d.order}
                     for d in app.documentation]
    )  # fmt: skip

    def _versions(self, app):
        return VersionSchema(many=True).dump(visible_versions(app))


class VersionCreateSchema(Schema):
    version_number = fields.String(metadata={"example": "1.0.0"})
    entry_program = fields.String(
        metadata={"description": "OpenQASM 3 source of the entry program (or upload a package)"}
    )
    sdk = fields.String(load_default="OPENQASM3", validate=validate.OneOf(_names(SDKType)))
    release_notes = fields.String(allow_none=True, metadata={"example": "First release."})
    publish = fields.Boolean(load_default=False)


class VersionUploadSchema(Schema):
    """The form fields beside a package zip (``multipart/form-data``)."""

    version_number = fields.String()
    release_notes = fields.String(allow_none=True)
    publish = fields.Boolean(load_default=False)


class VersionUpdateSchema(Schema):
    release_notes = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(_names(VersionStatus)))
    yank_reason = fields.String(
        validate=validate.Length(max=255), metadata={"example": "Wrong results on 1.1.0"}
    )


class VersionPageSchema(PageMeta):
    items = fields.List(fields.Nested(VersionSchema))


class DownloadArgs(Schema):
    version = fields.String(metadata={"description": "a version number; default the latest"})
    allow_yanked = fields.Boolean(load_default=False)


class VersionDownloadArgs(Schema):
    allow_yanked = fields.Boolean(load_default=False)
