"""The hardware catalogue shipped with the portal: Qiskit Aer simulators.

``backend_config`` says how the worker builds the backend; prices are per shot and per job
so a cost can be estimated before anything runs.
"""

from __future__ import annotations

from decimal import Decimal

from portal.execution.models import (
    Hardware,
    HardwarePlatform,
    HardwareStatus,
    HardwareTechnology,
)
from portal.extensions import db

AER_GATES = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "u", "cx",
             "cz", "swap", "ccx", "measure", "reset", "barrier"]  # fmt: skip
CLIFFORD_GATES = ["h", "x", "y", "z", "s", "sdg", "sx", "cx", "cz", "swap", "measure", "reset",
                  "barrier"]  # fmt: skip

SIMULATORS = [
    {
        "name": "aer-simulator",
        "description": "Qiskit Aer, automatic method: picks statevector, stabilizer or "
        "matrix-product-state for each circuit.",
        "qubits": 30,
        "method": "automatic",
        "gate_set": AER_GATES,
        "cost_per_shot": Decimal("0.000010"),
        "cost_per_job": Decimal("0.01"),
        "cost_per_hour": Decimal("1.00"),
    },
    {
        "name": "aer-statevector",
        "description": "Exact statevector simulation; memory doubles with every qubit.",
        "qubits": 28,
        "method": "statevector",
        "gate_set": AER_GATES,
        "cost_per_shot": Decimal("0.000010"),
        "cost_per_job": Decimal("0.01"),
        "cost_per_hour": Decimal("1.00"),
    },
    {
        "name": "aer-matrix-product-state",
        "description": "Tensor-network simulation for wide circuits with little entanglement.",
        "qubits": 100,
        "method": "matrix_product_state",
        "gate_set": AER_GATES,
        "cost_per_shot": Decimal("0.000020"),
        "cost_per_job": Decimal("0.02"),
        "cost_per_hour": Decimal("2.00"),
    },
    {
        "name": "aer-stabilizer",
        "description": "Clifford-only circuits on thousands of qubits, in polynomial time.",
        "qubits": 1000,
        "method": "stabilizer",
        "gate_set": CLIFFORD_GATES,
        "cost_per_shot": Decimal("0.000005"),
        "cost_per_job": Decimal("0.01"),
        "cost_per_hour": Decimal("0.50"),
    },
    {
        "name": "aer-density-matrix",
        "description": "Mixed-state simulation for noise studies; half the qubits of "
        "statevector for the same memory.",
        "qubits": 14,
        "method": "density_matrix",
        "gate_set": AER_GATES,
        "cost_per_shot": Decimal("0.000040"),
        "cost_per_job": Decimal("0.02"),
        "cost_per_hour": Decimal("4.00"),
    },
]


def ensure_catalogue() -> list[Hardware]:
    """Create or refresh the shipped catalogue entries (idempotent, matched by name)."""
    entries = []
    for spec in SIMULATORS:
        hardware = db.session.execute(
            db.select(Hardware).filter_by(name=spec["name"])
        ).scalar_one_or_none()
        if hardware is None:
            hardware = Hardware(name=spec["name"], status=HardwareStatus.ONLINE)
            db.session.add(hardware)
        hardware.provider = "Qiskit Aer"
        hardware.technology_type = HardwareTechnology.SIMULATOR
        hardware.platform = HardwarePlatform.AER
        hardware.description = spec["description"]
        hardware.qubits = spec["qubits"]
        hardware.gate_set = spec["gate_set"]
        hardware.connectivity_map = None  # all-to-all
        hardware.average_queue_time = 0
        hardware.cost_per_hour = spec["cost_per_hour"]
        hardware.cost_per_shot = spec["cost_per_shot"]
        hardware.cost_per_job = spec["cost_per_job"]
        hardware.backend_config = {"method": spec["method"]}
        hardware.documentation_url = "https://qiskit.github.io/qiskit-aer/"
        entries.append(hardware)
    db.session.flush()
    return entries
