"""Projects: a developer's OpenQASM programs and READMEs, the IDE's analysis and runs, and the
path from a project to a released quantum app (build, validate, release).

Rules:
- Only the owner sees or changes a project and its files; for anyone else it does not exist
  (NotFound, so ids cannot be probed).
- File paths are relative, of safe characters, with an allowed extension; no ``..``, no
  hidden files, no absolute paths.
- Sizes are bounded per file, per project and in file count, with messages that say the limit.
- Programs are OpenQASM only, read by ``portal.core.programs``; nothing a user writes is
  executed except as a circuit (simulations run on Qiskit Aer).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.apps import semver
from portal.apps import services as apps
from portal.apps.models import AppVersion, QuantumApp
from portal.apps.packages import build_package, validate_package
from portal.apps.semver import SemVer
from portal.core.db import utcnow
from portal.core.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from portal.core.extensions import db
from portal.core.inputs import DESCRIPTION_CHARS, bounded_text
from portal.core.paging import Page, paginate
from portal.core.programs import (
    ProgramError,
    detect_format,
    input_schema,
    parse_program,
    resource_figures,
)
from portal.execution.hardware import run_defaults
from portal.execution.primitives import quote_program as quote
from portal.execution.submission import submit_job
from portal.projects import checks, policy
from portal.projects.models import Project, ProjectFile
from portal.projects.starters import DEFAULT_STARTER, STARTERS

MAX_FILE_BYTES = 64 * 1024
MAX_PROJECT_BYTES = 512 * 1024
MAX_FILES = 50
MAX_PROJECTS = 200
MAX_PATH_LENGTH = 120
MAX_PATH_DEPTH = 4
ALLOWED_EXTENSIONS = ("qasm", "inc", "md", "txt", "json")
PROGRAM_EXTENSIONS = ("qasm",)
INPUTS_FILE = "inputs.json"
README_FILE = "README.md"
DEFAULT_ENTRY = "main.qasm"
# Validation simulates the program once, with few shots, on a worker: enough to prove it runs.
VALIDATION_SHOTS = 64
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


# -- projects --------------------------------------------------------------------------------


def list_projects(user: User, *, page: int = 1, per_page: int = 20) -> Page:
    """The user's projects, most recently changed first."""
    query = db.select(Project).filter_by(user_id=user.id)
    # File paths and sizes in one extra query (not each file's content, not one per project).
    files = selectinload(Project.files).load_only(
        ProjectFile.id, ProjectFile.project_id, ProjectFile.path, ProjectFile.size
    )
    return paginate(
        query.options(files).order_by(Project.updated_at.desc(), Project.id), page, per_page
    )


def get_project(user: User, project_id: uuid.UUID | str) -> Project:
    """The user's project, or NotFound (also for other people's projects)."""
    try:
        pid = project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id))
    except ValueError:
        raise NotFound("No such project.") from None
    project = db.session.get(Project, pid)
    if project is None or not policy.may_use_project(user, project):
        raise NotFound("No such project.")
    return project


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the project a name.", details={"name": "required"})
    if len(name) > 100:
        raise ValidationFailed(
            "The project name is too long (100 characters at most).",
            details={"name": "at most 100 characters"},
        )
    return name


def _clean_description(description: str | None) -> str | None:
    description = (description or "").strip() or None
    return bounded_text("description", description, DESCRIPTION_CHARS)


def _clean_repo(repo: str | None) -> str | None:
    repo = (repo or "").strip()
    if not repo:
        return None
    parts = urlsplit(repo)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(repo) > 255:
        raise ValidationFailed(
            "The repository URL must be an http(s) address of at most 255 characters, "
            "e.g. https://github.com/you/project.",
            details={"repo": "expected an http(s) URL"},
        )
    return repo


