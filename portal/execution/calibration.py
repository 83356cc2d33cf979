"""A device's calibration, per qubit and per coupling, from the figures its noise model uses.

Device-like catalogue entries carry ``backend_config["noise"]`` (see ``catalogue.py``); the
worker's noise model (``backends._noise_model``) applies those figures to every qubit and
every coupling, clipping T2 to 2·T1 as a physical relaxation must. Entries built from
Qiskit's ``GenericBackendV2`` take its seeded, per-qubit synthetic figures, read here from
the same ``Target`` the worker's ``AerSimulator.from_backend`` uses. Plain simulators are
noiseless and have no calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.core import memo

ONE_QUBIT_GATES = ("sx", "x", "rx", "ry", "u", "h")
TWO_QUBIT_GATES = ("cx", "cz", "ecr", "rxx", "rzz")


@dataclass
class QubitFigures:
    qubit: int
    t1_us: float | None
    t2_us: float | None
    readout_error: float | None
    gate_error_1q: float | None


@dataclass
class EdgeFigures:
    qubits: tuple[int, int]
    gate: str
    error: float | None


@dataclass
class Calibration:
    source: str  # one sentence: where the figures come from
    uniform: bool  # every qubit has the same figures (a median-figures noise model)
    gate_1q: str | None
    gate_2q: str | None
    qubits: list[QubitFigures] = field(default_factory=list)
    edges: list[EdgeFigures] = field(default_factory=list)

    def qubit(self, index: int) -> QubitFigures | None:
        return self.qubits[index] if 0 <= index < len(self.qubits) else None

    def edge(self, a: int, b: int) -> EdgeFigures | None:
        key = (min(a, b), max(a, b))
        return next((e for e in self.edges if e.qubits == key), None)


def _pairs(edges) -> list[tuple[int, int]]:
    return sorted({(min(int(a), int(b)), max(int(a), int(b))) for a, b in edges if a != b})


def _from_noise(config: dict[str, Any], qubits: int, edges) -> Calibration:
    noise = config["noise"]
    basis = config.get("basis_gates") or []
    gate_1q = next((g for g in basis if g in ONE_QUBIT_GATES), None)
    gate_2q = next((g for g in basis if g in TWO_QUBIT_GATES), None)
    t1 = float(noise["t1_us"])
    t2 = min(float(noise["t2_us"]), 2 * t1)  # as backends._noise_model
    figures = [
        QubitFigures(i, t1, t2, float(noise["readout_error"]), float(noise["error_1q"]))
        for i in range(qubits)
    ]
    if edges is None:  # all-to-all
        pairs = [(a, b) for a in range(qubits) for b in range(a + 1, qubits)]
    else:
        pairs = _pairs(edges)
    couplings = [EdgeFigures(p, gate_2q or "2q", float(noise["error_2q"])) for p in pairs]
    return Calibration(
        "The noise model's published median figures, applied to every qubit and coupling.",
        True,
        gate_1q,
        gate_2q,
        figures,
        couplings,
    )


@memo.bounded(16)
def _generic(num_qubits: int, seed: int) -> Calibration:
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit.providers.fake_provider import GenericBackendV2

    target = GenericBackendV2(num_qubits, seed=seed).target

    def error(gate: str, qargs: tuple[int, ...]) -> float | None:
        if gate not in target.operation_names:
            return None
        props = target[gate].get(qargs)
        return float(props.error) if props is not None and props.error is not None else None

    gate_1q = next((g for g in ONE_QUBIT_GATES if g in target.operation_names), None)
    gate_2q = next((g for g in TWO_QUBIT_GATES if g in target.operation_names), None)
    figures = []
    for i in range(num_qubits):
        props = target.qubit_properties[i] if target.qubit_properties else None
        t1 = getattr(props, "t1", None)
        t2 = getattr(props, "t2", None)
        figures.append(
            QubitFigures(
                i,
                t1 * 1e6 if t1 else None,
                t2 * 1e6 if t2 else None,
                error("measure", (i,)),
                error(gate_1q, (i,)) if gate_1q else None,
            )
        )
    couplings = []
    if gate_2q:
        for a, b in _pairs(target[gate_2q].keys()):
            values = [e for e in (error(gate_2q, (a, b)), error(gate_2q, (b, a))) if e is not None]
            couplings.append(EdgeFigures((a, b), gate_2q, max(values) if values else None))
    return Calibration(
        f"Qiskit GenericBackendV2 (seed {seed}): its synthetic per-qubit figures, the ones "
        "the simulator runs with.",
        False,
        gate_1q,
        gate_2q,
        figures,
        couplings,
    )


def calibration_of(qubits: int | None, config: dict[str, Any] | None, edges) -> Calibration | None:
    """The calibration of a catalogue entry, or None for a noiseless simulator."""
    config = config or {}
    if not config.get("device") or not qubits:
        return None
    if config.get("generic"):
        generic = config["generic"]
        return _generic(int(generic["num_qubits"]), int(generic.get("seed", 42)))
    if config.get("noise"):
        return _from_noise(config, int(qubits), edges)
    return None


def calibration_document(hardware) -> dict[str, Any] | None:
    """A device's error figures as the API publishes them (``GET /hardware``), or None for a
    noiseless simulator: per qubit T1/T2 (µs), readout and 1-qubit gate error; per coupling
    the 2-qubit gate's error. Clients build their transpiler ``Target`` from these."""
    calibration = calibration_of(
        hardware.qubits, hardware.backend_config, hardware.connectivity_map
    )
    if calibration is None:
        return None
    return {
        "source": calibration.source,
        "uniform": calibration.uniform,
        "gate_1q": calibration.gate_1q,
        "gate_2q": calibration.gate_2q,
        "qubits": [
            {
                "qubit": q.qubit,
                "t1_us": q.t1_us,
                "t2_us": q.t2_us,
                "readout_error": q.readout_error,
                "gate_error_1q": q.gate_error_1q,
            }
            for q in calibration.qubits
        ],
        "edges": [
            {"qubits": list(e.qubits), "gate": e.gate, "error": e.error} for e in calibration.edges
        ],
    }
