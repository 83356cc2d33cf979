"""The hardware catalogue shipped with the portal: Qiskit Aer simulators, plain and
device-like.

``backend_config`` says how the worker builds the backend (see ``portal.execution.backends``);
prices are per shot and per job so a cost can be estimated before anything runs.

Device-like entries mimic real processors: a coupling map, a native gate set and a noise
model. Qiskit 2.x ships no FakeXxx backends in core, so two are built from published
calibration figures (median values of the processor family, rounded) and one from Qiskit's
``GenericBackendV2`` with a fixed seed (its synthetic noise is reproducible).
"""

from __future__ import annotations

from decimal import Decimal

from portal.core.extensions import db
from portal.execution.models import (
    Hardware,
    HardwarePlatform,
    HardwareStatus,
    HardwareTechnology,
)

AER_GATES = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "u", "cx",
             "cz", "swap", "ccx", "measure", "reset", "barrier"]  # fmt: skip
CLIFFORD_GATES = ["h", "x", "y", "z", "s", "sdg", "sx", "cx", "cz", "swap", "measure", "reset",
                  "barrier"]  # fmt: skip

SIMULATORS = [
    {
        "name": "aer-simulator",
        "description": "Qiskit Aer, automatic method: stabilizer for Clifford circuits (up to "
        "1,000 qubits), matrix-product state for wide circuits whose two-qubit gates join "
        "neighbours, statevector otherwise (within the workers' memory).",
        "qubits": 1000,
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


# IBM Falcon r5.11 heavy-hex lattice, 27 qubits (the layout of ibm_kolkata / ibm_mumbai).
HEAVY_HEX_27 = [
    (0, 1), (1, 2), (1, 4), (2, 3), (3, 5), (4, 7), (5, 8), (6, 7), (7, 10), (8, 9),
    (8, 11), (10, 12), (11, 14), (12, 13), (12, 15), (13, 14), (14, 16), (15, 18), (16, 19),
    (17, 18), (18, 21), (19, 20), (19, 22), (21, 23), (22, 25), (23, 24), (24, 25), (25, 26),
]  # fmt: skip


def _symmetric(edges) -> list[list[int]]:
    return [list(e) for a, b in edges for e in ((a, b), (b, a))]


DEVICES = [
    {
        "name": "falcon-27-noisy",
        "description": "Device-like: a 27-qubit heavy-hex superconducting processor (IBM "
        "Falcon r5 layout) with its native gates and noise from published median "
        "calibration figures: 1-qubit error 3e-4, CX error 1e-2, readout error 2e-2, "
        "T1 100 µs, T2 90 µs.",
        "provider": "Quantum Hub (IBM Falcon-like)",
        "technology": HardwareTechnology.SUPERCONDUCTING,
        "qubits": 27,
        "gate_set": ["cx", "id", "rz", "sx", "x", "measure", "reset", "barrier"],
        "coupling_map": _symmetric(HEAVY_HEX_27),
        "noise": {
            "error_1q": 3e-4,
            "error_2q": 1e-2,
            "readout_error": 2e-2,
            "t1_us": 100.0,
            "t2_us": 90.0,
            "time_1q_ns": 35.0,
            "time_2q_ns": 400.0,
            "time_measure_ns": 5000.0,
        },
        "max_shots": 20_000,
        "cost_per_shot": Decimal("0.000100"),
        "cost_per_job": Decimal("0.10"),
        "cost_per_hour": Decimal("10.00"),
        "average_queue_time": 1,
        "documentation_url": "https://docs.quantum.ibm.com/guides/processor-types",
    },
    {
        "name": "ion-trap-11-noisy",
        "description": "Device-like: an 11-qubit trapped-ion processor (all-to-all "
        "connectivity) with noise from published figures: 1-qubit fidelity 99.5 %, "
        "2-qubit fidelity 97 %, readout error 0.4 %, long coherence.",
        "provider": "Quantum Hub (trapped-ion-like)",
        "technology": HardwareTechnology.TRAPPED_ION,
        "qubits": 11,
        "gate_set": ["rx", "ry", "rz", "rxx", "measure", "reset", "barrier"],
        "coupling_map": None,
        "noise": {
            "error_1q": 5e-3,
            "error_2q": 3e-2,
            "readout_error": 4e-3,
            "t1_us": 1e7,
            "t2_us": 2e5,
            "time_1q_ns": 10_000.0,
            "time_2q_ns": 200_000.0,
            "time_measure_ns": 100_000.0,
        },
        "max_shots": 10_000,
        "cost_per_shot": Decimal("0.000300"),
        "cost_per_job": Decimal("0.30"),
        "cost_per_hour": Decimal("30.00"),
        "average_queue_time": 2,
        "documentation_url": "https://ionq.com/resources/ionq-harmony-specifications",
    },
    {
        "name": "generic-5-noisy",
        "description": "Device-like: Qiskit's GenericBackendV2 with 5 fully connected "
        "qubits, IBM basis gates and its synthetic (seeded, reproducible) noise.",
        "provider": "Qiskit (GenericBackendV2)",
        "technology": HardwareTechnology.SUPERCONDUCTING,
        "qubits": 5,
        "gate_set": ["cx", "id", "rz", "sx", "x", "measure", "reset", "delay"],
        "generic": {"num_qubits": 5, "seed": 42},
        "max_shots": 20_000,
        "cost_per_shot": Decimal("0.000050"),
        "cost_per_job": Decimal("0.05"),
        "cost_per_hour": Decimal("5.00"),
        "average_queue_time": 0,
        "documentation_url": "https://docs.quantum.ibm.com/api/qiskit/qiskit.providers.fake_provider.GenericBackendV2",
    },
]


def _generic_coupling(num_qubits: int) -> list[list[int]]:
    return [[a, b] for a in range(num_qubits) for b in range(num_qubits) if a != b]


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
    for spec in DEVICES:
        hardware = db.session.execute(
            db.select(Hardware).filter_by(name=spec["name"])
        ).scalar_one_or_none()
        if hardware is None:
            hardware = Hardware(name=spec["name"], status=HardwareStatus.ONLINE)
            db.session.add(hardware)
        hardware.provider = spec["provider"]
        hardware.technology_type = spec["technology"]
        hardware.platform = HardwarePlatform.AER
        hardware.description = spec["description"]
        hardware.qubits = spec["qubits"]
        hardware.gate_set = spec["gate_set"]
        config: dict = {"method": "automatic", "device": True}
        if "generic" in spec:
            config["generic"] = spec["generic"]
            hardware.connectivity_map = _generic_coupling(spec["generic"]["num_qubits"])
        else:
            config["basis_gates"] = [g for g in spec["gate_set"] if g not in ("barrier",)]
            config["coupling_map"] = spec["coupling_map"]
            config["noise"] = spec["noise"]
            config["num_qubits"] = spec["qubits"]
            hardware.connectivity_map = spec["coupling_map"]
        hardware.average_queue_time = spec["average_queue_time"]
        hardware.cost_per_hour = spec["cost_per_hour"]
        hardware.cost_per_shot = spec["cost_per_shot"]
        hardware.cost_per_job = spec["cost_per_job"]
        hardware.max_shots = spec["max_shots"]
        hardware.backend_config = config
        hardware.documentation_url = spec["documentation_url"]
        entries.append(hardware)
    db.session.flush()
    return entries


def device_names() -> list[str]:
    """Devices a default may name: the catalogue and every hardware row that is not retired
    (``portal.accounts.services.register_devices``)."""
    names = {spec["name"] for spec in SIMULATORS}
    names |= set(
        db.session.execute(
            db.select(Hardware.name).where(Hardware.status != HardwareStatus.RETIRED)
        ).scalars()
    )
    return sorted(names)