def create_project(
    user: User,
    *,
    name: str,
    description: str | None = None,
    repo: str | None = None,
    starter: str | None = None,
    files: dict[str, str] | None = None,
) -> Project:
    """A new project with the files of a starter template (Bell pair by default), or with
    ``files`` (path -> text, already checked) instead."""
    key = starter or DEFAULT_STARTER
    if key not in STARTERS:
        raise ValidationFailed(
            f"Unknown template '{key}'; choose one of: {', '.join(STARTERS)}.",
            details={"template": f"one of {', '.join(STARTERS)}"},
        )
    count = db.session.scalar(
        db.select(db.func.count()).select_from(Project).filter_by(user_id=user.id)
    )
    if count >= MAX_PROJECTS:
        raise ValidationFailed(
            f"You have {count} projects, the most one account may have; delete one first."
        )
    project = Project(
        user_id=user.id,
        name=_clean_name(name),
        description=_clean_description(description),
        repo=_clean_repo(repo),
    )
    for path, content in (STARTERS[key].files if files is None else files).items():
        project.files.append(ProjectFile(path=path, content=content, size=_size(content)))
    db.session.add(project)
    db.session.flush()
    return project


def fork_version(user: User, app_version_id: uuid.UUID | str) -> Project:
    """ "Open in IDE": a new project of ``user`` holding the package files of an app version
    (README and programs; the manifest stays behind), named after the app. Versions the
    projects policy does not let ``user`` fork (a private app, a draft) are NotFound."""
    try:
        key = uuid.UUID(str(app_version_id))
    except ValueError:
        raise NotFound("No such app version.", details={"app_version_id": "unknown"}) from None
    version = db.session.get(AppVersion, key)
    if version is None or not policy.may_fork_version(user, version):
        raise NotFound("No such app version.", details={"app_version_id": "unknown"})
    files: dict[str, str] = {}
    if version.package_data:
        files = dict(validate_package(version.package_data).files)
    elif version.entry_program:  # a version saved without a package: its program alone
        files = {DEFAULT_ENTRY: version.entry_program}
    if not files:
        raise ValidationFailed("This app version has no files to open.")
    kept: dict[str, str] = {}
    total = 0
    for path, content in sorted(files.items())[:MAX_FILES]:
        try:
            clean = validate_path(path)
        except ValidationFailed:
            continue  # a package may hold names a project does not allow (LICENSE): left out
        size = _size(content)
        total += size
        if size > MAX_FILE_BYTES or total > MAX_PROJECT_BYTES:
            raise PayloadTooLarge(
                f"{path} does not fit in a project (at most {MAX_FILE_BYTES // 1024} KiB a file,"
                f" {MAX_PROJECT_BYTES // 1024} KiB in all).",
                details={"path": path},
            )
        kept[clean] = content
    app = version.app
    return create_project(
        user,
        name=f"{app.name} {version.version_number}"[:100],
        description=f"Opened from the Registry: {app.name}, version {version.version_number}.",
        files=kept,
    )


_UNSET: Any = object()


def update_project(
    project: Project,
    *,
    name: str | None = _UNSET,
    description: str | None = _UNSET,
    repo: str | None = _UNSET,
) -> Project:
    """Change the fields given (leave out a field to keep it)."""
    if name is not _UNSET:
        project.name = _clean_name(name)
    if description is not _UNSET:
        project.description = _clean_description(description)
    if repo is not _UNSET:
        project.repo = _clean_repo(repo)
    project.updated_at = utcnow()
    db.session.flush()
    return project


def delete_project(project: Project) -> None:
    """Delete the project and its files; a released app stays (it has its own versions)."""
    db.session.delete(project)
    db.session.flush()


# -- files -----------------------------------------------------------------------------------


def _size(content: str) -> int:
    return len(content.encode("utf-8"))


