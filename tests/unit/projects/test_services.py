"""Pure rules of the projects domain: file names, starters, analysis, the histogram."""

import pytest

from portal.core.errors import ValidationFailed
from portal.projects import services
from portal.projects.starters import STARTERS, VQE_INPUTS
from portal.projects.views import _histogram


@pytest.mark.parametrize(
    "path", ["main.qasm", "README.md", "circuits/ghz.qasm", "a/b/c/d.json", "lib_1.inc", "x.txt"]
)
def test_valid_paths_are_kept(path):
    assert services.validate_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "give the file a name"),
        ("../etc/passwd.qasm", "'..'"),
        ("a/../../b.qasm", "'..'"),
        ("/abs.qasm", "relative path"),
        ("win\\evil.qasm", "relative path"),
        (".hidden.qasm", "not starting with '.'"),
        ("a//b.qasm", "empty"),
        ("main.py", "extension"),
        ("noext", "extension"),
        ("a/b/c/d/e.qasm", "nested"),
        ("x" * 200 + ".qasm", "at most 120"),
        ("sp ace.qasm", "letters, digits"),
    ],
)
def test_bad_paths_say_why(path, reason):
    with pytest.raises(ValidationFailed) as exc:
        services.validate_path(path)
    assert reason in exc.value.message


@pytest.mark.parametrize("key", list(STARTERS))
def test_every_starter_parses(key):
    starter = STARTERS[key]
    inputs = VQE_INPUTS if key == "vqe" else None
    analysis = services.analyse(starter.files[starter.entry], inputs)
    assert analysis.ok, analysis.diagnostics
    assert analysis.resources["qubits"] >= 1
    assert "README.md" in starter.files


def test_vqe_starter_declares_qasm3_inputs():
    analysis = services.analyse(STARTERS["vqe"].files["main.qasm"])
    assert analysis.format == "qasm3"
    assert sorted(analysis.input_schema["properties"]) == ["theta0", "theta1", "theta2", "theta3"]
    # Without saved values the structure is still checked with placeholders.
    assert analysis.inputs == {"theta0": 0.0, "theta1": 0.0, "theta2": 0.0, "theta3": 0.0}


def test_analysis_reports_resource_figures():
    analysis = services.analyse(STARTERS["bell"].files["main.qasm"])
    assert analysis.resources == {
        "qubits": 2,
        "clbits": 2,
        "depth": 3,
        "size": 4,
        "gate_counts": {"h": 1, "cx": 1, "measure": 2},
        "clifford": True,
        "two_qubit_span": 1,
    }
    assert analysis.as_dict()["diagnostics"] == []


def test_syntax_error_is_a_diagnostic_at_its_line():
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0]\ncx q[0], q[1];\n'
    analysis = services.analyse(source)
    assert not analysis.ok
    (diag,) = analysis.diagnostics
    assert diag["line"] in (4, 5)
    assert diag["column"] >= 1
    assert not diag["message"].startswith("Program error")


def test_qasm3_syntax_error_has_line_and_column():
    source = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0] q[1];\n'
    (diag,) = services.analyse(source).diagnostics
    assert diag["line"] == 5


def test_missing_header_is_reported_on_line_one():
    (diag,) = services.analyse("qreg q[1];").diagnostics
    assert (diag["line"], diag["column"]) == (1, 1)
    assert "OPENQASM" in diag["message"]


def test_simulation_check_counts_bell_outcomes():
    """The worker body of the build's simulation check."""
    from portal.projects.checks import _simulate

    analysis = services.analyse(STARTERS["bell"].files["main.qasm"])
    check = _simulate(analysis.circuit, 50, 1024)
    assert check["passed"]
    assert set(check["counts"]) <= {"00", "11"}
    assert sum(check["counts"].values()) == 50


def test_simulation_check_refuses_circuits_over_the_memory_budget():
    from portal.projects.checks import max_qubits, memory_refusal, statevector_bytes

    assert statevector_bytes(30) == 16 * 2**30
    assert max_qubits(1024) == 26 and max_qubits(2048) == 27 and max_qubits(1) == 16
    assert memory_refusal(26, 1024) is None
    message = memory_refusal(31, 1024)
    assert "31-qubit state vector needs 32 GiB" in message and "at most 26 qubits" in message
    assert "QH_WORKER_MEMORY_MB=1024" in message and "fewer qubits" in message
    assert "stabilizer" in message and "matrix-product-state" in message


def test_circuit_drawing_is_text():
    drawing = services.draw_circuit(services.analyse(STARTERS["bell"].files["main.qasm"]).circuit)
    assert "H" in drawing and "q_0" in drawing


def test_histogram_bars_are_sorted_and_scaled():
    bars = _histogram({"11": 300, "00": 600, "01": 100})
    assert [b["state"] for b in bars] == ["00", "01", "11"]
    assert bars[0]["height"] == 100.0
    assert bars[2]["height"] == 50.0
    assert bars[0]["share"] == 60.0
    assert _histogram({}) == []
