"""The dependency audit that ``make lint`` runs (scripts/audit_deps.py), on PyPI answers
made up here: which findings fail, which are named, what is printed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "audit_deps.py"
spec = importlib.util.spec_from_file_location("audit_deps", SCRIPT)
audit_deps = importlib.util.module_from_spec(spec)
sys.modules["audit_deps"] = audit_deps  # its dataclass looks its module up there
spec.loader.exec_module(audit_deps)


def project(newest: str, *vulns: dict) -> dict:
    return {"info": {"version": newest}, "vulnerabilities": list(vulns)}


VULN = {"id": "PYSEC-2026-1", "fixed_in": ["2.0.1"], "link": "https://osv.dev/PYSEC-2026-1"}
ANSWERS = {
    "clean": project("1.0"),
    "old": project("3.0"),
    "bad": project("2.0", VULN),
    "unfixed": project("5.0", {"id": "GHSA-xxxx", "fixed_in": []}),
    "withdrawn": project("1.0", {"id": "GHSA-gone", "withdrawn": "2026-01-01T00:00:00Z"}),
    "local": None,
}


def run(packages: dict[str, str]):
    return audit_deps.report(audit_deps.audit(packages, fetch=ANSWERS.__getitem__))


def test_clean_newest_releases_pass_and_are_counted():
    status, lines = run({"clean": "1.0", "withdrawn": "1.0"})
    assert status == 0
    assert lines == [
        "Dependency audit (PyPI): 2 distributions, 2 at their newest release, "
        "0 with a known vulnerability."
    ]


def test_a_vulnerability_of_the_installed_newest_release_fails_with_its_id_and_fix():
    status, lines = run({"clean": "1.0", "bad": "2.0"})
    assert status == 1
    assert (
        "  VULNERABLE bad 2.0: PYSEC-2026-1 (fixed in 2.0.1) https://osv.dev/PYSEC-2026-1" in lines
    )


def test_an_older_version_fails_on_a_vulnerability_no_release_has_fixed():
    status, lines = run({"unfixed": "4.2"})
    assert status == 1
    assert "  VULNERABLE unfixed 4.2: GHSA-xxxx (fixed in no release yet)" in lines


def test_versions_behind_the_newest_and_local_builds_are_named_not_failed():
    status, lines = run({"old": "2.5", "local": "0.1", "clean": "1.0"})
    assert status == 0
    assert lines[0].startswith("Dependency audit (PyPI): 3 distributions, 1 at their newest")
    assert any(
        "1 behind their newest release" in line and "old 2.5 → 3.0" in line for line in lines
    )
    assert "  not on PyPI, not audited: local" in lines


def test_pypi_out_of_reach_is_exit_status_2(monkeypatch, capsys):
    def unreachable(url, timeout):
        raise OSError("Name or service not known")

    monkeypatch.setattr(audit_deps.urllib.request, "urlopen", unreachable)
    monkeypatch.setattr(audit_deps.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(audit_deps, "installed", lambda: {"clean": "1.0"})
    assert audit_deps.main() == 2
    assert "cannot read PyPI (clean: Name or service not known)" in capsys.readouterr().err


def test_a_project_pypi_does_not_know_is_none(monkeypatch):
    import urllib.error

    def answer(url, timeout):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    monkeypatch.setattr(audit_deps.urllib.request, "urlopen", answer)
    assert audit_deps.fetch_project("no-such-thing") is None