def validate_path(path: str | None) -> str:
    """A safe relative file path, or ValidationFailed saying what is wrong with it."""
    path = (path or "").strip()

    def bad(reason: str):
        return ValidationFailed(
            f"Invalid file name '{path[:60]}': {reason}", details={"path": reason}
        )

    if not path:
        raise bad("give the file a name, e.g. main.qasm.")
    if len(path) > MAX_PATH_LENGTH:
        raise bad(f"paths are at most {MAX_PATH_LENGTH} characters.")
    if "\\" in path or path.startswith("/") or "\x00" in path:
        raise bad("use a relative path with forward slashes.")
    segments = path.split("/")
    if len(segments) > MAX_PATH_DEPTH:
        raise bad(f"folders may be nested at most {MAX_PATH_DEPTH - 1} deep.")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise bad("empty, '.' and '..' path parts are not allowed.")
        if not _SEGMENT.match(segment):
            raise bad("use letters, digits, '_', '-' and '.', not starting with '.' or '-'.")
    extension = segments[-1].rsplit(".", 1)[-1].lower() if "." in segments[-1] else ""
    if extension not in ALLOWED_EXTENSIONS:
        raise bad(f"the extension must be one of {', '.join('.' + e for e in ALLOWED_EXTENSIONS)}.")
    return path


def _check_content(project: Project, content: Any, replacing: ProjectFile | None) -> int:
    if not isinstance(content, str):
        raise ValidationFailed("File content must be text.", details={"content": "expected text"})
    size = _size(content)
    if size > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"The file is {size:,} bytes; a file may be at most {MAX_FILE_BYTES:,} bytes "
            f"({MAX_FILE_BYTES // 1024} KiB).",
            details={"size": size, "limit": MAX_FILE_BYTES},
        )
    others = sum(f.size for f in project.files if f is not replacing)
    if others + size > MAX_PROJECT_BYTES:
        raise PayloadTooLarge(
            f"This would make the project {others + size:,} bytes; a project may hold at most "
            f"{MAX_PROJECT_BYTES:,} bytes ({MAX_PROJECT_BYTES // 1024} KiB). Delete or shorten "
            "other files first.",
            details={"project_size": others + size, "limit": MAX_PROJECT_BYTES},
        )
    return size


def list_files(project: Project) -> list[ProjectFile]:
    """The project's files in path order (case-insensitive, whatever the database collation)."""
    return sorted(project.files, key=lambda f: (f.path.lower(), f.path))


def find_file(project: Project, path: str) -> ProjectFile | None:
    return next((f for f in project.files if f.path == path), None)


def get_file(project: Project, path: str) -> ProjectFile:
    found = find_file(project, path)
    if found is None:
        raise NotFound(f"The project has no file '{path[:120]}'.")
    return found


def _touch(project: Project) -> None:
    project.updated_at = utcnow()


def create_file(project: Project, path: str, content: str = "") -> ProjectFile:
    """Add a file; Conflict if the path is taken."""
    path = validate_path(path)
    if find_file(project, path) is not None:
        raise Conflict(f"A file named '{path}' already exists; pick another name.")
    if len(project.files) >= MAX_FILES:
        raise ValidationFailed(
            f"A project may hold at most {MAX_FILES} files; delete one first.",
            details={"files": f"at most {MAX_FILES}"},
        )
    size = _check_content(project, content, None)
    file = ProjectFile(path=path, content=content, size=size)
    project.files.append(file)
    _touch(project)
    db.session.flush()
    return file


def write_file(project: Project, path: str, content: str) -> ProjectFile:
    """Replace a file's content, creating the file if it does not exist yet."""
    path = validate_path(path)
    existing = find_file(project, path)
    if existing is None:
        return create_file(project, path, content)
    existing.size = _check_content(project, content, existing)
    existing.content = content
    _touch(project)
    db.session.flush()
    return existing


def rename_file(project: Project, path: str, new_path: str) -> ProjectFile:
    file = get_file(project, path)
    new_path = validate_path(new_path)
    if new_path == path:
        return file
    if find_file(project, new_path) is not None:
        raise Conflict(f"A file named '{new_path}' already exists; pick another name.")
    file.path = new_path
    _touch(project)
    db.session.flush()
    return file


