"""The HTTP layer: JSON over the standard library's ``urllib``, errors as typed exceptions."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from quantum_hub_client import __version__
from quantum_hub_client.exceptions import (
    AuthenticationError,
    HubConnectionError,
    error_from_response,
)

API_PREFIX = "/api/v1"


class ApiSession:
    """Talks to one portal with one credential: a bearer ``token`` (or a sign-in that yields
    one) or an ``api_key`` sent as ``X-API-Key``."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
    ):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must be an http(s) address of the portal, not {url!r}")
        self.base = url.rstrip("/")
        if self.base.endswith(API_PREFIX):
            self.base = self.base[: -len(API_PREFIX)]
        self.token = token
        self.api_key = api_key
        self.refresh_token = refresh_token
        self.timeout = timeout

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "User-Agent": f"quantum-hub-client/{__version__}",
        }
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One API call; the decoded JSON answer, or a ``QuantumHubError`` subclass.

        Access tokens are short-lived (15 minutes by default): with a refresh token (kept by
        ``login()``), a 401 on a bearer call refreshes the pair once and retries."""
        try:
            return self._send(method, path, json_body, params)
        except AuthenticationError:
            if self.api_key or not self.refresh_token or path.startswith("/auth/"):
                raise
            self.refresh()
            return self._send(method, path, json_body, params)

    def _send(self, method: str, path: str, json_body: Any, params: dict | None) -> Any:
        url = self.base + API_PREFIX + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = self._headers()
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - scheme checked in __init__
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            raise error_from_response(exc.code, body, exc.headers) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HubConnectionError(f"Cannot reach {self.base}: {reason}") from None
        return json.loads(raw) if raw else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json_body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def login(self, login: str, password: str) -> str:
        """Sign in with a username (or e-mail) and password; keeps the access and refresh
        tokens and returns the access token."""
        body = self._send("POST", "/auth/login", {"login": login, "password": password}, None)
        self.token, self.refresh_token = body["access_token"], body.get("refresh_token")
        self.api_key = None
        return self.token

    def refresh(self) -> str:
        """A new access (and refresh) token from the refresh token."""
        body = self._send("POST", "/auth/refresh", {"refresh_token": self.refresh_token}, None)
        self.token, self.refresh_token = body["access_token"], body.get("refresh_token")
        return self.token
