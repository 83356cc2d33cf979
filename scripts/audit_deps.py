"""Dependency audit for ``make lint``: every distribution installed in the virtualenv running
this script (the app's pinned requirements, what they pull in, the test tools) against the
vulnerabilities PyPI lists for it.

``pip-audit`` (``make audit``) asks OSV, or PyPI's JSON for each exact release, about every
version; neither answers from this project's machines. What does answer is PyPI's JSON for
each project, which lists the known vulnerabilities of the project's newest release. So:

- at its newest release, a distribution is audited exactly: any listed vulnerability fails;
- behind it, a vulnerability still listed for the newest release (fixed in no release yet)
  fails too: the older version is no safer. What was fixed between the two versions is not
  listed there, so these are named as "behind", to upgrade or to check with ``make audit``;
- not on PyPI (a local build): named, not audited.

Exit status 0 when nothing is vulnerable, 1 when something is, 2 when PyPI cannot be read.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata

PROJECT_JSON = "https://pypi.org/pypi/{name}/json"
ATTEMPTS = 3


class Unreachable(Exception):
    pass


@dataclass
class Finding:
    name: str
    version: str
    newest: str | None  # None: not on PyPI
    vulnerabilities: list[dict] = field(default_factory=list)

    @property
    def behind(self) -> bool:
        return self.newest is not None and self.newest != self.version


def installed() -> dict[str, str]:
    """{name: version} of every distribution importable here."""
    return {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}


def fetch_project(name: str) -> dict | None:
    """PyPI's JSON for ``name`` (None when PyPI has no such project)."""
    for attempt in range(ATTEMPTS):
        try:
            url = PROJECT_JSON.format(name=name)  # a fixed https address
            with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            error = exc
        except (OSError, ValueError) as exc:  # network trouble or a truncated answer
            error = exc
        time.sleep(2**attempt)
    raise Unreachable(f"{name}: {error}")


def assess(name: str, version: str, project: dict | None) -> Finding:
    if project is None:
        return Finding(name, version, newest=None)
    listed = [v for v in project.get("vulnerabilities") or [] if not v.get("withdrawn")]
    return Finding(name, version, newest=project["info"]["version"], vulnerabilities=listed)


def audit(
    packages: dict[str, str], fetch: Callable[[str], dict | None] = fetch_project
) -> list[Finding]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        projects = pool.map(fetch, packages)
        return [
            assess(name, version, project)
            for (name, version), project in zip(packages.items(), projects, strict=True)
        ]


def _name(finding: Finding) -> str:
    return finding.name.lower()


def report(findings: list[Finding]) -> tuple[int, list[str]]:
    """(exit status, lines to print)."""
    vulnerable = [f for f in findings if f.vulnerabilities]
    behind = [f for f in findings if f.behind]
    unknown = [f for f in findings if f.newest is None]
    lines = [
        f"Dependency audit (PyPI): {len(findings)} distributions, "
        f"{len(findings) - len(behind) - len(unknown)} at their newest release, "
        f"{len(vulnerable)} with a known vulnerability."
    ]
    for finding in vulnerable:
        for vuln in finding.vulnerabilities:
            fixed = ", ".join(vuln.get("fixed_in") or []) or "no release yet"
            lines.append(
                f"  VULNERABLE {finding.name} {finding.version}: {vuln.get('id')} "
                f"(fixed in {fixed}) {vuln.get('link') or ''}".rstrip()
            )
    if behind:
        lines.append(
            f"  {len(behind)} behind their newest release (fixes made since are not listed "
            "here; `make audit` checks them where OSV is reachable): "
            + ", ".join(f"{f.name} {f.version} → {f.newest}" for f in sorted(behind, key=_name))
        )
    if unknown:
        lines.append(
            "  not on PyPI, not audited: " + ", ".join(f.name for f in sorted(unknown, key=_name))
        )
    return (1 if vulnerable else 0), lines


def main() -> int:
    try:
        findings = audit(installed())
    except Unreachable as exc:
        print(f"Dependency audit: cannot read PyPI ({exc}).", file=sys.stderr)
        return 2
    status, lines = report(findings)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
