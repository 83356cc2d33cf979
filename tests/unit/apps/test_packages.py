"""Package building and the checks an uploaded package must pass (hostile zips included)."""

import io
import json
import stat
import zipfile

import pytest

from portal.apps import packages
from portal.apps.packages import build_package, validate_package
from portal.core.errors import ValidationFailed
from tests.factories.apps import BELL, ROTATION


def _zip(entries: dict[str, bytes | str], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _manifest(**overrides) -> str:
    manifest = {"name": "t", "version": "1.0.0", "sdk": "OPENQASM3",
                "entry_program": "programs/main.qasm"}  # fmt: skip
    manifest.update(overrides)
    return json.dumps(manifest)


def _valid_entries(**extra) -> dict:
    return {"manifest.json": _manifest(), "programs/main.qasm": BELL, **extra}


def test_build_then_validate_round_trip_derives_schema_and_resources():
    data = build_package(
        name="Rotation", version="1.2.0", sdk="OPENQASM3",
        entry_program_path="programs/main.qasm",
        files={"programs/main.qasm": ROTATION, "docs/usage.md": "Use it."},
        readme="# Rotation",
    )  # fmt: skip
    info = validate_package(data)
    assert info.version == "1.2.0" and info.name == "Rotation"
    assert info.input_schema["properties"] == {
        "theta": {"type": "number", "x-qasm-type": "float"},
        "layers": {"type": "integer", "x-qasm-type": "int"},
    }
    assert info.number_of_qubits == 3
    assert info.resource_estimate["gate_counts"]["cx"] == 2
    assert "counts" in info.output_schema["properties"]
    assert info.readme == "# Rotation"
    assert info.validation_results["ok"] is True
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    assert manifest["input_schema"] == info.input_schema
    assert manifest["entry_program"] == "programs/main.qasm"
    # Deterministic bytes: the same sources give the same checksum.
    again = build_package(
        name="Rotation", version="1.2.0", sdk="OPENQASM3",
        entry_program_path="programs/main.qasm",
        files={"programs/main.qasm": ROTATION, "docs/usage.md": "Use it."},
        readme="# Rotation",
    )  # fmt: skip
    assert again == data


def test_a_minimal_hand_made_package_is_valid():
    info = validate_package(_zip(_valid_entries()))
    assert info.number_of_qubits == 2 and info.input_schema["properties"] == {}


@pytest.mark.parametrize(
    "name",
    ["../evil.qasm", "programs/../../evil.qasm", "/etc/evil.qasm", "C:/evil.qasm",
     "programs\\..\\evil.qasm", "programs//main2.qasm", "./main.qasm"],
)  # fmt: skip
def test_path_traversal_and_absolute_paths_are_refused(name):
    with pytest.raises(ValidationFailed, match="Package rejected"):
        validate_package(_zip(_valid_entries(**{name: BELL})))


def test_symlinks_are_refused():
    with pytest.raises(ValidationFailed, match="symbolic link"):
        validate_package(_zip(_valid_entries(), symlink="programs/link.qasm"))


def test_zip_bomb_by_ratio_is_refused():
    bomb = "A" * (packages.MAX_FILE_BYTES - 10)  # compresses ~1000:1
    with pytest.raises(ValidationFailed, match="zip bomb"):
        validate_package(_zip(_valid_entries(**{"docs/bomb.txt": bomb})))


def test_zip_bomb_with_forged_sizes_stops_while_inflating(monkeypatch):
    # A header that understates the size: reading must stop at the declared size.
    data = _zip(_valid_entries(**{"docs/big.txt": "B" * 200_000}))
    real_infolist = zipfile.ZipFile.infolist

    def lying_infolist(self):
        entries = real_infolist(self)
        for info in entries:
            if info.filename == "docs/big.txt":
                info.file_size = 10
        return entries

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying_infolist)
    with pytest.raises(ValidationFailed, match="inflates beyond its declared size"):
        validate_package(data)


def test_oversize_uploads_and_files_are_refused(monkeypatch):
    with pytest.raises(ValidationFailed, match="limit is"):
        validate_package(b"PK" + b"x" * (packages.MAX_PACKAGE_BYTES + 1))
    monkeypatch.setattr(packages, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ValidationFailed, match="per file"):
        validate_package(_zip(_valid_entries(**{"README.md": "x" * 2000})))
    monkeypatch.setattr(packages, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(packages, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(ValidationFailed, match="unpacks to"):
        validate_package(_zip(_valid_entries(**{"README.md": "x" * 900})))


def test_too_many_files_are_refused(monkeypatch):
    monkeypatch.setattr(packages, "MAX_FILES", 3)
    extra = {f"docs/{i}.md": "x" for i in range(3)}
    with pytest.raises(ValidationFailed, match="the limit is 3"):
        validate_package(_zip(_valid_entries(**extra)))


def test_broken_program_is_refused_with_its_position():
    broken = BELL.replace("cx q[0], q[1];", "cx q[0] q[1];")
    with pytest.raises(ValidationFailed) as caught:
        validate_package(_zip(_valid_entries(**{"programs/main.qasm": broken})))
    assert "programs/main.qasm" in caught.value.message
    assert caught.value.details["line"] == 6


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"programs/main.qasm": BELL}, "manifest.json is missing"),
        ({"manifest.json": "{not json", "programs/main.qasm": BELL}, "not valid JSON"),
        ({"manifest.json": "[]", "programs/main.qasm": BELL}, "JSON object"),
        ({"manifest.json": _manifest(version="1.0"), "programs/main.qasm": BELL}, "semantic"),
        ({"manifest.json": _manifest(sdk="COBOL"), "programs/main.qasm": BELL}, "sdk"),
        (
            {"manifest.json": _manifest(entry_program="x.qasm"), "programs/main.qasm": BELL},
            "entry program",
        ),
        ({"manifest.json": _manifest(name=""), "programs/main.qasm": BELL}, "lacks name"),
        ({**_valid_entries(), "bin/run.exe": b"MZ"}, "only text files"),
        ({**_valid_entries(), "docs/latin1.md": "caf\xe9".encode("latin-1")}, "UTF-8"),
    ],
)
def test_bad_manifests_and_contents_get_clear_messages(entries, message):
    with pytest.raises(ValidationFailed, match=message):
        validate_package(_zip(entries))


def test_not_a_zip_and_empty_files_are_refused():
    with pytest.raises(ValidationFailed, match="not a valid zip"):
        validate_package(b"hello world")
    with pytest.raises(ValidationFailed, match="empty"):
        validate_package(b"")


def test_build_package_checks_its_inputs():
    with pytest.raises(ValidationFailed, match="not among the files"):
        build_package(name="x", version="1.0.0", sdk="OPENQASM3",
                      entry_program_path="main.qasm", files={}, readme=None)  # fmt: skip
    with pytest.raises(ValidationFailed, match="semantic"):
        build_package(name="x", version="one", sdk="OPENQASM3",
                      entry_program_path="m.qasm", files={"m.qasm": BELL}, readme=None)  # fmt: skip
