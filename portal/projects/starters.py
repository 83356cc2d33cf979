"""Starter programs a new project can begin from, so the first run is one click.

Each starter is a small, well-known circuit in OpenQASM that the execution pipeline loads as
written; the VQE-style ansatz uses QASM 3 ``input`` parameters, which become the app's input
schema when it is released.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Starter:
    key: str
    title: str
    summary: str
    files: dict[str, str]
    entry: str = "main.qasm"


BELL = """OPENQASM 2.0;
include "qelib1.inc";

// Bell pair: |00> + |11>, so only 00 and 11 are measured, about half each.
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""

GHZ = """OPENQASM 2.0;
include "qelib1.inc";

// GHZ state on 5 qubits: all zeros or all ones.
qreg q[5];
creg c[5];
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
measure q -> c;
"""

GROVER = """OPENQASM 2.0;
include "qelib1.inc";

// Grover search on 3 qubits for the marked state |101>, two iterations (~94 % success).
qreg q[3];
creg c[3];
h q[0];
h q[1];
h q[2];

// Iteration 1 -- oracle: phase-flip |101>
x q[1];
h q[2];
ccx q[0], q[1], q[2];
h q[2];
x q[1];
// diffuser
h q[0]; h q[1]; h q[2];
x q[0]; x q[1]; x q[2];
h q[2];
ccx q[0], q[1], q[2];
h q[2];
x q[0]; x q[1]; x q[2];
h q[0]; h q[1]; h q[2];

// Iteration 2
x q[1];
h q[2];
ccx q[0], q[1], q[2];
h q[2];
x q[1];
h q[0]; h q[1]; h q[2];
x q[0]; x q[1]; x q[2];
h q[2];
ccx q[0], q[1], q[2];
h q[2];
x q[0]; x q[1]; x q[2];
h q[0]; h q[1]; h q[2];

measure q -> c;
"""

QFT = """OPENQASM 2.0;
include "qelib1.inc";

// Quantum Fourier transform on 4 qubits applied to |0101>, then its inverse:
// the round trip returns the input, so 0101 is measured every time.
qreg q[4];
creg c[4];
x q[0];
x q[2];

// QFT
h q[3];
cu1(pi/2) q[2], q[3];
cu1(pi/4) q[1], q[3];
cu1(pi/8) q[0], q[3];
h q[2];
cu1(pi/2) q[1], q[2];
cu1(pi/4) q[0], q[2];
h q[1];
cu1(pi/2) q[0], q[1];
h q[0];

// Inverse QFT
h q[0];
cu1(-pi/2) q[0], q[1];
h q[1];
cu1(-pi/4) q[0], q[2];
cu1(-pi/2) q[1], q[2];
h q[2];
cu1(-pi/8) q[0], q[3];
cu1(-pi/4) q[1], q[3];
cu1(-pi/2) q[2], q[3];
h q[3];

measure q -> c;
"""

VQE = """OPENQASM 3.0;
include "stdgates.inc";

// A hardware-efficient, VQE-style ansatz on 4 qubits: one layer of RY rotations,
// a CX entangling ladder, and a second RY layer. The angles are inputs bound at run time.
input float theta0;
input float theta1;
input float theta2;
input float theta3;

qubit[4] q;
bit[4] c;

ry(theta0) q[0];
ry(theta1) q[1];
ry(theta2) q[2];
ry(theta3) q[3];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
ry(theta0) q[0];
ry(theta1) q[1];
ry(theta2) q[2];
ry(theta3) q[3];

c = measure q;
"""

VQE_INPUTS = {"theta0": 0.5, "theta1": 1.0, "theta2": 1.5, "theta3": 2.0}


def _readme(title: str, text: str) -> str:
    return f"# {title}\n\n{text}\n\nThe entry program is `main.qasm`.\n"


STARTERS: dict[str, Starter] = {
    s.key: s
    for s in [
        Starter(
            "bell",
            "Bell pair",
            "Two entangled qubits: measures 00 or 11, about half each.",
            {"main.qasm": BELL, "README.md": _readme("Bell pair", "Two entangled qubits.")},
        ),
        Starter(
            "ghz",
            "GHZ state",
            "Five qubits all 0 or all 1: the simplest multi-qubit entanglement.",
            {"main.qasm": GHZ, "README.md": _readme("GHZ state", "A 5-qubit GHZ state.")},
        ),
        Starter(
            "grover",
            "Grover search (3 qubits)",
            "Finds the marked state 101 among eight in two iterations.",
            {"main.qasm": GROVER, "README.md": _readme("Grover search", "Marks |101>.")},
        ),
        Starter(
            "qft",
            "Quantum Fourier transform",
            "A 4-qubit QFT and its inverse: the round trip returns the input.",
            {"main.qasm": QFT, "README.md": _readme("QFT", "A 4-qubit QFT round trip.")},
        ),
        Starter(
            "vqe",
            "VQE-style ansatz (QASM 3 inputs)",
            "A parameterised RY/CX ansatz; its four angles are QASM 3 inputs.",
            {
                "main.qasm": VQE,
                "inputs.json": "{\n"
                + ",\n".join(f'  "{k}": {v}' for k, v in VQE_INPUTS.items())
                + "\n}\n",
                "README.md": _readme(
                    "VQE-style ansatz",
                    "Angles `theta0`..`theta3` are inputs; `inputs.json` holds the values the "
                    "IDE binds when you run it.",
                ),
            },
        ),
        Starter(
            "empty",
            "Empty project",
            "A blank OpenQASM 3 program.",
            {
                "main.qasm": 'OPENQASM 3.0;\ninclude "stdgates.inc";\n\nqubit[1] q;\n'
                "bit[1] c;\nh q[0];\nc[0] = measure q[0];\n",
                "README.md": _readme("My project", "Describe what it does."),
            },
        ),
    ]
}
DEFAULT_STARTER = "bell"