def delete_file(project: Project, path: str) -> None:
    file = get_file(project, path)
    project.files.remove(file)
    _touch(project)
    db.session.flush()


def project_size(project: Project) -> int:
    return sum(f.size for f in project.files)


def program_paths(project: Project) -> list[str]:
    return [f.path for f in project.files if f.path.rsplit(".", 1)[-1] in PROGRAM_EXTENSIONS]


def default_entry(project: Project) -> str | None:
    paths = program_paths(project)
    if DEFAULT_ENTRY in paths:
        return DEFAULT_ENTRY
    return paths[0] if paths else None


# -- analysis (the IDE's diagnostics and resource figures) ------------------------------------


def saved_inputs(project: Project) -> dict[str, Any] | None:
    """The values in ``inputs.json`` (bound when the IDE runs a QASM 3 program), if any."""
    file = find_file(project, INPUTS_FILE)
    if file is None or not file.content.strip():
        return None
    try:
        values = json.loads(file.content)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{INPUTS_FILE} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}.",
            details={"path": INPUTS_FILE, "line": exc.lineno, "column": exc.colno},
        ) from None
    if not isinstance(values, dict):
        raise ValidationFailed(f"{INPUTS_FILE} must hold a JSON object of input name → value.")
    return values


def _placeholder_inputs(schema: dict[str, Any]) -> dict[str, Any]:
    zero = {"number": 0.0, "integer": 0, "boolean": False}
    return {name: zero.get(spec.get("type"), 0) for name, spec in schema["properties"].items()}


@dataclass
class Analysis:
    """What the IDE shows about a program before it runs."""

    ok: bool
    format: str | None = None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, Any] | None = None
    input_schema: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None
    circuit: Any = None
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "format": self.format,
            "diagnostics": self.diagnostics,
            "resources": self.resources,
            "input_schema": self.input_schema,
            "inputs": self.inputs,
        }


def analyse(source: str, inputs: dict[str, Any] | None = None) -> Analysis:
    """Parse ``source`` and report diagnostics (1-based line/column) and resource figures.

    Program errors are returned, never raised. QASM 3 ``input`` values come from ``inputs``
    when given (e.g. inputs.json), else neutral placeholders so the structure can be checked.
    """
    try:
        fmt = detect_format(source)
        schema = input_schema(source)
        bound = None
        if schema["properties"]:
            bound = _placeholder_inputs(schema)
            bound.update({k: v for k, v in (inputs or {}).items() if k in schema["properties"]})
        circuit = parse_program(source, fmt, bound)
    except ProgramError as exc:
        return Analysis(
            ok=False,
            format=exc.format,
            diagnostics=[
                {"line": exc.line or 1, "column": exc.column or 1, "message": _bare(exc.message)}
            ],
        )
    except ValidationFailed as exc:  # bad input values: point at the first line
        return Analysis(ok=False, diagnostics=[{"line": 1, "column": 1, "message": exc.message}])
    return Analysis(
        ok=True,
        format=fmt,
        resources=resource_figures(circuit),
        input_schema=schema,
        inputs=bound,
        circuit=circuit,
        source=source,
    )


def _bare(message: str) -> str:
    """The error without its "Program error at line L, column C:" prefix (the editor marks
    the position itself)."""
    return re.sub(r"^Program error(?: at line \d+(?:, column \d+)?)?: ", "", message)


def draw_circuit(circuit: Any, *, max_width: int = 120) -> str:
    """A text drawing of the circuit (the IDE shows it next to the histogram)."""
    try:
        return str(circuit.draw(output="text", fold=max_width))
    except Exception:  # pragma: no cover - drawing is a nicety, never an error
        return ""


# -- running (through the execution service) -------------------------------------------------


