"""A Quantum Hub device as a Qiskit ``BackendV2``."""

from __future__ import annotations

import contextlib
import warnings
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Delay, Parameter
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import BackendV2, Options, QubitProperties
from qiskit.transpiler import InstructionProperties, Target

from quantum_hub_client.job import QuantumHubJob

if TYPE_CHECKING:  # pragma: no cover
    from quantum_hub_client.provider import QuantumHubProvider

# Circuits one run() may carry. The API takes one program per job, so a run of N circuits is
# N portal jobs behind one QuantumHubJob; this bounds how many are submitted at once.
MAX_CIRCUITS = 100
DIRECTIVES = {"barrier"}  # always allowed by the transpiler; not target instructions


def _instruction(name: str):
    if name == "delay":
        return Delay(Parameter("t"))
    gate = get_standard_gate_name_mapping().get(name)
    if gate is None:
        raise KeyError(name)
    return gate


def build_target(device: dict[str, Any]) -> Target:
    """A ``Target`` from the catalogue entry: its qubits, gate set and coupling map.

    On an all-to-all device (no connectivity map) every instruction is global: the
    transpiler lays nothing out. With a map, 1-qubit instructions are on every qubit and
    2-qubit gates on the map's directed edges only. Where the API publishes the device's
    ``error_figures`` (device-like entries), instructions carry their error (readout error on
    ``measure``, the 1-qubit gate error on physical 1-qubit gates, ``rz`` virtual and exact,
    each coupling's 2-qubit error) and qubits their T1/T2, so noise-aware layout works."""
    num_qubits = int(device["qubits"])
    figures = device.get("error_figures") or {}
    per_qubit = {int(q["qubit"]): q for q in figures.get("qubits") or []}
    per_edge = {tuple(sorted(e["qubits"])): e.get("error") for e in figures.get("edges") or []}
    qubit_properties = None
    if per_qubit and len(per_qubit) == num_qubits:
        qubit_properties = [
            QubitProperties(
                t1=per_qubit[i]["t1_us"] * 1e-6 if per_qubit[i].get("t1_us") else None,
                t2=per_qubit[i]["t2_us"] * 1e-6 if per_qubit[i].get("t2_us") else None,
            )
            for i in range(num_qubits)
        ]
    target = Target(
        description=device.get("description"),
        num_qubits=num_qubits,
        dt=None,
        qubit_properties=qubit_properties,
    )
    edges = [tuple(edge) for edge in device.get("connectivity_map") or []]

    def one_qubit(name: str, q: int):
        figures_q = per_qubit.get(q)
        if figures_q is None:
            return None
        if name == "measure":
            error = figures_q.get("readout_error")
        elif name in ("rz", "id", "delay", "reset"):
            error = 0.0 if name in ("rz", "id") else None
        else:
            error = figures_q.get("gate_error_1q")
        return InstructionProperties(error=error) if error is not None else None

    def two_qubit(edge):
        error = per_edge.get(tuple(sorted(edge)))
        return InstructionProperties(error=error) if error is not None else None

    for name in device.get("gate_set") or []:
        if name in DIRECTIVES:
            continue
        try:
            instruction = _instruction(name)
        except KeyError:
            warnings.warn(
                f"{device['name']}: gate {name!r} is not a Qiskit standard gate; left out of "
                "the target",
                stacklevel=3,
            )
            continue
        if not edges or instruction.num_qubits > 2:
            target.add_instruction(instruction, name=name)
        elif instruction.num_qubits == 2:
            props = {edge: two_qubit(edge) for edge in edges}
            target.add_instruction(instruction, props, name=name)
        else:
            props = {(q,): one_qubit(name, q) for q in range(num_qubits)}
            target.add_instruction(instruction, props, name=name)
    return target


