"""Running a circuit on a catalogue entry: build the Aer backend, prepare the circuit, run.

Everything here is per process and cached, because the worker is where speed is won:
- backends are built once per (device name, config) — ``AerSimulator.from_backend`` and
  noise models cost ~0.2 s;
- plain simulators need no ``transpile()`` (it costs far more than a small simulation); only
  instructions Aer does not know (user-defined gates) are decomposed;
- device-like entries are transpiled for their coupling map and basis gates, cached per
  (program hash, device) so re-running a circuit costs nothing extra.
Qiskit is imported on first use; the worker warms it up once before taking jobs.

The simulation method follows the circuit on plain "automatic" simulators (``choose_method``):
stabilizer for Clifford-only circuits, matrix-product state for circuits too wide for a state
vector whose two-qubit gates are all between neighbouring qubits, statevector otherwise.
Entries whose catalogue config fixes a method keep it; device-like entries (noise models) let
Aer choose. A state that would not fit the workers' memory budget is refused before it runs
(``memory_refusal``: in the request by ``pricing.check_fits``, again on the worker), and Aer
is given the same budget (``max_memory_mb``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from flask import has_app_context

from portal.core.memo import BoundedCache
from portal.core.programs import parse_program, resource_figures
from portal.execution.memory import (
    density_matrix_bytes,
    max_qubits,
    memory_budget_mb,
    size_text,
    statevector_bytes,
)

TRANSPILE_CACHE_SIZE = 256
_lock = threading.Lock()
_backends: dict[str, Any] = {}
_transpiled = BoundedCache(TRANSPILE_CACHE_SIZE)
_programs = BoundedCache(TRANSPILE_CACHE_SIZE)  # parsed + prepared, see run_program
_run_options: dict[str, int] = {}  # per-run Aer options for this process, see set_threads
AUTOMATIC = "automatic"


@dataclass
class RunOutcome:
    counts: dict[str, int]
    execution_seconds: float
    transpiled: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)
    transpile_cached: bool = False
    measured_all: bool = False
    method: str | None = None  # the method Aer ran with (its result's metadata)
    extra: dict[str, Any] = field(default_factory=dict)  # memory, seed: into the result data


class SimulationError(Exception):
    """The simulator refused or failed the circuit; the message is shown to the user."""


def _config_key(name: str, config: dict[str, Any]) -> str:
    return name + ":" + hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _noise_model(config: dict[str, Any]):
    """A noise model from calibration figures: depolarising gate errors, thermal relaxation
    during each gate, and readout errors."""
    # Deferred: Qiskit Aer is heavy, imported on first use.
    from qiskit_aer.noise import (
        NoiseModel,
        ReadoutError,
        depolarizing_error,
        thermal_relaxation_error,
    )

    noise = config["noise"]
    basis = config["basis_gates"]
    t1, t2 = noise["t1_us"] * 1e3, min(noise["t2_us"], 2 * noise["t1_us"]) * 1e3  # ns
    model = NoiseModel(basis_gates=basis)
    one_q = [g for g in basis if g in ("x", "sx", "rx", "ry", "u", "u3", "h")]
    two_q = [g for g in basis if g in ("cx", "cz", "ecr", "rxx", "rzz")]
    if one_q:
        error = depolarizing_error(noise["error_1q"], 1).compose(
            thermal_relaxation_error(t1, t2, noise["time_1q_ns"])
        )
        model.add_all_qubit_quantum_error(error, one_q)
    if two_q:
        relax = thermal_relaxation_error(t1, t2, noise["time_2q_ns"])
        error = depolarizing_error(noise["error_2q"], 2).compose(relax.expand(relax))
        model.add_all_qubit_quantum_error(error, two_q)
    p = noise["readout_error"]
    model.add_all_qubit_readout_error(ReadoutError([[1 - p, p], [p, 1 - p]]))
    return model


def backend_for(name: str, config: dict[str, Any] | None) -> Any:
    """The Aer backend of a catalogue entry, built once per process."""
    config = config or {}
    key = _config_key(name, config)
    with _lock:
        backend = _backends.get(key)
    if backend is not None:
        return backend
    # Deferred: Qiskit Aer is heavy, imported on first use.
    from qiskit_aer import AerSimulator

    method = config.get("method", "automatic")
    if config.get("generic"):
        # Deferred: Qiskit is heavy, imported on first use.
        from qiskit.providers.fake_provider import GenericBackendV2

        generic = GenericBackendV2(
            config["generic"]["num_qubits"], seed=config["generic"].get("seed", 42)
        )
        backend = AerSimulator.from_backend(generic, method=method)
    elif config.get("device"):
        # Deferred: Qiskit is heavy, imported on first use.
        from qiskit.transpiler import CouplingMap

        backend = AerSimulator(
            method=method,
            noise_model=_noise_model(config),
            basis_gates=config["basis_gates"],
            coupling_map=CouplingMap(config["coupling_map"]) if config["coupling_map"] else None,
            n_qubits=config["num_qubits"],
        )
    else:
        backend = AerSimulator(method=method)
    with _lock:
        _backends[key] = backend
    return backend


def is_device_like(config: dict[str, Any] | None) -> bool:
    return bool((config or {}).get("device"))


# -- the simulation method and the memory bound ----------------------------------------------


def choose_method(config: dict[str, Any] | None, figures: dict[str, Any], budget_mb: int) -> str:
    """The Aer method a circuit runs with on a catalogue entry.

    - the entry's config fixes a method (aer-statevector, aer-stabilizer, ...): that one;
    - device-like entries (noise model, coupling map): ``automatic``, Aer chooses;
    - otherwise (plain "automatic" simulators): ``stabilizer`` for a Clifford-only circuit;
      ``matrix_product_state`` when its state vector would not fit ``budget_mb`` and every
      multi-qubit gate acts on neighbouring qubits (``two_qubit_span`` <= 1: a line, whose
      entanglement grows slowly); ``statevector`` otherwise.
    """
    config = config or {}
    fixed = config.get("method") or AUTOMATIC
    if fixed != AUTOMATIC:
        return fixed
    if is_device_like(config):
        return AUTOMATIC
    if figures.get("clifford"):
        return "stabilizer"
    if figures["qubits"] > max_qubits(budget_mb) and figures.get("two_qubit_span", 0) <= 1:
        return "matrix_product_state"
    return "statevector"


def state_bytes(method: str, qubits: int) -> int | None:
    """Memory the simulator's state takes, or None where it does not grow as 2^qubits
    (stabilizer: polynomial; matrix-product state: bounded by entanglement, not width)."""
    if method in ("statevector", AUTOMATIC, "unitary"):
        return statevector_bytes(qubits)
    if method in ("density_matrix", "superop"):
        return density_matrix_bytes(qubits)
    return None


def memory_refusal(method: str, qubits: int, budget_mb: int) -> str | None:
    """Why a ``qubits``-qubit circuit cannot run with ``method`` within ``budget_mb``, or None."""
    need = state_bytes(method, qubits)
    if need is None or need <= budget_mb * 2**20:
        return None
    dense = method in ("density_matrix", "superop")
    kind, power = ("density matrix", "4") if dense else ("state vector", "2")
    return (
        f"A {qubits}-qubit {kind} needs {size_text(need)} (16 bytes x {power}^{qubits}); the "
        f"workers allow {size_text(budget_mb * 2**20)} (QH_WORKER_MEMORY_MB={budget_mb}, at "
        f"most {max_qubits(budget_mb)} qubits as a state vector): use fewer qubits, a Clifford "
        "circuit (stabilizer method), or nearest-neighbour two-qubit gates on aer-simulator or "
        "aer-matrix-product-state (matrix-product state)."
    )


def _budget_mb() -> int | None:
    if not has_app_context():
        return None

    return memory_budget_mb()


def program_hash(source: str, fmt: str | None, inputs: dict[str, Any] | None) -> str:
    payload = json.dumps([source, fmt, inputs or {}], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _supported(backend) -> set[str]:
    names = set(backend.configuration().basis_gates)
    return names | {"measure", "barrier", "reset", "delay", "for_loop", "if_else", "while_loop"}


def _decompose_unknown(circuit, backend):
    """Replace instructions Aer does not know (user ``gate`` definitions) by their bodies."""
    supported = _supported(backend)
    for _ in range(10):
        unknown = {inst.operation.name for inst in circuit.data} - supported
        if not unknown:
            return circuit
        circuit = circuit.decompose(gates_to_decompose=list(unknown))
    return circuit


def prepare(circuit, hardware_name: str, config: dict[str, Any] | None, key: str):
    """(circuit to run, was it cached). Device-like entries transpile, cached by ``key``."""
    backend = backend_for(hardware_name, config)
    if not is_device_like(config):
        return _decompose_unknown(circuit, backend), False
    cache_key = (key, _config_key(hardware_name, config or {}))
    cached = _transpiled.get(cache_key)
    if cached is not None:
        return cached, True
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit import transpile

    compiled = transpile(circuit, backend=backend, optimization_level=1, seed_transpiler=7)
    _transpiled.put(cache_key, compiled)
    return compiled, False


@dataclass
class _Prepared:
    """A program made ready for one catalogue entry: what the run needs, computed once."""

    circuit: Any
    transpiled: dict[str, Any]
    cached: bool
    measured_all: bool
    method: str
    config: dict[str, Any]  # the entry's config with the chosen method


def _prepare_program(
    source: str, fmt: str | None, inputs: dict[str, Any] | None, name: str, config: dict
) -> tuple[_Prepared, float]:
    """Parse, choose the method, measure-all if needed and compile; cached per (program,
    entry, memory budget). Returns the prepared program and the milliseconds it took (0 on a
    cache hit). A state over the memory budget is refused here (SimulationError)."""
    budget = _budget_mb()
    cache_key = (program_hash(source, fmt, inputs), _config_key(name, config), budget)
    hit = _programs.get(cache_key)
    if hit is not None:
        return _Prepared(
            hit.circuit, hit.transpiled, True, hit.measured_all, hit.method, hit.config
        ), 0.0

    started = time.perf_counter()
    circuit = parse_program(source, fmt, inputs)
    method = choose_method(config, resource_figures(circuit), budget or 2**40)
    refusal = budget and memory_refusal(method, circuit.num_qubits, budget)
    if refusal:
        raise SimulationError(refusal)
    if method != (config.get("method") or AUTOMATIC):
        config = {**config, "method": method}
    measured_all = False
    if circuit.num_clbits == 0:
        # A circuit without measurements would return no counts: measure everything.
        circuit.measure_all()
        measured_all = True
    try:
        compiled, cached = prepare(circuit, name, config, cache_key[0])
    except Exception as exc:  # transpiler errors say what is wrong
        raise SimulationError(f"Could not compile the circuit for {name}: {exc}")
    prepared = _Prepared(compiled, _figures(compiled), cached, measured_all, method, config)
    _programs.put(cache_key, prepared)
    return prepared, (time.perf_counter() - started) * 1e3


def _figures(compiled) -> dict[str, Any]:
    return {
        "depth": compiled.depth(),
        "size": compiled.size(),
        "qubits": compiled.num_qubits,
        "gate_counts": {str(k): int(v) for k, v in compiled.count_ops().items()},
    }


def run_program(
    source: str,
    fmt: str | None,
    inputs: dict[str, Any] | None,
    hardware_name: str,
    config: dict[str, Any] | None,
    shots: int,
    *,
    memory: bool = False,
    seed: int | None = None,
) -> RunOutcome:
    """Parse (ProgramError), prepare and run a program; the worker's entry point.
    ``memory``: keep each shot's outcome (hex); ``seed``: Aer's ``seed_simulator``.

    Parsing and preparing are cached per (program hash, entry): a re-run program costs only
    the simulation. Circuits in the cache are never mutated (Aer does not modify them)."""
    config = config or {}
    prepared, prepare_ms = _prepare_program(source, fmt, inputs, hardware_name, config)
    outcome = _simulate(
        prepared.circuit, hardware_name, prepared.config, shots, _budget_mb(), memory, seed
    )
    outcome.method = outcome.method or prepared.method
    outcome.transpiled = prepared.transpiled
    outcome.transpile_cached = prepared.cached
    outcome.measured_all = prepared.measured_all
    outcome.timings_ms = {"prepare_ms": round(prepare_ms, 3), **outcome.timings_ms}
    return outcome


def _simulate(
    compiled,
    hardware_name: str,
    config: dict[str, Any] | None,
    shots: int,
    budget_mb=None,
    memory: bool = False,
    seed: int | None = None,
):
    backend = backend_for(hardware_name, config)
    options = dict(_run_options)
    if budget_mb:
        options["max_memory_mb"] = budget_mb  # Aer refuses a larger state rather than die
    if memory:
        options["memory"] = True
    if seed is not None:
        options["seed_simulator"] = seed
    started = time.perf_counter()
    try:
        result = backend.run(compiled, shots=shots, **options).result()
    except MemoryError:
        raise SimulationError(_memory_message(compiled, hardware_name))
    except Exception as exc:
        raise SimulationError(f"The simulator refused the circuit: {exc}")
    run_ms = round((time.perf_counter() - started) * 1e3, 3)
    if not result.success:
        status = str(result.status or "")
        for experiment in getattr(result, "results", []) or []:
            status = str(getattr(experiment, "status", "") or status)
        if "memory" in status.lower() or "insufficient" in status.lower():
            raise SimulationError(_memory_message(compiled, hardware_name))
        raise SimulationError(f"The simulator failed: {status.strip()}")
    counts = {str(k): int(v) for k, v in result.get_counts().items()}
    experiments = getattr(result, "results", None) or []
    metadata = (getattr(experiments[0], "metadata", None) or {}) if experiments else {}
    method = metadata.get("method")
    time_taken = float(getattr(result, "time_taken", 0.0) or 0.0)
    extra: dict[str, Any] = {}
    if experiments:
        used = getattr(experiments[0], "seed_simulator", None)
        extra["seed_simulator"] = int(used) if used is not None else seed
        if memory:
            extra["memory"] = [str(h) for h in (experiments[0].data.memory or [])]
    extra["noise_model_version"] = noise_model_version(hardware_name, config)
    return RunOutcome(
        counts=counts,
        execution_seconds=time_taken or run_ms / 1e3,
        transpiled={},
        timings_ms={"run_ms": run_ms},
        method=method,
        extra=extra,
    )


def set_threads(threads: int) -> None:
    """Cap Aer's OpenMP threads per run in this process (0 = Aer decides: all cores).

    Several workers sharing few cores should each run with 1: every worker spinning up a
    thread per core oversubscribes the machine and small circuits gain nothing from it."""
    _run_options.clear()
    if threads > 0:
        _run_options.update(
            max_parallel_threads=threads, max_parallel_experiments=1, max_parallel_shots=1
        )


def _memory_message(circuit, hardware_name: str) -> str:
    return (
        f"Not enough memory to simulate {circuit.num_qubits} qubits on {hardware_name}. "
        "Use fewer qubits, a Clifford circuit (stabilizer) or the aer-matrix-product-state "
        "device for wide circuits."
    )


_WARM_UP_SWEEP = """OPENQASM 3.0;
include "stdgates.inc";
input float theta;
bit[1] c;
qubit[1] q;
ry(theta) q[0];
c = measure q;
"""


def warm_up() -> None:
    """Import Qiskit, Aer, the OpenQASM 3 parser and the primitives' containers, and run one
    tiny circuit and one tiny sweep, so the first job of either kind pays nothing (cold, the
    first sweep cost about 1.5 s of imports and parser set-up in the worker)."""
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit.circuit import Parameter, QuantumCircuit
    from qiskit.primitives.containers.bindings_array import BindingsArray  # noqa: F401
    from qiskit.primitives.containers.estimator_pub import EstimatorPub  # noqa: F401
    from qiskit.primitives.containers.sampler_pub import SamplerPub  # noqa: F401

    backend = backend_for("warm-up", {"method": "automatic"})
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    backend.run(circuit, shots=1).result()
    backend.run(parse_program(_WARM_UP_SWEEP, "qasm3", {"theta": 0.5}), shots=1).result()
    theta = Parameter("theta")
    sweep = QuantumCircuit(1, 1)
    sweep.ry(theta, 0)
    sweep.measure(0, 0)
    backend.run(sweep, shots=1, parameter_binds=[{theta: [0.0, 1.0]}]).result()


@functools.cache
def _aer_version() -> str:
    return version("qiskit-aer")


def noise_model_version(hardware_name: str, config: dict[str, Any] | None) -> str:
    """What a result's noise came from: ``noiseless`` for plain simulators, else a hash of
    the entry's noise figures, gate set and coupling map, with the qiskit-aer version."""
    config = config or {}
    aer = f"qiskit-aer {_aer_version()}"
    if not config.get("device"):
        return f"noiseless ({aer})"[:64]
    figures = {k: config.get(k) for k in ("noise", "generic", "basis_gates", "coupling_map")}
    digest = hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()[:12]
    return f"{hardware_name[:20]}-{digest} ({aer})"[:64]
