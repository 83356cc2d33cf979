"""The simulation method follows the circuit; the memory bound says why, with the figure."""

from __future__ import annotations

from qiskit import QuantumCircuit

from portal.config import default_worker_memory_mb
from portal.core.programs import resource_figures
from portal.execution.backends import choose_method, memory_refusal, state_bytes

AUTO = {"method": "automatic"}
BUDGET = 6 * 1024  # 28 qubits as a state vector


def figures(n: int, *, t: bool = False, far: bool = False) -> dict:
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for i in range(n - 1):
        circuit.cx(i, i + 1)
    if t:
        circuit.t(0)
    if far:
        circuit.cx(0, n - 1)
    return resource_figures(circuit)


def test_figures_say_clifford_and_how_far_two_qubit_gates_reach():
    assert figures(5)["clifford"] is True and figures(5)["two_qubit_span"] == 1
    assert figures(5, t=True)["clifford"] is False
    assert figures(5, far=True)["two_qubit_span"] == 4
    assert resource_figures(QuantumCircuit(3))["two_qubit_span"] == 0


def test_the_method_follows_the_circuit_on_automatic_simulators():
    assert choose_method(AUTO, figures(1000), BUDGET) == "stabilizer"
    assert choose_method(AUTO, figures(100, t=True), BUDGET) == "matrix_product_state"
    assert choose_method(AUTO, figures(100, t=True, far=True), BUDGET) == "statevector"
    assert choose_method(AUTO, figures(20, t=True), BUDGET) == "statevector"  # it fits
    assert choose_method(AUTO, figures(29, t=True), BUDGET) == "matrix_product_state"


def test_fixed_methods_and_device_like_entries_keep_theirs():
    assert choose_method({"method": "statevector"}, figures(5), BUDGET) == "statevector"
    assert choose_method({"method": "density_matrix"}, figures(5), BUDGET) == "density_matrix"
    assert choose_method({"method": "automatic", "device": True}, figures(5), BUDGET) == (
        "automatic"
    )
    assert choose_method(None, figures(5), BUDGET) == "stabilizer"


def test_the_memory_refusal_gives_the_figure():
    message = memory_refusal("statevector", 34, BUDGET)
    assert message.startswith("A 34-qubit state vector needs 256 GiB")
    assert "the workers allow 6 GiB (QH_WORKER_MEMORY_MB=6144, at most 28 qubits" in message
    assert memory_refusal("statevector", 28, BUDGET) is None
    assert "14-qubit density matrix needs 4 GiB" in memory_refusal("density_matrix", 14, 1024)
    assert memory_refusal("stabilizer", 5000, 1) is None
    assert memory_refusal("matrix_product_state", 1000, 1) is None
    assert state_bytes("statevector", 28) == 4 * 2**30


def test_the_default_budget_is_a_quarter_of_the_machine(monkeypatch):
    import os

    import portal.config

    class NoCgroup:
        def __init__(self, *args):
            pass

        def read_text(self):
            raise OSError("no cgroup limit")

    assert default_worker_memory_mb() >= 1024
    monkeypatch.setattr(portal.config, "Path", NoCgroup)
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 24 * 2**30 // 4096}
    monkeypatch.setattr(os, "sysconf", pages.__getitem__)
    assert default_worker_memory_mb() == 6 * 1024  # a 24 GiB machine: 6 GiB, 28 qubits
    pages["SC_PHYS_PAGES"] = 2 * 2**30 // 4096
    assert default_worker_memory_mb() == 1024  # never below 1 GiB


def test_the_worker_warm_up_loads_what_a_first_sweep_would():
    """The first primitive job must not pay the OpenQASM 3 parser's and the primitives'
    imports (about 1.5 s cold): the worker's warm-up loads them before taking jobs."""
    import subprocess
    import sys

    probe = (
        "import sys; from portal.execution import backends; backends.warm_up(); "
        "print(all(m in sys.modules for m in ('qiskit_qasm3_import', "
        "'qiskit.primitives.containers.sampler_pub', "
        "'qiskit.primitives.containers.bindings_array')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
