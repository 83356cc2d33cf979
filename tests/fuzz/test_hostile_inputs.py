"""A corpus of hostile inputs: each one gets a 4xx with the error envelope (API) or an error
page (pages) — never a 500, a hang or a stack trace.

Huge and deeply nested bodies, non-UTF-8 bytes, malicious OpenQASM (huge registers, include of
server files, exponentially nested gate definitions, huge loops), unicode tricks and NUL in
names, SQL-looking search strings, path traversal in file names, silly paging parameters.
"""

from __future__ import annotations

import pytest

from portal.execution.catalogue import ensure_catalogue
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.timeout(60)

QASM2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
QASM3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
NESTED_GATES = "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, 64))
MALICIOUS_QASM = {
    "huge register": QASM2 + "qreg q[2147483647];\ncreg c[1];\n",
    "huge qubit array": QASM3 + "qubit[100000000] q;\n",
    "include /etc/passwd": 'OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];\n',
    "include relative path": QASM3 + 'include "../../../../etc/shadow";\nqubit[1] q;\n',
    "include in qasm3": 'OPENQASM 3.0;\ninclude "/proc/self/environ";\nqubit[1] q;\n',
    "exponential gates qasm2": QASM2
    + "gate g0 a { h a; }\n"
    + NESTED_GATES
    + "qreg q[1];\ng63 q[0];\n",
    "exponential gates qasm3": QASM3
    + "gate g0 a { h a; }\n"
    + NESTED_GATES
    + "qubit[1] q;\ng63 q[0];\n",
    "huge loop": QASM3 + "qubit[1] q;\nfor int i in [0:4000000000] { h q[0]; }\n",
    "over the size limit": QASM2 + "qreg q[1];\n" + "h q[0];\n" * 20_000,
    "garbage": "\x1b[31m" + "(" * 5000,
    "no header": "qreg q[1];\nh q[0];\n",
}
SQLISH = [
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "%' UNION SELECT password FROM users --",
    "\\'; SELECT pg_sleep(10); --",
    "a%_\\",
    "); DELETE FROM jobs WHERE (1=1",
]
UNICODE_NAMES = [
    "evil\u202egnp.exe",  # right-to-left override
    "zero\u200bwidth\u200d",
    "\ufeffbom",
    "combining" + "\u0301" * 500,
    "😀" * 60,
]


@pytest.fixture
def user():
    ensure_catalogue()
    return UserFactory()


@pytest.fixture
def headers(user, api_headers):
    return api_headers(user)


def assert_envelope(resp, *statuses):
    assert resp.status_code in statuses, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    return body["error"]


def test_body_over_the_limit_is_413(client, headers, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    huge = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    resp = client.post("/api/v1/projects/", data=huge, content_type="application/json",
                       headers=headers)  # fmt: skip
    assert assert_envelope(resp, 413)["code"] == "payload_too_large"
    page = client.post("/register", data={"username": "x" * (1024 * 1024 + 10)})
    assert page.status_code == 413 and "text/html" in page.content_type


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_400(client, headers, depth):
    body = "[" * depth + "]" * depth
    resp = client.post("/api/v1/jobs", data=body, content_type="application/json", headers=headers)
    assert_envelope(resp, 400, 422)
    nested = '{"program": ' * depth + "1" + "}" * depth
    resp = client.post("/api/v1/projects/", data=nested, content_type="application/json",
                       headers=headers)  # fmt: skip
    assert_envelope(resp, 400, 422)


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "\xff\xfe\xfd"}', b"\x80\x81", "é".encode("latin-1"), b'{"name": "\xed\xa0\x80"}'],
)
def test_non_utf8_bodies_are_400(client, headers, raw):
    resp = client.post("/api/v1/projects/", data=raw, content_type="application/json",
                       headers=headers)  # fmt: skip
    assert assert_envelope(resp, 400)["code"] in ("malformed_json", "bad_request")


def test_wrong_content_types_are_415(client, headers):
    for ctype in ("text/xml", "application/x-www-form-urlencoded", "image/png"):
        resp = client.post("/api/v1/jobs", data=b"<a/>", content_type=ctype, headers=headers)
        assert_envelope(resp, 415)