def run_program(
    user: User,
    project: Project,
    *,
    source: str,
    path: str | None = None,
    device: str | None = None,
    shots: int | None = None,
):
    """Submit the editor's program as a job through the execution pipeline (flushed, not yet
    dispatched: the caller commits, then ``portal.execution.queue.dispatch``). QASM 3
    inputs are bound from inputs.json; device and shots default to the user's preferences."""
    fmt, inputs = _program_inputs(project, source)
    default_device, default_shots = run_defaults(user)
    return submit_job(
        user,
        program=source,
        fmt=fmt,
        inputs=inputs,
        device=device or default_device,
        shots=shots if shots is not None else default_shots,
        name=f"{project.name} · {path or 'program'}"[:100],
        tags=["ide"],
    )


def _program_inputs(project: Project, source: str) -> tuple[str, dict[str, Any] | None]:
    """The program's format and, for OpenQASM 3, the project's saved inputs it declares:
    what the editor's Run and its quote both send."""
    fmt = detect_format(source)
    inputs = None
    if fmt == "qasm3":
        names = input_schema(source)["properties"]
        if names:
            inputs = {k: v for k, v in (saved_inputs(project) or {}).items() if k in names}
    return fmt, inputs


def quote_program(
    user: User, project: Project, *, source: str, device: str | None, shots: int | None
) -> dict[str, Any]:
    """What running the editor's program would cost on ``device`` and how it would run there
    (transpiled depth, size, two-qubit gates): ``portal.execution.primitives.quote_program``
    with the inputs and defaults ``run_program`` uses. Nothing is written."""
    fmt, inputs = _program_inputs(project, source)
    default_device, default_shots = run_defaults(user)
    return quote(
        device or default_device, shots if shots is not None else default_shots, source, fmt,
        inputs,
    )  # fmt: skip


# -- build and release -----------------------------------------------------------------------


def _validate_version(version: str | None) -> str:
    return str(SemVer((version or "").strip()))


def simulate_check(analysis: Analysis, *, wait: float = 0.0) -> dict[str, Any]:
    """The build's simulation check, run on a worker (``portal.projects.checks``): refused
    here, with the memory figure, when the state vector is over the workers' budget; else the
    worker's result, waiting up to ``wait`` seconds for it, or ``pending`` while it runs. The
    web process never simulates."""
    qubits = analysis.circuit.num_qubits
    budget = checks.memory_budget_mb()
    refusal = checks.memory_refusal(qubits, budget)
    if refusal:
        return {
            "name": "simulate",
            "passed": False,
            "message": refusal,
            "qubits": qubits,
            "statevector_bytes": checks.statevector_bytes(qubits),
            "memory_budget_mb": budget,
        }
    key, result = checks.start(analysis.source, analysis.format, analysis.inputs, VALIDATION_SHOTS)
    if result is None and wait > 0:
        result = checks.wait(key, wait)
    if result is None:
        return {
            "name": "simulate",
            "passed": False,
            "pending": True,
            "check_id": key,
            "message": f"Checking: a worker simulates {VALIDATION_SHOTS} shots on Aer…",
        }
    return {"name": "simulate", **result, "check_id": key}


@dataclass
class Build:
    """A built package and its validation report."""

    version: str
    entry: str
    manifest: dict[str, Any]
    validation: dict[str, Any]
    package: bytes | None
    source: str

    @property
    def passed(self) -> bool:
        return bool(self.validation.get("passed"))

    @property
    def checking(self) -> bool:
        """Every check so far passed and the simulation is still running on a worker."""
        return self.validation.get("status") == "checking"

    @property
    def status(self) -> str:
        return self.validation.get("status", "passed" if self.passed else "failed")

    def reasons(self) -> list[str]:
        return [
            c["message"]
            for c in self.validation.get("checks", [])
            if not c["passed"] and not c.get("pending")
        ]


