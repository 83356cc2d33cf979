"""Project pages and the IDE's HTML routes (session auth): list, create, settings, delete,
autosave, analysis, run (through the execution service), build and release fragments."""

import re

from portal.core.extensions import db
from portal.execution.models import JobStatus
from portal.projects import services
from portal.projects.models import Project
from tests.build_checks import run_build_checks
from tests.factories.projects import ProjectFactory

BROKEN = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0]\ncx q[0], q[1];\n'


def test_pages_need_sign_in(client, project):
    response = client.get("/projects/")
    assert response.status_code in (302, 401)


def test_empty_state_then_list_with_pagination(client, login_as, owner):
    login_as(owner)
    page = client.get("/projects/").get_data(as_text=True)
    assert "No projects yet" in page and "Create your first project" in page
    for _ in range(21):
        ProjectFactory(user=owner)
    first = client.get("/projects/").get_data(as_text=True)
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = client.get("/projects/?page=2").get_data(as_text=True)
    assert len(re.findall(r"/projects/[0-9a-f-]{36}/settings", second)) == 1


def test_create_from_template_opens_the_ide(client, login_as, owner):
    login_as(owner)
    form = client.get("/projects/new").get_data(as_text=True)
    assert "Grover search (3 qubits)" in form and "VQE-style ansatz" in form
    response = client.post("/projects/new", data={"name": "Grover", "template": "grover"})
    assert response.status_code == 302
    project = db.session.query(Project).filter_by(user_id=owner.id).one()
    assert response.headers["Location"].endswith(f"/projects/{project.id}")
    ide = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ccx q[0], q[1], q[2]" in ide  # the program, as JSON for the editor
    assert 'id="editor"' in ide and "js/ide.js" in ide and "editor/editor.js" in ide
    assert "<script>" not in ide  # no inline code (strict CSP later)


def test_create_shows_errors(client, login_as, owner):
    login_as(owner)
    response = client.post("/projects/new", data={"name": "", "template": "bell"})
    assert response.status_code == 422
    assert "Give the project a name" in response.get_data(as_text=True)


def test_settings_and_repository_link(client, login_as, owner, project):
    login_as(owner)
    url = f"/projects/{project.id}/settings"
    response = client.post(
        url, data={"name": "Lab", "description": "", "repo": "https://github.com/me/lab"}
    )
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'href="https://github.com/me/lab"' in page
    assert 'data-testid="repo-link"' in client.get(f"/projects/{project.id}").get_data(as_text=True)
    bad = client.post(url, data={"name": "Lab", "repo": "ftp://x"})
    assert bad.status_code == 422 and "http(s)" in bad.get_data(as_text=True)


def test_delete_asks_for_confirmation(client, login_as, owner, project):
    login_as(owner)
    confirm = client.get(f"/projects/{project.id}/delete").get_data(as_text=True)
    assert "cannot be undone" in confirm
    project_id = project.id  # the object is gone once the request has deleted its row
    assert client.post(f"/projects/{project_id}/delete").status_code == 302
    assert db.session.get(Project, project_id) is None


def test_other_users_get_404_on_every_page(client, login_as, stranger, project):
    login_as(stranger)
    for url in ("", "/settings", "/delete"):
        assert client.get(f"/projects/{project.id}{url}").status_code == 404
    assert (
        client.put(f"/projects/{project.id}/files/main.qasm", json={"content": ""}).status_code
        == 404
    )
    assert client.post(f"/projects/{project.id}/run", data={"source": ""}).status_code == 404
    assert client.post(f"/projects/{project.id}/quote", data={"source": ""}).status_code == 404
    assert client.post(f"/projects/{project.id}/release", data={"name": "x"}).status_code == 404


def test_autosave_writes_and_reports_limits(client, login_as, owner, project):
    login_as(owner)
    url = f"/projects/{project.id}/files/main.qasm"
    saved = client.put(url, json={"content": "OPENQASM 2.0;\n"})
    assert saved.status_code == 200 and saved.json["size"] == 14
    assert services.get_file(project, "main.qasm").content == "OPENQASM 2.0;\n"
    too_big = client.put(url, json={"content": "x" * (services.MAX_FILE_BYTES + 1)})
    assert too_big.status_code == 413 and "at most" in too_big.json["error"]["message"]
    assert client.put(url, data="nope").status_code == 400