class QuantumHubBackend(BackendV2):
    """One device of the portal's catalogue.

    ``run(circuits, shots=, memory=, seed_simulator=, tags=)`` sends each circuit as
    OpenQASM 3 (``qiskit.qasm3.dumps``; a ``str`` is sent as written, OpenQASM 2 or 3) and
    returns one :class:`QuantumHubJob`. The portal transpiles again for its device, so an
    un-transpiled circuit runs too; transpiling here (``transpile(qc, backend)``) makes it fit
    the coupling map and gate set before anything is paid for.

    ``memory=True`` keeps each shot's outcome (the portal's per-shot memory, in the
    simulator's order); ``seed_simulator`` is the portal's simulator seed: the same seed gives
    the same counts (the job records it with the device's noise-model version). Both are what
    ``qiskit.primitives.BackendSamplerV2`` / ``BackendEstimatorV2`` pass.
    """

    def __init__(self, provider: QuantumHubProvider, device: dict[str, Any]):
        super().__init__(
            provider=provider,
            name=device["name"],
            description=device.get("description"),
            backend_version="1",
        )
        self.device = device
        self._target = build_target(device)
        low = int(device.get("min_shots") or 1)
        high = int(device.get("max_shots") or 1_000_000)
        self.options.set_validator("shots", (low, high))

    @property
    def hub(self) -> QuantumHubProvider:
        return self.provider

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> int:
        return MAX_CIRCUITS

    @property
    def device_status(self) -> str:
        """The catalogue's status of the device (ONLINE, MAINTENANCE, ...)."""
        return self.device.get("status", "UNKNOWN")

    @property
    def device_like(self) -> bool:
        return bool(self.device.get("device_like"))

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024, memory=False, seed_simulator=None, tags=None)

    def __repr__(self) -> str:
        return f"<QuantumHubBackend('{self.name}')>"

    def estimate(self, circuit: QuantumCircuit | str, shots: int | None = None) -> dict[str, Any]:
        """``POST /jobs/estimate``: the price (``estimated_cost`` as a Decimal) and the
        circuit's figures, checked against the device, before anything runs."""
        if isinstance(circuit, str):
            program = {"source": circuit}
        else:
            program = {"source": qasm3.dumps(circuit), "format": "qasm3"}
        body = self.hub.session.post(
            "/jobs/estimate",
            {"device": self.name, "shots": int(shots or self.options.shots), "program": program},
        )
        body["estimated_cost"] = Decimal(body["estimated_cost"])
        return body

    def run(self, run_input, **options) -> QuantumHubJob:
        single = isinstance(run_input, (QuantumCircuit, str))
        circuits = [run_input] if single else list(run_input)
        if not circuits:
            raise ValueError("run() needs at least one circuit")
        if len(circuits) > MAX_CIRCUITS:
            raise ValueError(
                f"{len(circuits)} circuits in one run; at most {MAX_CIRCUITS} (max_circuits)"
            )
        unknown = set(options) - set(self.options.__dict__)
        if unknown:
            raise TypeError(f"unknown run options {sorted(unknown)} for {self.name}")
        opts = {**self.options.__dict__, **options}
        shots = int(opts["shots"])
        memory = bool(opts.get("memory"))
        seed = opts.get("seed_simulator")
        sources = []
        for circuit in circuits:
            if isinstance(circuit, str):  # OpenQASM 2 or 3 source, sent as written
                sources.append(circuit)
                continue
            if not isinstance(circuit, QuantumCircuit):
                raise TypeError(
                    f"run() takes QuantumCircuits or OpenQASM source, not {type(circuit).__name__}"
                )
            if circuit.parameters:
                raise ValueError(
                    f"circuit {circuit.name!r} has unbound parameters "
                    f"{sorted(p.name for p in circuit.parameters)}; assign_parameters() first"
                )
            sources.append(qasm3.dumps(circuit))
        tags = list(opts.get("tags") or [])
        ids = []
        for circuit, source in zip(circuits, sources, strict=True):
            if isinstance(circuit, str):  # the portal reads the format from the header
                body = {"device": self.name, "shots": shots, "program": {"source": source}}
            else:
                body = {
                    "device": self.name,
                    "shots": shots,
                    "program": {"source": source, "format": "qasm3"},
                    "name": (circuit.name or "circuit")[:100],
                }
            if tags:
                body["tags"] = tags
            if memory:
                body["memory"] = True
            if seed is not None:
                body["seed_simulator"] = int(seed)
            try:
                ids.append(self.hub.session.post("/jobs", body)["id"])
            except Exception:
                for done in ids:  # no half-submitted run left behind
                    with contextlib.suppress(Exception):  # best effort; the first error counts
                        self.hub.session.delete(f"/jobs/{done}")
                raise
        return QuantumHubJob(
            self,
            ids,
            circuits=[c if isinstance(c, QuantumCircuit) else None for c in circuits],
            shots=shots,
            memory=memory,
            seed=seed,
        )
