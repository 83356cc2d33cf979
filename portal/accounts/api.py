"""Accounts JSON API: /auth, /users and /api-keys (thin: parse, call services, commit)."""

from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from portal.accounts import policy, services
from portal.accounts.auth import api_auth, limit_attempts, mail_link_base
from portal.accounts.models import Role
from portal.accounts.schemas import (
    ApiKeyCreatedSchema,
    ApiKeyCreateSchema,
    ApiKeyPageSchema,
    ApiKeySchema,
    ApiKeyUpdateSchema,
    LoginSchema,
    MessageSchema,
    NewPasswordSchema,
    PreferencesSchema,
    ProfileSchema,
    RefreshSchema,
    RegisterSchema,
    ResetRequestSchema,
    SessionSchema,
    TokenSchema,
    UserListArgs,
    UserPageSchema,
    UserSchema,
    UserUpdateSchema,
)
from portal.accounts.tokens import issue_tokens, refresh_tokens, revoke_session
from portal.core.apidocs import error_responses
from portal.core.apipaging import PageArgs, envelope
from portal.core.errors import Forbidden, ValidationFailed
from portal.core.paging import of_list

auth_blp = Blueprint(
    "auth_api", __name__, url_prefix="/auth", description="Register, sign in, tokens, resets"
)
users_blp = Blueprint(
    "users_api", __name__, url_prefix="/users", description="Accounts, profiles, sessions"
)
keys_blp = Blueprint("api_keys_api", __name__, url_prefix="/api-keys", description="API keys")


def _doc_errors(blp: Blueprint, *statuses: int):
    return error_responses(blp, *statuses)


def _token_body(pair) -> dict:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "session_id": pair.session.id,
    }


# --- /auth --------------------------------------------------------------------------------


@auth_blp.route("/register", methods=["POST"])
@auth_blp.arguments(RegisterSchema)
@auth_blp.response(201, UserSchema)
@auth_blp.alt_response(409, description="Username or e-mail already registered")
@_doc_errors(auth_blp, 422)
def register(data):
    """Create an account; a verification link is e-mailed"""
    user = services.register_user(**data)
    services.send_verification(user, mail_link_base())
    return user


@auth_blp.route("/login", methods=["POST"])
@auth_blp.arguments(LoginSchema)
@auth_blp.response(200, TokenSchema)
@auth_blp.alt_response(429, description="Too many attempts (Retry-After says when to retry)")
@_doc_errors(auth_blp, 401, 422)
def login(data):
    """Sign in: an access token (short-lived) and a refresh token (tied to a session)"""
    limit_attempts("sign-in", request.remote_addr, data["login"])
    user = services.authenticate(data["login"], data["password"])
    pair = issue_tokens(user, request.remote_addr, request.user_agent.string)
    return _token_body(pair)


@auth_blp.route("/refresh", methods=["POST"])
@auth_blp.arguments(RefreshSchema)
@auth_blp.response(200, TokenSchema)
@_doc_errors(auth_blp, 401)
def refresh(data):
    """A new access token for a valid refresh token"""
    pair = refresh_tokens(data["refresh_token"])
    return _token_body(pair)


@auth_blp.route("/logout", methods=["POST"])
@auth_blp.response(204)
@_doc_errors(auth_blp, 401)
@api_auth(scope="read")
def logout():
    """End the session of this bearer token (its access and refresh tokens stop working)"""
    session_id = getattr(g, "api_session_id", None)
    if session_id is None:
        raise ValidationFailed("Log out needs a bearer token; API keys are revoked instead.")
    revoke_session(services.get_session(g.api_user, session_id))


@auth_blp.route("/me", methods=["GET"])
@auth_blp.response(200, UserSchema)
@_doc_errors(auth_blp, 401)
@api_auth(scope="read")
def me():
    """Who is calling (works with a bearer token or an API key)"""
    return g.api_user


@auth_blp.route("/reset-password", methods=["POST"])
@auth_blp.arguments(ResetRequestSchema)
@auth_blp.response(202, MessageSchema)
@auth_blp.alt_response(429, description="Too many attempts")
@_doc_errors(auth_blp, 422)
def reset_request(data):
    """E-mail a single-use reset link (the answer is the same whether or not the address
    has an account)"""
    limit_attempts("reset", request.remote_addr, data["email"])
    services.request_password_reset(data["email"], mail_link_base())
    return {"message": "If an account uses this address, a reset link is on its way."}


@auth_blp.route("/reset-password/<string:token>", methods=["POST"])
@auth_blp.arguments(NewPasswordSchema)
@auth_blp.response(200, MessageSchema)
@_doc_errors(auth_blp, 404, 422)
def reset_confirm(data, token):
    """Set a new password with a reset link's token; every session is signed out"""
    limit_attempts("reset", request.remote_addr, None)
    services.reset_password(token, data["password"])
    return {"message": "Password changed; sign in with the new one."}


@auth_blp.route("/verify/<string:token>", methods=["GET"])
@auth_blp.response(200, MessageSchema)
@_doc_errors(auth_blp, 404, 422)
def verify(token):
    """Confirm an e-mail address from the link that was mailed"""
    user = services.verify_email(token)
    return {"message": f"E-mail {user.email} confirmed; you can sign in."}


# --- /users -------------------------------------------------------------------------------


@users_blp.route("")
class Users(MethodView):
    @users_blp.arguments(UserListArgs, location="query")
    @users_blp.response(200, UserPageSchema)
    @_doc_errors(users_blp, 401)
    @users_blp.alt_response(403, description="Needs the ADMIN role")
    @api_auth(scope="read", roles=(Role.ADMIN,))
    def get(self, args):
        """Search users by username, e-mail or name (admins)"""
        return envelope(services.search_users(args["q"], args["page"], args["per_page"]))


