"""OpenQASM loading: wild QASM 2, QASM 3 inputs, and errors that say where."""

import pytest

from portal.core.errors import ValidationFailed
from portal.core.programs import (
    MAX_PROGRAM_BYTES,
    InputError,
    ProgramError,
    detect_format,
    input_schema,
    parse_program,
    resource_figures,
)

WILD_QASM2 = """// a circuit as exported by older tools
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
u1(pi/4) q[0];
u2(0, pi) q[1];
u3(0.1, 0.2, 0.3) q[2];
cu1(pi/2) q[0], q[1];
h q[0];
cx q[0], q[1];
measure q -> c;
"""

QASM3_INPUTS = """OPENQASM 3.0;
include "stdgates.inc";
input float theta;   // rotation angle
input int[32] reps;
input angle phi;
qubit[2] q;
bit[2] c;
rx(theta * reps) q[0];
rz(phi) q[1];
cx q[0], q[1];
c = measure q;
"""


def test_detect_format_reads_the_header_after_comments():
    assert detect_format(WILD_QASM2) == "qasm2"
    assert detect_format("/* hi */ OPENQASM 3.0; qubit q;") == "qasm3"
    assert detect_format("OPENQASM 3; qubit q;") == "qasm3"


@pytest.mark.parametrize("source", ["qreg q[1];", "", "OPENQASM 4.0;"])
def test_detect_format_refuses_missing_or_unknown_headers(source):
    with pytest.raises(ProgramError) as info:
        detect_format(source)
    assert info.value.status == 422 and info.value.code == "program_error"
    assert info.value.details["line"] == 1


def test_wild_qasm2_with_legacy_gates_loads():
    circuit = parse_program(WILD_QASM2)
    figures = resource_figures(circuit)
    assert figures["qubits"] == 3 and figures["clbits"] == 3
    assert {"u1", "u2", "u3", "cu1", "measure"} <= set(figures["gate_counts"])
    assert figures["size"] == sum(figures["gate_counts"].values())
    assert figures["depth"] >= 3


def test_qasm2_syntax_error_has_line_and_column():
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0]\ncx q[0], q[1];\n'
    with pytest.raises(ProgramError) as info:
        parse_program(source)
    assert info.value.details == {"line": 5, "column": 1, "format": "qasm2"}
    assert "line 5, column 1" in info.value.message and "';'" in info.value.message


@pytest.mark.parametrize(
    ("source", "line", "column", "fragment"),
    [
        # qiskit.qasm2 quotes this message with ' (it holds no '): the position used to be lost.
        ("OPENQASM 2.0;\nqreg q[2];\ncreg c[2];\nmeasure q[0 -> c[0];\n", 4, 13,
         "needed a closing bracket"),
        ("OPENQASM 2.0;\nqreg q[1];\nqreg q[1];\n", 3, 6, "'q' is already defined"),
        ("OPENQASM 2.0;\nqreg q[1];\nU(0, 0) q[0];\n", 3, 1, ""),
    ],
)  # fmt: skip
def test_every_qasm2_error_has_line_column_and_a_readable_message(source, line, column, fragment):
    with pytest.raises(ProgramError) as info:
        parse_program(source)
    assert info.value.details == {"line": line, "column": column, "format": "qasm2"}
    assert info.value.message.startswith(f"Program error at line {line}, column {column}: ")
    assert fragment in info.value.message
    assert "<input>" not in info.value.message and not info.value.message.endswith("'")


def test_headerless_qasm2_is_read_when_the_format_is_given():
    source = 'include "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\n'
    assert resource_figures(parse_program(source, "qasm2"))["gate_counts"] == {"h": 1, "cx": 1}
    assert detect_format(source, "qasm2") == "qasm2"
    with pytest.raises(ProgramError, match="must start with a header"):
        parse_program(source)  # without a format the header is what tells 2 from 3
    with pytest.raises(ProgramError) as info:
        parse_program(source + "bogus q[0];\n", "qasm2")
    assert info.value.details["line"] == 6 and info.value.details["column"] == 1


def test_qasm2_unknown_gate_names_it():
    with pytest.raises(ProgramError, match="'foo' is not defined") as info:
        parse_program('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nfoo q[0];\n')
    assert info.value.details["line"] == 4


def test_qasm3_inputs_are_bound_by_type():
    circuit = parse_program(QASM3_INPUTS, "qasm3", {"theta": 0.25, "reps": 2, "phi": -1})
    assert not circuit.parameters  # every input became a literal
    rx = next(inst for inst in circuit.data if inst.operation.name == "rx")
    assert float(rx.operation.params[0]) == pytest.approx(0.5)
    rz = next(inst for inst in circuit.data if inst.operation.name == "rz")
    assert float(rz.operation.params[0]) == pytest.approx(-1.0)