def test_file_tree_forms(client, login_as, owner, project):
    login_as(owner)
    base = f"/projects/{project.id}/files"
    assert client.post(base, data={"path": "lib/extra.qasm"}).status_code == 302
    assert services.find_file(project, "lib/extra.qasm") is not None
    client.post(base, data={"path": "../x.qasm"})
    assert "Invalid file name" in client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert (
        client.post(f"{base}/lib/extra.qasm/rename", data={"new_path": "extra.qasm"}).status_code
        == 302
    )
    assert services.find_file(project, "extra.qasm") is not None
    deleted = client.post(f"{base}/extra.qasm/delete", headers={"HX-Request": "true"})
    assert deleted.headers["HX-Redirect"].endswith(f"/projects/{project.id}")
    assert services.find_file(project, "extra.qasm") is None


def test_analysis_fragment(client, login_as, owner, project):
    login_as(owner)
    url = f"/projects/{project.id}/analyse"
    ok = client.post(
        url, data={"source": services.get_file(project, "main.qasm").content}
    ).get_data(as_text=True)
    assert 'data-testid="res-qubits">2<' in ok and "cx\u00d71" in ok
    broken = client.post(url, data={"source": BROKEN}).get_data(as_text=True)
    assert "Line 5, column" in broken
    match = re.search(r'class="diagnostics-data">(.*?)</script>', broken)
    assert '"line": 5' in match.group(1)


def test_run_submits_a_job_and_polls_to_the_histogram(
    client, login_as, committed_db, owner, project, catalogue
):
    from portal.execution.runner import run_job

    login_as(owner)  # commits the owner and project: the worker's connection must see them
    source = services.get_file(project, "main.qasm").content
    fragment = client.post(
        f"/projects/{project.id}/run",
        data={"source": source, "path": "main.qasm", "device": "aer-simulator", "shots": "200"},
    ).get_data(as_text=True)
    job_id = re.search(r"/runs/([0-9a-f-]{36})", fragment).group(1)
    assert 'hx-trigger="load delay:600ms"' in fragment  # still queued: the fragment polls
    assert run_job(job_id, worker=True) is JobStatus.COMPLETED
    done = client.get(f"/projects/{project.id}/runs/{job_id}").get_data(as_text=True)
    assert "COMPLETED" in done and 'data-testid="histogram"' in done
    assert 'data-state="00"' in done and 'data-state="11"' in done
    assert 'data-testid="circuit-drawing"' in done and "hx-trigger" not in done


def test_run_errors_are_shown_in_the_panel(client, login_as, owner, project, catalogue):
    login_as(owner)
    db.session.commit()  # a refused run rolls back; keep the fixtures (the test still rolls back)
    url = f"/projects/{project.id}/run"
    broken = client.post(url, data={"source": BROKEN, "device": "aer-simulator", "shots": "10"})
    assert "line 5" in broken.get_data(as_text=True)
    shots = client.post(url, data={"source": "OPENQASM 2.0;\nqreg q[1];\n", "shots": "0"})
    assert 'data-testid="run-error"' in shots.get_data(as_text=True)


def test_quote_fragment_shows_price_and_transpile_preview(
    client, login_as, owner, project, catalogue
):
    login_as(owner)
    db.session.commit()  # a refused quote rolls back; keep the fixtures
    url = f"/projects/{project.id}/quote"
    source = services.get_file(project, "main.qasm").content  # the Bell pair
    plain = client.post(url, data={"source": source, "device": "aer-simulator", "shots": "1000"})
    body = plain.get_data(as_text=True)
    assert plain.status_code == 200 and "$0.02 for 1000 shots" in body
    assert "As run on aer-simulator" in body and 'data-testid="quote-2q">1<' in body
    falcon = client.post(url, data={"source": source, "device": "falcon-27-noisy", "shots": "10"})
    assert "Transpiled for falcon-27-noisy" in falcon.get_data(as_text=True)
    refused = client.post(url, data={"source": BROKEN, "device": "aer-simulator", "shots": "10"})
    assert refused.status_code == 422 and "line 5" in refused.get_data(as_text=True)
    assert client.post(url, data={"source": source, "shots": "0"}).status_code == 422
    assert services.get_file(project, "main.qasm").content == source  # nothing written


