"""App packages: the zip a version is downloaded as, how it is built and how an uploaded one
is checked before anything in it is trusted.

A package is a zip holding ``manifest.json``, the OpenQASM program files and the README::

    manifest.json       {"format": 1, "name", "version", "sdk", "entry_program",
                         "programs", "input_schema", "output_schema", "number_of_qubits",
                         "resource_estimate", "readme"}
    programs/main.qasm  the entry program (parameterised OpenQASM 3: ``input`` = app inputs)
    README.md

``validate_package`` treats an upload as hostile: it checks the zip's sizes before and while
reading (declared and actual uncompressed sizes, compression ratio, file count), refuses
absolute paths, ``..``, backslashes, symlinks and encrypted entries, parses every program and
recomputes the schemas and resource estimate rather than trusting the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from portal.apps import semver
from portal.apps.models import SDKType
from portal.core.errors import ValidationFailed
from portal.core.programs import ProgramError, input_schema, parse_program, resource_figures

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
MAX_PACKAGE_BYTES = 5 * 1024 * 1024  # compressed upload
MAX_UNCOMPRESSED_BYTES = 10 * 1024 * 1024  # all entries together
MAX_FILE_BYTES = 2 * 1024 * 1024  # one entry
MAX_FILES = 100
MAX_RATIO = 100  # uncompressed / compressed, per entry, above RATIO_FLOOR bytes
RATIO_FLOOR = 64 * 1024
TEXT_SUFFIXES = (".qasm", ".md", ".txt", ".json", ".inc")
TEXT_NAMES = {"LICENSE", "NOTICE", "AUTHORS"}
# Zip entries carry a fixed time so the same files always make the same bytes (and sha256).
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


@dataclass
class PackageInfo:
    """What a valid package holds, with the figures computed from its entry program."""

    name: str
    version: str
    sdk: SDKType
    entry_program_path: str
    entry_program: str
    files: dict[str, str]
    readme: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    number_of_qubits: int
    resource_estimate: dict[str, Any]
    validation_results: dict[str, Any]
    manifest: dict[str, Any]
    sha256: str = ""
    size: int = 0
    warnings: list[str] = field(default_factory=list)


def _fail(message: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(f"Package rejected: {message}", details=details or None)


def _check_path(name: str) -> None:
    if "\x00" in name or "\\" in name:
        raise _fail(f"the path {name!r} contains a backslash or NUL; use '/' separators.")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _fail(f"the path {name!r} is absolute; paths must be relative to the package.")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise _fail(
            f"the path {name!r} contains '..', '.' or an empty segment (path traversal).",
            path=name,
        )


def _program_figures(source: str) -> tuple[dict, dict, int, dict]:
    """(input schema, output schema, qubits, resource estimate) of an entry program."""
    schema = input_schema(source)
    placeholders = {
        name: False if spec["type"] == "boolean" else 0
        for name, spec in schema.get("properties", {}).items()
    }
    circuit = parse_program(source, inputs=placeholders or None)
    figures = resource_figures(circuit)
    output = {
        "type": "object",
        "properties": {
            "counts": {
                "type": "object",
                "description": f"bitstring ({figures['clbits']} classical bits) -> shots",
                "additionalProperties": {"type": "integer"},
            }
        },
    }
    return schema, output, figures["qubits"], figures


def _sdk(value: Any) -> SDKType:
    try:
        return SDKType[str(value)]
    except KeyError:
        raise _fail(
            f"sdk {value!r} is unknown; use one of {', '.join(s.name for s in SDKType)}.",
            sdk=str(value),
        )


def _parse_each_program(files: dict[str, str]) -> list[dict[str, Any]]:
    checks = []
    for path, source in sorted(files.items()):
        if not path.endswith(".qasm"):
            continue
        try:
            placeholders = {
                name: False if spec["type"] == "boolean" else 0
                for name, spec in input_schema(source).get("properties", {}).items()
            }
            parse_program(source, inputs=placeholders or None)
        except ProgramError as exc:
            raise ValidationFailed(
                f"Package rejected: {path}: {exc.message}",
                details={"path": path, **(exc.details or {})},
            )
        checks.append({"check": f"parse {path}", "ok": True})
    return checks


def build_package(
    *,
    name: str,
    version: str,
    sdk: SDKType | str,
    entry_program_path: str,
    files: dict[str, str],
    readme: str | None = None,
) -> bytes:
    """A package zip from source files (the IDE's "release as app"). ``files`` maps relative
    paths to text and must contain ``entry_program_path``. Raises ValidationFailed (or the
    program's ProgramError with line and column) when the result would not validate."""
    semver.parse(version)
    sdk_type = sdk if isinstance(sdk, SDKType) else _sdk(sdk)
    if entry_program_path not in files:
        raise _fail(f"the entry program {entry_program_path!r} is not among the files.")
    for path in files:
        _check_path(path)
    in_schema, out_schema, qubits, figures = _program_figures(files[entry_program_path])
    manifest = {
        "format": FORMAT_VERSION,
        "name": name,
        "version": version,
        "sdk": sdk_type.name,
        "entry_program": entry_program_path,
        "programs": sorted(p for p in files if p.endswith(".qasm")),
        "input_schema": in_schema,
        "output_schema": out_schema,
        "number_of_qubits": qubits,
        "resource_estimate": figures,
        "readme": "README.md" if readme else None,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def write(path: str, text: str) -> None:
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, text.encode("utf-8"))

        write(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        for path in sorted(files):
            if path not in (MANIFEST, "README.md"):
                write(path, files[path])
        if readme:
            write("README.md", readme)
    data = buffer.getvalue()
    validate_package(data)  # what we hand out must pass our own checks
    return data


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """Read an entry, stopping as soon as it exceeds its declared size or the budget: a
    forged header cannot make us inflate more than the limits allow."""
    cap = min(info.file_size, MAX_FILE_BYTES, budget)
    out = bytearray()
    bomb = _fail(
        f"{info.filename} inflates beyond its declared size or the limits (a zip bomb?); "
        f"limit {MAX_FILE_BYTES} bytes per file and {MAX_UNCOMPRESSED_BYTES} bytes in all.",
        path=info.filename,
    )
    try:
        with archive.open(info) as handle:
            while True:
                chunk = handle.read(64 * 1024)
                if not chunk:
                    break
                out.extend(chunk)
                if len(out) > cap:
                    raise bomb
    except (zipfile.BadZipFile, zlib.error, EOFError):
        # zipfile stops at the declared size, so forged sizes surface as a CRC mismatch.
        raise bomb
    return bytes(out)


def validate_package(data: bytes) -> PackageInfo:
    """Check an uploaded package and describe it, or raise ValidationFailed saying why."""
    if not data:
        raise _fail("the file is empty; upload a .zip package.")
    if len(data) > MAX_PACKAGE_BYTES:
        raise _fail(
            f"the package is {len(data)} bytes; the limit is {MAX_PACKAGE_BYTES} bytes.",
            size=len(data),
            limit=MAX_PACKAGE_BYTES,
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise _fail("the file is not a valid zip archive.")
    files_only = [info for info in entries if not info.is_dir()]
    if len(files_only) > MAX_FILES:
        raise _fail(f"it holds {len(files_only)} files; the limit is {MAX_FILES}.")
    declared_total = 0
    seen: set[str] = set()
    for info in entries:
        _check_path(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _fail(f"{info.filename} is a symbolic link; packages hold plain files only.")
        if info.flag_bits & 0x1:
            raise _fail(f"{info.filename} is encrypted; upload an unencrypted zip.")
        if info.is_dir():
            continue
        if info.filename in seen:
            raise _fail(f"{info.filename} appears twice in the archive.")
        seen.add(info.filename)
        if info.file_size > MAX_FILE_BYTES:
            raise _fail(
                f"{info.filename} is {info.file_size} bytes uncompressed; the limit is "
                f"{MAX_FILE_BYTES} bytes per file.",
                path=info.filename,
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _fail(
                f"{info.filename} compresses {info.file_size // max(info.compress_size, 1)}:1, "
                f"above the {MAX_RATIO}:1 limit (a zip bomb?).",
                path=info.filename,
            )
        declared_total += info.file_size
    if declared_total > MAX_UNCOMPRESSED_BYTES:
        raise _fail(f"it unpacks to {declared_total} bytes; the limit is {MAX_UNCOMPRESSED_BYTES}.")
    if MANIFEST not in seen:
        raise _fail("manifest.json is missing at the top level of the zip.")

    files: dict[str, str] = {}
    budget = MAX_UNCOMPRESSED_BYTES
    for info in entries:
        if info.is_dir():
            continue
        base = posixpath.basename(info.filename)
        if not (base.endswith(TEXT_SUFFIXES) or base in TEXT_NAMES):
            raise _fail(
                f"{info.filename}: only text files ({', '.join(TEXT_SUFFIXES)}, LICENSE) "
                "belong in a package."
            )
        raw = _read_entry(archive, info, budget)
        budget -= len(raw)
        try:
            files[info.filename] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(f"{info.filename} is not UTF-8 text.")

    try:
        manifest = json.loads(files.pop(MANIFEST))
    except json.JSONDecodeError as exc:
        raise _fail(f"manifest.json is not valid JSON (line {exc.lineno}: {exc.msg}).")
    if not isinstance(manifest, dict):
        raise _fail("manifest.json must be a JSON object.")
    missing = [k for k in ("name", "version", "sdk", "entry_program") if not manifest.get(k)]
    if missing:
        raise _fail(f"manifest.json lacks {', '.join(missing)}.", missing=missing)
    version = str(semver.parse(str(manifest["version"])))
    sdk = _sdk(manifest["sdk"])
    entry = str(manifest["entry_program"])
    if entry not in files or not entry.endswith(".qasm"):
        raise _fail(f"the entry program {entry!r} is not an OpenQASM (.qasm) file in the package.")
    checks = [
        {"check": "archive limits and paths", "ok": True},
        {"check": "manifest", "ok": True},
        *_parse_each_program(files),
    ]
    in_schema, out_schema, qubits, figures = _program_figures(files[entry])
    warnings = []
    if manifest.get("input_schema") not in (None, in_schema):
        warnings.append("manifest input_schema differs from the program; using the program's.")
    readme_path = manifest.get("readme") or ("README.md" if "README.md" in files else None)
    return PackageInfo(
        name=str(manifest["name"])[:100],
        version=version,
        sdk=sdk,
        entry_program_path=entry,
        entry_program=files[entry],
        files=files,
        readme=files.get(readme_path) if readme_path else None,
        input_schema=in_schema,
        output_schema=out_schema,
        number_of_qubits=qubits,
        resource_estimate=figures,
        validation_results={"ok": True, "checks": checks, "warnings": warnings},
        manifest=manifest,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        warnings=warnings,
    )
