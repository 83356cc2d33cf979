"""No password, API key, token or e-mailed link token in any log line, across the flows that
handle them: register, verify, sign in (API and form), refresh, API key create and use,
password reset request and confirm. Logs are structlog JSON on stderr."""

from __future__ import annotations

import logging
import re
import sys
from urllib.parse import urlsplit

PASSWORD = "Tr0ub4dor&3-horse-battery"
NEW_PASSWORD = "An0ther-Very-Long-Secret!"


def links_in(outbox) -> list[str]:
    text = " ".join(str(getattr(m, "body", m)) + str(getattr(m, "html", "")) for m in outbox())
    return re.findall(r"https?://[^\s\"'<>\\]+", text)


def test_secrets_never_reach_the_logs(client, app, outbox, capfd, monkeypatch):
    # Into capfd, as test_ops does; set (not setStream) and restored, so no other test's
    # closed capture stream is flushed.
    monkeypatch.setattr(logging.getLogger().handlers[0], "stream", sys.stderr)
    secrets: list[str] = [PASSWORD, NEW_PASSWORD]

    reg = client.post("/api/v1/auth/register", json={
        "username": "secretive", "email": "secretive@example.com", "password": PASSWORD,
    })  # fmt: skip
    assert reg.status_code == 201, reg.get_json()
    verify_links = links_in(outbox)
    assert verify_links
    token = verify_links[0].rstrip("/").rsplit("/", 1)[1]
    secrets.append(token)
    verified = client.get(urlsplit(verify_links[0]).path)
    assert verified.status_code < 400, verify_links[0]

    login = client.post("/api/v1/auth/login", json={"login": "secretive", "password": PASSWORD})
    assert login.status_code == 200, login.get_json()
    pair = login.get_json()
    secrets += [pair["access_token"], pair["refresh_token"]]
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    secrets.append(refreshed.get_json()["access_token"])
    client.post("/api/v1/auth/login", json={"login": "secretive", "password": PASSWORD + "x"})

    created = client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["full"]},
                          headers=bearer)  # fmt: skip
    assert created.status_code == 201, created.get_json()
    key = created.get_json()["key"]
    secrets.append(key)
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    client.get("/api/v1/auth/me", headers={"X-API-Key": key + "wrong"})

    outbox_before = len(outbox())
    client.post("/api/v1/auth/reset-password", json={"email": "secretive@example.com"})
    reset_links = links_in(outbox)[outbox_before:] or links_in(outbox)
    reset_token = reset_links[-1].rstrip("/").rsplit("/", 1)[1]
    secrets.append(reset_token)
    confirmed = client.post(f"/api/v1/auth/reset-password/{reset_token}",
                            json={"password": NEW_PASSWORD})  # fmt: skip
    assert confirmed.status_code in (200, 204), confirmed.get_json()
    page = client.post("/login", data={"login": "secretive", "password": NEW_PASSWORD})
    assert page.status_code == 302

    logged = capfd.readouterr().err
    assert '"event": "request"' in logged  # the capture works
    leaked = [s[:12] + "…" for s in secrets if s and s in logged]
    assert not leaked, f"secrets in the logs: {leaked}"
