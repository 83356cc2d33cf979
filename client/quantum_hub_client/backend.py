"""A Quantum Hub device as a Qiskit ``BackendV2``."""

from __future__ import annotations

import contextlib
import warnings
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Delay, Parameter, ParameterExpression
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


def qasm3_source(circuit: QuantumCircuit) -> tuple[str, list[Parameter]]:
    """The circuit as OpenQASM 3 (``qiskit.qasm3.dumps``), its free parameters ``input
    float`` declarations renamed ``p0000, p0001, ...`` in ``circuit.parameters`` order (the
    exporter may rename other names, e.g. of a ``ParameterVector``; these sort as the
    originals do, so values sent as an array line up with the portal's parameters)."""
    params = list(circuit.parameters)
    if params:
        fresh = {p: Parameter(f"p{i:04d}") for i, p in enumerate(params)}
        circuit = circuit.assign_parameters(fresh, inplace=False)
    return qasm3.dumps(circuit), params


def _bindings(circuit: QuantumCircuit, binds: Any) -> list[dict[str, float]]:
    """Aer's ``parameter_binds`` entry for one circuit ({Parameter or name: value or list of
    values}) as the portal's ``inputs`` of each binding (the wire names ``p0000``, ...)."""
    params = list(circuit.parameters)
    if not params:
        if binds:
            raise ValueError(f"circuit {circuit.name!r} has no parameters to bind")
        return [{}]
    if not isinstance(binds, dict) or not binds:
        raise ValueError(
            f"circuit {circuit.name!r} has unbound parameters "
            f"{sorted(p.name for p in params)}; give their values with "
            "run(..., parameter_binds=[{parameter: [values, ...]}]) or assign_parameters()"
        )
    by_name = {
        (key.name if isinstance(key, ParameterExpression) else str(key)): value
        for key, value in binds.items()
    }
    missing = sorted(p.name for p in params if p.name not in by_name)
    unknown = sorted(set(by_name) - {p.name for p in params})
    if missing or unknown:
        raise ValueError(
            f"parameter_binds for {circuit.name!r}: missing {missing}, not parameters {unknown}"
        )
    columns = {
        p.name: [by_name[p.name]] if np.ndim(by_name[p.name]) == 0 else list(by_name[p.name])
        for p in params
    }
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"parameter_binds for {circuit.name!r}: every parameter needs the same (non-zero) "
            "number of values"
        )
    return [
        {f"p{i:04d}": float(columns[p.name][k]) for i, p in enumerate(params)}
        for k in range(lengths.pop())
    ]


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

    def run(self, run_input, parameter_binds=None, **options) -> QuantumHubJob:
        """Run circuits (or OpenQASM source). A circuit's free parameters become OpenQASM 3
        ``input`` parameters; ``parameter_binds`` gives their values as Aer takes them: one
        ``{parameter: value or [values, ...]}`` per circuit, each set of values one
        experiment (one portal job with those ``inputs``) of the result, in order."""
        single = isinstance(run_input, (QuantumCircuit, str))
        circuits = [run_input] if single else list(run_input)
        if not circuits:
            raise ValueError("run() needs at least one circuit")
        if parameter_binds is not None and len(parameter_binds) != len(circuits):
            raise ValueError(
                f"parameter_binds has {len(parameter_binds)} entries for {len(circuits)} "
                "circuits; give one per circuit"
            )
        unknown = set(options) - set(self.options.__dict__)
        if unknown:
            raise TypeError(f"unknown run options {sorted(unknown)} for {self.name}")
        opts = {**self.options.__dict__, **options}
        shots = int(opts["shots"])
        memory = bool(opts.get("memory"))
        seed = opts.get("seed_simulator")
        # (circuit or source, the source to send, the inputs of one binding)
        experiments: list[tuple[Any, str, dict[str, float]]] = []
        for index, circuit in enumerate(circuits):
            if isinstance(circuit, str):  # OpenQASM 2 or 3 source, sent as written
                experiments.append((circuit, circuit, {}))
                continue
            if not isinstance(circuit, QuantumCircuit):
                raise TypeError(
                    f"run() takes QuantumCircuits or OpenQASM source, not {type(circuit).__name__}"
                )
            binds = parameter_binds[index] if parameter_binds is not None else None
            bindings = _bindings(circuit, binds)
            source, _ = qasm3_source(circuit)
            experiments.extend((circuit, source, inputs) for inputs in bindings)
        if len(experiments) > MAX_CIRCUITS:
            raise ValueError(
                f"{len(experiments)} circuits (with their parameter bindings) in one run; at "
                f"most {MAX_CIRCUITS} (max_circuits)"
            )
        tags = list(opts.get("tags") or [])
        ids = []
        for circuit, source, inputs in experiments:
            if isinstance(circuit, str):  # the portal reads the format from the header
                body = {"device": self.name, "shots": shots, "program": {"source": source}}
            else:
                body = {
                    "device": self.name,
                    "shots": shots,
                    "program": {"source": source, "format": "qasm3"},
                    "name": (circuit.name or "circuit")[:100],
                }
                if inputs:
                    body["inputs"] = inputs
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
            circuits=[c if isinstance(c, QuantumCircuit) else None for c, _, _ in experiments],
            shots=shots,
            memory=memory,
            seed=seed,
        )