def build(
    project: Project,
    *,
    version: str,
    entry: str | None = None,
    name: str | None = None,
    wait: float = 0.0,
) -> Build:
    """Build the versioned package of a project and validate it by parsing every program and
    simulating the entry program on a worker (waiting up to ``wait`` seconds for it). A failed
    validation is reported, not raised: the IDE and the release show the reasons. While the
    simulation runs, the build's status is ``checking`` and it has no package yet: build
    again (the IDE polls) to read the worker's result."""
    version = _validate_version(version)
    entry = validate_path(entry) if entry else default_entry(project)
    if entry is None:
        raise ValidationFailed("The project has no .qasm program to build; add main.qasm.")
    if not entry.endswith(".qasm"):
        raise ValidationFailed(f"The entry program must be a .qasm file, not '{entry}'.")
    source = get_file(project, entry).content
    checks: list[dict[str, Any]] = []
    try:
        inputs = saved_inputs(project)
        if inputs is not None:
            checks.append({"name": "inputs", "passed": True, "message": "inputs.json is valid."})
    except ValidationFailed as exc:
        inputs = None
        checks.append({"name": "inputs", "passed": False, "message": exc.message})
    analysis = analyse(source, inputs)
    checks.append(_parse_check(entry, analysis))
    for other in program_paths(project):
        if other != entry:
            checks.append(_parse_check(other, analyse(get_file(project, other).content)))
    if analysis.ok and all(c["passed"] for c in checks):
        checks.append(simulate_check(analysis, wait=wait))
    try:
        sdk = "OPENQASM3" if detect_format(source) == "qasm3" else "OPENQASM2"
    except ValidationFailed:
        sdk = "OPENQASM3"
    manifest: dict[str, Any] = {
        "name": (name or project.name)[:100],
        "version": version,
        "sdk": sdk,
        "entry_program": entry,
        "input_schema": analysis.input_schema,
        "output_schema": output_schema(analysis),
        "number_of_qubits": analysis.resources["qubits"] if analysis.resources else None,
        "resource_estimate": analysis.resources,
    }
    package = None
    if all(c["passed"] for c in checks):
        try:
            package, manifest = _package(project, manifest)
            checks.append(
                {
                    "name": "package",
                    "passed": True,
                    "message": f"Package built ({len(package):,} bytes) and re-validated.",
                }
            )
        except ValidationFailed as exc:
            checks.append({"name": "package", "passed": False, "message": exc.message})
    passed = all(c["passed"] for c in checks)
    failed = any(not c["passed"] and not c.get("pending") for c in checks)
    validation = {
        "passed": passed,
        "status": "passed" if passed else "failed" if failed else "checking",
        "checked_at": utcnow().isoformat(),
        "checks": checks,
    }
    return Build(version, entry, manifest, validation, package, source)


def _parse_check(path: str, analysis: Analysis) -> dict[str, Any]:
    if analysis.ok:
        return {"name": f"parse {path}", "passed": True, "message": f"{path} parses."}
    diag = analysis.diagnostics[0]
    return {
        "name": f"parse {path}",
        "passed": False,
        "message": f"{path}, line {diag['line']}, column {diag['column']}: {diag['message']}",
        "path": path,
        "line": diag["line"],
        "column": diag["column"],
    }


def require_passing(result: Build) -> Build:
    """The build, or ValidationFailed listing why it cannot be downloaded or released
    (Conflict while its simulation is still running on a worker)."""
    if result.checking:
        raise Conflict(
            "The build's simulation check is still running on a worker, so it cannot be "
            "released yet; try again in a few seconds.",
            code="build_checking",
            details={"checks": result.validation["checks"]},
        )
    if not result.passed:
        reasons = result.reasons()
        raise ValidationFailed(
            "The build did not pass validation, so it cannot be released: " + "; ".join(reasons),
            details={"checks": result.validation["checks"]},
        )
    return result


def package_filename(result: Build) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", result.manifest["name"]).strip("-").lower() or "app"
    return f"{slug}-{result.version}.zip"


