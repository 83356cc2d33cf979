"""Marshmallow schemas of the accounts API: they validate input and document the OpenAPI."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.accounts.services import API_KEY_SCOPES, EMAIL_EVENTS, MAX_SHOTS, preferences_for
from portal.core.apipaging import PageArgs, PageMeta
from portal.core.inputs import Int

UUID_EXAMPLE = "3f1c1e4e-9c1a-4a51-9a59-4f8d2f0a7b21"
WHEN_EXAMPLE = "2026-12-01T09:30:00+00:00"


class RegisterSchema(Schema):
    username = fields.String(
        required=True, validate=validate.Length(3, 50), metadata={"example": "ada"}
    )
    email = fields.Email(required=True, metadata={"example": "ada@example.com"})
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(1, 200),
        metadata={"example": "Analytical-Engine-1843", "description": "10+ chars, ≤ 72 bytes"},
    )
    full_name = fields.String(
        load_default=None, validate=validate.Length(max=100), metadata={"example": "Ada Lovelace"}
    )


class LoginSchema(Schema):
    login = fields.String(
        required=True,
        validate=validate.Length(1, 100),
        metadata={"example": "ada", "description": "username or e-mail"},
    )
    password = fields.String(
        required=True, load_only=True, metadata={"example": "Analytical-Engine-1843"}
    )


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, metadata={"example": "eyJhbGciOiJIUzI1NiJ9…"})


class TokenSchema(Schema):
    access_token = fields.String(metadata={"example": "eyJhbGciOiJIUzI1NiJ9…"})
    refresh_token = fields.String(metadata={"example": "eyJhbGciOiJIUzI1NiJ9…"})
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"example": 900, "description": "seconds"})
    session_id = fields.UUID(metadata={"example": UUID_EXAMPLE})


class ResetRequestSchema(Schema):
    email = fields.Email(required=True, metadata={"example": "ada@example.com"})


class NewPasswordSchema(Schema):
    password = fields.String(
        required=True, load_only=True, metadata={"example": "New-Engine-Design-1843"}
    )


class MessageSchema(Schema):
    message = fields.String(metadata={"example": "Done."})


class PreferencesSchema(Schema):
    timezone = fields.String(metadata={"example": "Europe/London"})
    default_device = fields.String(metadata={"example": "aer-simulator"})
    default_shots = Int(validate=validate.Range(1, MAX_SHOTS), metadata={"example": 1024})
    email_events = fields.List(
        fields.String(validate=validate.OneOf(EMAIL_EVENTS)),
        metadata={"example": ["job.completed", "payment.failed"]},
    )


class UserSchema(Schema):
    id = fields.UUID(dump_only=True, metadata={"example": UUID_EXAMPLE})
    username = fields.String(metadata={"example": "ada"})
    email = fields.String(metadata={"example": "ada@example.com"})
    full_name = fields.String(allow_none=True, metadata={"example": "Ada Lovelace"})
    roles = fields.List(fields.String(), metadata={"example": ["CONSUMER", "PROVIDER"]})
    is_active = fields.Boolean(metadata={"example": True})
    is_provider = fields.Boolean(metadata={"example": False})
    email_verified = fields.Function(
        lambda u: u.email_verified_at is not None, metadata={"example": True}
    )
    last_login = fields.DateTime(allow_none=True, metadata={"example": WHEN_EXAMPLE})
    created_at = fields.DateTime(metadata={"example": WHEN_EXAMPLE})
    preferences = fields.Method("_preferences", metadata={"example": {"timezone": "UTC"}})

    def _preferences(self, user):
        return preferences_for(user)


class UserUpdateSchema(Schema):
    username = fields.String(validate=validate.Length(3, 50), metadata={"example": "ada"})
    email = fields.Email(metadata={"example": "ada@example.org"})
    full_name = fields.String(validate=validate.Length(max=100), metadata={"example": "Ada L."})
    roles = fields.List(
        fields.String(),
        metadata={"example": ["CONSUMER", "PROVIDER"], "description": "admins only"},
    )
    is_active = fields.Boolean(metadata={"example": True, "description": "admins only"})


class UserListArgs(PageArgs):
    q = fields.String(load_default=None, metadata={"example": "ada"})


class UserPageSchema(PageMeta):
    items = fields.List(fields.Nested(UserSchema))


class ProfileSchema(Schema):
    organization = fields.String(
        allow_none=True, validate=validate.Length(max=100), metadata={"example": "Analytical Ltd"}
    )
    bio = fields.String(allow_none=True, metadata={"example": "Writes the first algorithms."})
    avatar_url = fields.String(allow_none=True, metadata={"example": "https://example.com/ada.png"})
    contact_info = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        allow_none=True,
        metadata={"example": {"phone": "+44 20 0000 0000"}},
    )
    social_links = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        allow_none=True,
        metadata={"example": {"github": "https://github.com/ada"}},
    )
    updated_at = fields.DateTime(dump_only=True, metadata={"example": WHEN_EXAMPLE})


class SessionSchema(Schema):
    id = fields.UUID(metadata={"example": UUID_EXAMPLE})
    kind = fields.String(metadata={"example": "web", "description": "web or api"})
    ip_address = fields.String(allow_none=True, metadata={"example": "203.0.113.7"})
    user_agent = fields.String(allow_none=True, metadata={"example": "Mozilla/5.0"})
    issued_at = fields.DateTime(metadata={"example": WHEN_EXAMPLE})
    last_seen_at = fields.DateTime(allow_none=True, metadata={"example": WHEN_EXAMPLE})
    expires_at = fields.DateTime(metadata={"example": WHEN_EXAMPLE})
    is_active = fields.Boolean(metadata={"example": True})


class ApiKeySchema(Schema):
    id = fields.UUID(dump_only=True, metadata={"example": UUID_EXAMPLE})
    name = fields.String(metadata={"example": "CI pipeline"})
    prefix = fields.String(metadata={"example": "qh_Zx81kQmP"})
    scopes = fields.List(fields.String(), metadata={"example": ["jobs"]})
    status = fields.Function(lambda k: k.status.value, metadata={"example": "ACTIVE"})
    rate_limit = fields.String(allow_none=True, metadata={"example": "60/minute"})
    expire_at = fields.DateTime(allow_none=True, metadata={"example": WHEN_EXAMPLE})
    last_used_at = fields.DateTime(allow_none=True, metadata={"example": WHEN_EXAMPLE})
    created_at = fields.DateTime(metadata={"example": WHEN_EXAMPLE})


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(
        metadata={
            "example": "qh_Zx81kQmP…",
            "description": "the full key — shown only in this response; store it now",
        }
    )


class ApiKeyCreateSchema(Schema):
    name = fields.String(
        required=True, validate=validate.Length(1, 100), metadata={"example": "CI pipeline"}
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(API_KEY_SCOPES)),
        load_default=lambda: ["read"],
        metadata={"example": ["jobs"], "description": "read, jobs (read + submit) or full"},
    )
    expire_at = fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"example": "2027-01-01T00:00:00+00:00"}
    )
    rate_limit = fields.String(
        load_default=None, allow_none=True, metadata={"example": "60/minute"}
    )


class ApiKeyUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(1, 100), metadata={"example": "CI (main)"})
    scopes = fields.List(
        fields.String(validate=validate.OneOf(API_KEY_SCOPES)), metadata={"example": ["read"]}
    )
    expire_at = fields.AwareDateTime(allow_none=True, metadata={"example": None})
    rate_limit = fields.String(allow_none=True, metadata={"example": "120/minute"})


class ApiKeyPageSchema(PageMeta):
    items = fields.List(fields.Nested(ApiKeySchema))