def test_vqe_run_binds_inputs_json(client, login_as, owner, catalogue):
    login_as(owner)
    project = ProjectFactory(user=owner, files__starter="vqe")
    fragment = client.post(
        f"/projects/{project.id}/run",
        data={"source": services.get_file(project, "main.qasm").content, "shots": "10"},
    ).get_data(as_text=True)
    job_id = re.search(r"/runs/([0-9a-f-]{36})", fragment).group(1)
    from portal.execution.models import Job

    assert db.session.get(Job, job_id).inputs == {
        "theta0": 0.5,
        "theta1": 1.0,
        "theta2": 1.5,
        "theta3": 2.0,
    }


def test_build_fragment_shows_checks_and_download(client, login_as, owner, project):
    login_as(owner)
    checking = client.post(f"/projects/{project.id}/build", data={"version": "0.1.0"})
    html = checking.get_data(as_text=True)
    assert checking.status_code == 200 and 'data-status="checking"' in html
    assert "Checking…" in html and "Download package" not in html
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="load delay:\d+ms"', html).group(1)
    assert 'data-status="checking"' in client.get(poll.replace("&amp;", "&")).get_data(
        as_text=True
    )  # the poll answers "checking" until a worker has run it
    assert "polls=1" in poll  # each poll counts; after MAX_BUILD_POLLS the fragment stops
    stalled = client.get(poll.replace("&amp;", "&").replace("polls=1", "polls=250"))
    assert "No worker has answered yet" in stalled.get_data(as_text=True)
    assert "hx-get" not in stalled.get_data(as_text=True)
    assert run_build_checks() == 1
    ok = client.get(poll.replace("&amp;", "&")).get_data(as_text=True)
    assert 'data-passed="true"' in ok and "Download package" in ok
    assert "Simulated 64 shots on Aer" in ok and "hx-get" not in ok  # polling stops
    assert client.get(f"/projects/{project.id}/package?version=0.1.0").mimetype == "application/zip"
    services.write_file(project, "main.qasm", BROKEN)
    failed = client.post(f"/projects/{project.id}/build", data={"version": "0.1.0"}).get_data(
        as_text=True
    )
    assert 'data-passed="false"' in failed and "cannot be released" in failed
    assert "main.qasm, line 5" in failed
    bad = client.post(f"/projects/{project.id}/build", data={"version": "one"}).get_data(
        as_text=True
    )
    assert "semantic version" in bad


def test_release_fragment(client, login_as, owner, project):
    login_as(owner)
    url = f"/projects/{project.id}/release"
    data = {
        "name": "Bell app",
        "version": "0.1.0",
        "type": "CIRCUIT",
        "license": "MIT",
        "visibility": "PUBLIC",
    }
    early = client.post(url, data=data).get_data(as_text=True)
    assert "Not released" in early and "still running on a worker" in early
    assert run_build_checks() == 1  # the build's simulation, as a worker runs it
    page = client.post(url, data=data).get_data(as_text=True)
    assert "Released Bell app 0.1.0" in page and 'data-testid="app-link"' in page
    assert 'value="0.1.1"' in page  # the next version, swapped into the forms
    ide = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "Release a new version of Bell app" in ide
    again = client.post(url, data={**data, "version": "0.1.1"}).get_data(as_text=True)
    assert "A new version was added" in again


def test_broken_release_shows_the_reason(client, login_as, owner, project):
    login_as(owner)
    services.write_file(project, "main.qasm", BROKEN)
    page = client.post(
        f"/projects/{project.id}/release", data={"name": "Broken", "version": "0.1.0"}
    ).get_data(as_text=True)
    assert "Not released" in page and "main.qasm, line 5" in page


def test_list_page_queries_do_not_grow_with_projects(client, login_as, owner):
    import sqlalchemy as sa

    login_as(owner)
    statements = []

    def count(*_args):
        statements.append(1)

    def queries_for_list() -> int:
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get("/projects/").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    ProjectFactory(user=owner)
    few = queries_for_list()
    for _ in range(6):
        ProjectFactory(user=owner)
    assert queries_for_list() == few