@users_blp.route("/<uuid:user_id>")
class UserDetail(MethodView):
    @users_blp.response(200, UserSchema)
    @_doc_errors(users_blp, 401, 404)
    @api_auth(scope="read")
    def get(self, user_id):
        """One account (yourself, or anyone for admins)"""
        return services.get_user(g.api_user, user_id)

    @users_blp.arguments(UserUpdateSchema)
    @users_blp.response(200, UserSchema)
    @users_blp.alt_response(409, description="Username or e-mail taken")
    @_doc_errors(users_blp, 401, 404, 422)
    @api_auth(scope="full")
    def put(self, data, user_id):
        """Change username, e-mail or name; admins may also set roles and is_active"""
        actor = g.api_user
        user = services.get_user(actor, user_id)
        admin_fields = {k: data.pop(k) for k in ("roles", "is_active") if k in data}
        if admin_fields and not policy.may_change_admin_fields(actor):
            raise Forbidden("Only administrators can change roles or activation.")
        services.update_account(user, **data)
        if "roles" in admin_fields:
            services.set_roles(actor, user, admin_fields["roles"])
        if "is_active" in admin_fields:
            services.set_active(actor, user, admin_fields["is_active"])
        return user

    @users_blp.response(204)
    @_doc_errors(users_blp, 401, 404)
    @api_auth(scope="full")
    def delete(self, user_id):
        """Delete the account and everything it owns"""
        user = services.get_user(g.api_user, user_id)
        services.delete_account(user)


@users_blp.route("/<uuid:user_id>/profile")
class ProfileView(MethodView):
    @users_blp.response(200, ProfileSchema)
    @_doc_errors(users_blp, 401, 404)
    @api_auth(scope="read")
    def get(self, user_id):
        """A user's profile"""
        profile = services.profile_of(services.get_user(g.api_user, user_id))
        return profile

    @users_blp.arguments(ProfileSchema)
    @users_blp.response(200, ProfileSchema)
    @_doc_errors(users_blp, 401, 404, 422)
    @api_auth(scope="full")
    def put(self, data, user_id):
        """Change profile fields (only those sent)"""
        profile = services.update_profile(services.get_user(g.api_user, user_id), **data)
        return profile


@users_blp.route("/<uuid:user_id>/preferences")
class UserPreferences(MethodView):
    @users_blp.response(200, PreferencesSchema)
    @_doc_errors(users_blp, 401, 404)
    @api_auth(scope="read")
    def get(self, user_id):
        """Time zone, default device and shots, and which events send e-mail"""
        return services.preferences_for(services.get_user(g.api_user, user_id))

    @users_blp.arguments(PreferencesSchema)
    @users_blp.response(200, PreferencesSchema)
    @_doc_errors(users_blp, 401, 404, 422)
    @api_auth(scope="full")
    def put(self, data, user_id):
        """Change preferences (only those sent)"""
        prefs = services.update_preferences(services.get_user(g.api_user, user_id), **data)
        return prefs


@users_blp.route("/<uuid:user_id>/sessions")
class UserSessions(MethodView):
    @users_blp.response(200, SessionSchema(many=True))
    @_doc_errors(users_blp, 401, 404)
    @api_auth(scope="read")
    def get(self, user_id):
        """Active sign-ins (browsers and API tokens)"""
        return services.list_sessions(services.get_user(g.api_user, user_id))


@users_blp.route("/<uuid:user_id>/sessions/<uuid:session_id>")
class UserSessionDetail(MethodView):
    @users_blp.response(204)
    @_doc_errors(users_blp, 401, 404)
    @api_auth(scope="full")
    def delete(self, user_id, session_id):
        """Revoke a session: that browser or token is signed out at once"""
        services.end_session(services.get_user(g.api_user, user_id), session_id)


# --- /api-keys ----------------------------------------------------------------------------


@keys_blp.route("")
class ApiKeys(MethodView):
    @keys_blp.arguments(PageArgs, location="query")
    @keys_blp.response(200, ApiKeyPageSchema)
    @_doc_errors(keys_blp, 401)
    @api_auth(scope="read")
    def get(self, args):
        """Your API keys (never the keys themselves: prefix, status, last use)"""
        keys = services.list_api_keys(g.api_user)
        return envelope(of_list(keys, args["page"], args["per_page"]))

    @keys_blp.arguments(ApiKeyCreateSchema)
    @keys_blp.response(201, ApiKeyCreatedSchema)
    @_doc_errors(keys_blp, 401, 422)
    @api_auth(scope="full")
    def post(self, data):
        """Create a key; the full key is in this response only"""
        key, plaintext = services.create_api_key(g.api_user, **data)
        key.key = plaintext  # dumped once, never stored
        return key


@keys_blp.route("/<uuid:key_id>")
class ApiKeyDetail(MethodView):
    @keys_blp.response(200, ApiKeySchema)
    @_doc_errors(keys_blp, 401, 404)
    @api_auth(scope="read")
    def get(self, key_id):
        """One of your keys"""
        return services.get_api_key(g.api_user, key_id)

    @keys_blp.arguments(ApiKeyUpdateSchema)
    @keys_blp.response(200, ApiKeySchema)
    @_doc_errors(keys_blp, 401, 404, 422)
    @api_auth(scope="full")
    def put(self, data, key_id):
        """Rename a key or change its scopes, rate limit or expiry"""
        key = services.update_api_key(g.api_user, key_id, **data)
        return key

    @keys_blp.response(204)
    @_doc_errors(keys_blp, 401, 404)
    @api_auth(scope="full")
    def delete(self, key_id):
        """Revoke a key: it stops working at once"""
        services.revoke_api_key(g.api_user, key_id)


blueprints = [auth_blp, users_blp, keys_blp]