@pytest.mark.parametrize("name", sorted(MALICIOUS_QASM))
def test_malicious_qasm_is_refused(client, headers, name):
    program = {"source": MALICIOUS_QASM[name]}
    for path in ("/api/v1/jobs/estimate", "/api/v1/jobs"):
        body = {"program": program, "device": "aer-simulator", "shots": 10}
        error = assert_envelope(client.post(path, json=body, headers=headers), 400, 422)
        assert "/etc/passwd" not in str(error.get("details")) or "include" in error["message"]
        assert "root:" not in error["message"]  # never the file's content


def test_nul_characters_are_422_not_500(client, headers, login_as, user):
    for path, body in (
        ("/api/v1/projects/", {"name": "nul\x00name"}),
        ("/api/v1/projects/", {"name": "ok", "description": ["a", {"k\x00": 1}]}),
        ("/api/v1/jobs", {"program": {"source": QASM2 + "\x00"}, "device": "aer-simulator"}),
        ("/api/v1/auth/register", {"username": "a\x00b", "email": "a@b.c", "password": "x" * 12}),
    ):
        error = assert_envelope(client.post(path, json=body, headers=headers), 422)
        assert "NUL" in error["message"]
    assert_envelope(client.get("/api/v1/registry/?q=a%00b"), 422)
    assert_envelope(client.get("/api/v1/jobs/%00", headers=headers), 404, 422)
    login_as(user)
    page = client.post("/projects/new", data={"name": "x\x00y"})
    assert page.status_code == 422 and "NUL" in page.get_data(as_text=True)
    assert client.get("/registry/?q=%00").status_code == 422


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_unicode_tricks_in_names_are_stored_or_refused_never_500(client, headers, name):
    resp = client.post("/api/v1/projects/", json={"name": name}, headers=headers)
    assert resp.status_code in (201, 422), resp.get_json()
    if resp.status_code == 201:
        # Stored as given and served back as JSON text (templates escape it).
        assert resp.get_json()["name"] == name


@pytest.mark.parametrize("term", SQLISH)
def test_sql_looking_search_strings_are_just_text(client, headers, term, login_as, user):
    for path in ("/api/v1/registry/", "/api/v1/marketplace", "/api/v1/jobs"):
        resp = client.get(path, query_string={"q": term, "tag": term, "status": term},
                          headers=headers)  # fmt: skip
        assert resp.status_code in (200, 422), (path, resp.status_code)
        if resp.status_code == 200:
            assert resp.get_json()["total"] == 0
    login_as(user)
    for page in ("/registry/", "/marketplace/", "/jobs"):
        assert client.get(page, query_string={"q": term, "sort": term}).status_code in (200, 400)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200  # users intact


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "..\\..\\windows\\win.ini",
        "a/../../b.qasm",
        "%2e%2e/%2e%2e/etc/passwd",
        "ok/\x00.qasm",
        "x" * 5000 + ".qasm",
    ],
)
def test_path_traversal_in_project_file_names_is_refused(client, headers, path):
    project = client.post("/api/v1/projects/", json={"name": "p"}, headers=headers).get_json()
    resp = client.post(f"/api/v1/projects/{project['id']}/files",
                       json={"path": path, "content": "x"}, headers=headers)  # fmt: skip
    assert_envelope(resp, 400, 422)
    files = client.get(f"/api/v1/projects/{project['id']}/files", headers=headers).get_json()
    assert all(".." not in f["path"] and not f["path"].startswith("/") for f in files)
    resp = client.get(f"/api/v1/projects/{project['id']}/files/../../../etc/passwd",
                      headers=headers)  # fmt: skip
    assert resp.status_code in (400, 404, 422)
    assert "root:" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "params",
    [
        {"page": -1},
        {"page": 0},
        {"page": 10**30},
        {"per_page": -5},
        {"per_page": 10**9},
        {"page": "abc"},
        {"page": "1e9999"},
        {"per_page": "NaN"},
    ],
)
def test_silly_paging_parameters(client, headers, params, login_as, user):
    for path in ("/api/v1/jobs", "/api/v1/registry/", "/api/v1/marketplace", "/api/v1/hardware",
                 "/api/v1/projects/", "/api/v1/bills"):  # fmt: skip
        resp = client.get(path, query_string=params, headers=headers)
        assert resp.status_code in (200, 422), (path, params, resp.status_code)
        if resp.status_code == 422:
            assert_envelope(resp, 422)
    login_as(user)
    for page in ("/registry/", "/marketplace/", "/jobs", "/projects/"):
        resp = client.get(page, query_string=params)
        assert resp.status_code < 500, (page, params, resp.status_code)