def output_schema(analysis: Analysis) -> dict[str, Any] | None:
    """What a run returns: measured bitstrings of the program's width, with their counts."""
    if not analysis.resources:
        return None
    width = analysis.resources["clbits"]
    return {
        "type": "object",
        "properties": {
            "counts": {
                "type": "object",
                "description": f"Measured {width}-bit strings and how often each occurred.",
                "additionalProperties": {"type": "integer", "minimum": 0},
            }
        },
    }


def _package(project: Project, manifest: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The zip (built by the apps domain's packager) and its canonical manifest."""
    files = {f.path: f.content for f in project.files if f.path != README_FILE}
    readme_file = find_file(project, README_FILE)
    readme = readme_file.content if readme_file else f"# {manifest['name']}\n"
    data = build_package(
        name=manifest["name"],
        version=manifest["version"],
        sdk=manifest["sdk"],
        entry_program_path=manifest["entry_program"],
        files=files,
        readme=readme,
    )
    return data, validate_package(data).manifest


@dataclass
class Released:
    """What a release made: the app (new on the first release) and its new version."""

    app: Any
    version: Any
    created_app: bool
    validation: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "app_id": self.app.id,
            "version_id": self.version.id,
            "version": self.version.version_number,
            "created_app": self.created_app,
            "validation": self.validation,
        }


def release(
    user: User,
    project: Project,
    *,
    name: str,
    version: str,
    type: str | None = None,
    license: str | None = None,
    visibility: str | None = None,
    description: str | None = None,
    release_notes: str | None = None,
    entry: str | None = None,
) -> Released:
    """Release the project as a quantum app: build and validate the package (a failing build
    is refused with its reasons), create the app on the first release (type, licence and
    visibility default to CIRCUIT, MIT, PRIVATE) or add a version to the linked app (only the
    fields given change), publish the version and link the project to the app."""
    app = None
    if project.quantum_app_id is not None:
        try:
            app = apps.get_app_for_change(project.quantum_app_id, user)
        except NotFound:
            project.quantum_app_id = None  # the app was deleted: release a new one
    if app is None:  # refused before the build: no check is sent to the workers for nothing
        apps.check_can_create_app(user)
    result = require_passing(
        build(project, version=version, entry=entry, name=name, wait=_wait_seconds())
    )
    readme_file = find_file(project, README_FILE)
    fields: dict[str, Any] = {
        "type": type,
        "license_type": license,
        "visibility": visibility,
        "description": description,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    fields["readme_content"] = readme_file.content if readme_file else None
    fields["repository_url"] = project.repo
    created = app is None
    if created:
        fields.setdefault("description", project.description)
        app = apps.create_app(user, name=name, **fields)
    new_version = apps.create_version(
        app,
        version_number=result.version,
        package=result.package,
        release_notes=release_notes,
        publish=True,
        source_repo=project.repo,
    )
    if not created:
        if name.strip() != app.name:
            fields["name"] = name
        apps.update_app(app, **fields)
    # Keep the packager's checks and add the IDE's (parse of every program, simulation).
    new_version.validation_results = {
        **(new_version.validation_results or {}),
        "build": result.validation,
    }
    project.quantum_app_id = app.id
    _touch(project)
    db.session.flush()
    return Released(app, new_version, created, result.validation)


def _wait_seconds() -> float:
    """How long a release or download waits for the build's check on a worker."""
    return float(current_app.config.get("BUILD_WAIT_SECONDS", 0))


def next_version(project: Project) -> str:
    """The version number the release form suggests: 0.1.0, then the next patch."""
    app = db.session.get(QuantumApp, project.quantum_app_id) if project.quantum_app_id else None
    if app is None or not app.versions:
        return "0.1.0"
    latest = max(app.versions, key=lambda v: semver.sort_key(v.version_number))
    parsed = semver.parse(latest.version_number)
    return f"{parsed.major}.{parsed.minor}.{parsed.patch + 1}"