def test_input_schema_from_declarations():
    schema = input_schema(QASM3_INPUTS)
    assert schema["properties"] == {
        "theta": {"type": "number", "x-qasm-type": "float"},
        "reps": {"type": "integer", "x-qasm-type": "int"},
        "phi": {"type": "number", "x-qasm-type": "angle"},
    }
    assert schema["required"] == ["theta", "reps", "phi"]
    assert input_schema(WILD_QASM2)["properties"] == {}


def test_commented_out_inputs_are_not_inputs():
    source = "OPENQASM 3.0;\n// input float ghost;\nqubit q;\n"
    assert input_schema(source)["properties"] == {}


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({"theta": 1.0, "reps": 1}, "Missing input(s): phi"),
        ({"theta": 1.0, "reps": 1, "phi": 0, "extra": 3}, "Unknown input(s): extra"),
        ({"theta": "big", "reps": 1, "phi": 0}, "'theta' must be a number"),
        ({"theta": True, "reps": 1, "phi": 0}, "'theta' must be a number"),
        ({"theta": 1.0, "reps": 1.5, "phi": 0}, "whole number"),
        ({"theta": float("nan"), "reps": 1, "phi": 0}, "finite"),
    ],
)
def test_bad_inputs_say_what_to_fix(inputs, fragment):
    with pytest.raises(ValidationFailed) as info:
        parse_program(QASM3_INPUTS, inputs=inputs)
    assert isinstance(info.value, InputError)
    assert info.value.status == 422 and info.value.code == "invalid_inputs"
    assert fragment in info.value.message


def test_uint_and_bool_inputs_are_checked():
    source = "OPENQASM 3.0;\ninput uint[8] k;\ninput bool flag;\nqubit q;\n"
    with pytest.raises(InputError, match="cannot be negative"):
        parse_program(source, inputs={"k": -1, "flag": True})
    with pytest.raises(InputError, match="true or false"):
        parse_program(source, inputs={"k": 1, "flag": 1})
    assert parse_program(source, inputs={"k": 3, "flag": False}).num_qubits == 1


def test_unsupported_input_type_is_a_program_error():
    with pytest.raises(ProgramError, match="has type bit") as info:
        input_schema("OPENQASM 3.0;\ninput bit b;\n")
    assert info.value.details["line"] == 2


def test_qasm2_takes_no_inputs():
    with pytest.raises(InputError, match="take no inputs"):
        parse_program(WILD_QASM2, inputs={"x": 1})


@pytest.mark.parametrize(
    ("source", "line", "column", "fragment"),
    [
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\n  h q[0]\n  x q[1];', 5, 3,
         "missing ';'"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nrx( q[1];', 4, 9, "rx("),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\n  foo q[1];', 4, 3,
         "'foo' is not defined"),
        ("OPENQASM 3.0;\nqubit q;\nh q;", 3, 1, "'h' is not defined"),
        # Qiskit's circuit errors come without a position (and used to escape as a 500):
        # the first statement that fails to convert is named.
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\n  h q[5];\n', 5, 3,
         "index out of range"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nc[0] = measure q;\n',
         5, 1, "register size"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\ncx q[0], q[0];\n', 4, 1,
         "duplicate"),
    ],
)  # fmt: skip
def test_qasm3_errors_have_line_and_column(source, line, column, fragment):
    with pytest.raises(ProgramError) as info:
        parse_program(source)
    assert info.value.details == {"line": line, "column": column, "format": "qasm3"}
    assert fragment in info.value.message
    assert f"line {line}, column {column}" in info.value.message


@pytest.mark.parametrize(
    "source",
    [
        'OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];',
        'OPENQASM 3.0;\ninclude "qelib1.inc";\nqubit q;',
        'OPENQASM 3.0;\ninclude "../secrets.inc";\nqubit q;',
    ],
)
def test_only_standard_includes(source):
    with pytest.raises(ProgramError, match="is not available") as info:
        parse_program(source)
    assert info.value.details["line"] == 2


def test_format_must_match_header():
    with pytest.raises(ProgramError, match="header says qasm2") as info:
        parse_program(WILD_QASM2, "qasm3")
    assert info.value.details == {"line": 2, "column": 10, "format": "qasm3"}  # at the "2.0"
    with pytest.raises(ProgramError, match="unknown format"):
        parse_program(WILD_QASM2, "quil")


def test_oversized_programs_are_refused_before_parsing():
    source = "OPENQASM 2.0;\n" + "// padding\n" * (MAX_PROGRAM_BYTES // 10)
    with pytest.raises(ProgramError, match="limit is 65536 bytes"):
        parse_program(source)
    with pytest.raises(ProgramError, match="must be text"):
        parse_program(None)  # type: ignore[arg-type]
