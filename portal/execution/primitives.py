"""Qiskit primitives on the API: Sampler and Estimator jobs (issue 21), per-shot memory,
seeds and the transpile preview.

A primitive job carries PUBs (primitive unified blocs) in the shape of IBM's Runtime REST API:

- sampler: ``[<OpenQASM 3>, <parameter values>, <shots>]``;
- estimator: ``[<OpenQASM 3>, <observables>, <parameter values>, <precision>]``.

The program's ``input float``/``angle`` declarations are its parameters (what
``qiskit.qasm3.dumps`` writes for free ``Parameter`` objects). Parameter values are either an
array whose last axis holds one value per parameter in the circuit's order (sorted by name,
``circuit.parameters``), or an object ``{"theta": [...], "a,b": [[..., ...], ...]}``; they
broadcast as Qiskit's ``BindingsArray`` does (Qiskit's own ``SamplerPub`` / ``EstimatorPub``
validate them here). Observables are a Pauli string, an object ``{"ZZ": 1.0}``, a
``SparsePauliOp`` list ``[["ZZ", 1.0], ["XX", 0.5]]``, or an array of those (broadcast
against the parameter values).

One job runs a whole sweep: each PUB is one Aer run with Aer's parameter binding
(``parameter_binds``), not one run per binding. A sampler PUB on a noiseless entry whose
circuit is measured only at its end runs at one shot for each binding's final-state
probabilities, and its shots are drawn in NumPy from ``np.random.default_rng(seed)`` (Aer
samples a shot in ~1 µs, most of a sweep's run); other sampler PUBs take Aer's shots
(``metadata.sampling``: ``numpy`` or ``aer``). A job without a seed gets one drawn and
recorded, so any run can be repeated. Estimator PUBs are exact on noiseless
simulators (``save_expectation_value`` on the simulator's state: ``stds`` 0, no shots) and
estimated from shots on device-like entries (Qiskit's ``BackendEstimatorV2`` on the noisy
Aer backend: qubit-wise commuting groups, ``ceil(1 / precision^2)`` shots a group).

Price: a primitive job is priced as a circuit job with the shots it takes
(``billable_shots``): a sampler PUB's shots x its bindings; an estimator PUB on a device-like
entry the shots of each measurement group at each binding; an exact estimator PUB one shot a
binding. The estimate endpoint quotes the same figure, and the charge follows it.

Everything that can be wrong is checked before a job is written (``ValidationFailed``, 422,
``code`` ``invalid_pubs`` or ``limit_exceeded`` naming the limit).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from portal.core import programs
from portal.core.errors import ValidationFailed
from portal.core.memo import BoundedCache
from portal.core.programs import parse_program, resource_figures
from portal.execution import backends
from portal.execution.backends import RunOutcome, _budget_mb, noise_model_version, program_hash
from portal.execution.hardware import get_hardware
from portal.execution.pricing import check_fits, check_shots, estimate_cost

SAMPLER, ESTIMATOR = "sampler", "estimator"
PRIMITIVES = (SAMPLER, ESTIMATOR)

# Limits of one primitive job (docs/limits.md).
MAX_PUBS = 100
MAX_BINDINGS = 10_000  # parameter sets over all PUBs of a job
MAX_TOTAL_SHOTS = 5_000_000  # shots over all PUBs and bindings (what is priced)
MAX_MEMORY_SHOTS = 200_000  # per-shot samples a job may return (memory / sampler samples)
MAX_OBSERVABLE_TERMS = 10_000  # Pauli terms over all observables of a job
MIN_PRECISION = 0.001  # an estimator precision; 1/precision^2 shots a measurement group
DEFAULT_PRECISION = 0.015625  # Qiskit's BackendEstimatorV2 default (4096 shots a group)
MAX_SEED = 2**63 - 1


def limits() -> dict[str, Any]:
    return {
        "max_pubs": MAX_PUBS,
        "max_bindings": MAX_BINDINGS,
        "max_total_shots": MAX_TOTAL_SHOTS,
        "max_memory_shots": MAX_MEMORY_SHOTS,
        "max_observable_terms": MAX_OBSERVABLE_TERMS,
        "min_precision": MIN_PRECISION,
    }


def _refuse(message: str, *, index: int | None = None, code: str = "invalid_pubs", **details):
    where = f"PUB {index}: " if index is not None else ""
    body = dict(details)
    if index is not None:
        body["pub"] = index
    raise ValidationFailed(where + message, code=code, details=body)


def _over(limit: str, value: int | float, bound: int | float, what: str):
    raise ValidationFailed(
        f"This job has {value:,} {what}; the limit is {bound:,} ({limit}). Split it into "
        "several jobs.",
        code="limit_exceeded",
        details={"limit": limit, "value": value, "maximum": bound},
    )


# -- parsing programs with parameters --------------------------------------------------------

_CIRCUITS = BoundedCache(256)  # parsed PUB programs per source hash


def parse_parametric(source: Any, index: int | None = None):
    """The circuit of a PUB's OpenQASM program, its ``input float``/``angle`` declarations
    as free ``Parameter`` objects (ProgramError with line and column otherwise). Cached per
    source; the cached circuit is never mutated (callers copy)."""
    if not isinstance(source, str):
        _refuse("the program must be OpenQASM source text.", index=index)
    key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    hit = _CIRCUITS.get(key)
    if hit is not None:
        return hit
    fmt = programs.detect_format(source)
    if fmt == "qasm2":
        circuit = programs.parse_program(source, "qasm2")
    else:
        code = programs._code_only(source)
        programs._check_includes(code, fmt)
        programs._check_resources(code, fmt)
        for name, qasm_type, decl in programs._input_declarations(source):
            if qasm_type not in ("float", "angle"):
                line, column = programs._position(source, decl.start())
                raise programs.ProgramError(
                    f"input '{name}' has type {qasm_type}; a primitive's parameters are "
                    "float or angle inputs.",
                    line=line,
                    column=column,
                    fmt="qasm3",
                )
        with programs._PARSE_LOCK:
            circuit = programs._parse_qasm3(source)
    _CIRCUITS.put(key, circuit)
    return circuit


# -- PUBs -------------------------------------------------------------------------------------


@dataclass
class Pub:
    """One validated PUB: Qiskit's own ``SamplerPub`` / ``EstimatorPub`` plus its source."""

    index: int
    source: str
    qiskit: Any  # SamplerPub | EstimatorPub
    stored: list[Any]  # the normalised JSON form kept on the job

    @property
    def circuit(self):
        return self.qiskit.circuit

    @property
    def size(self) -> int:
        return int(math.prod(self.qiskit.shape))


def _bindings(circuit, values: Any, index: int):
    """JSON parameter values → a ``BindingsArray`` (validated against the circuit)."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np
    from qiskit.primitives.containers.bindings_array import BindingsArray

    if values is None or (isinstance(values, (list, dict)) and len(values) == 0):
        if circuit.num_parameters:
            names = ", ".join(p.name for p in circuit.parameters)
            _refuse(f"the program has parameters ({names}) but no values were sent.", index=index)
        return BindingsArray(), None
    try:
        if isinstance(values, dict):
            data = {}
            for key, array in values.items():
                names = tuple(part.strip() for part in str(key).split(","))
                data[names if len(names) > 1 else names[0]] = np.asarray(array, dtype=float)
            stored = {k: np.asarray(v, dtype=float).tolist() for k, v in values.items()}
        else:
            array = np.asarray(values, dtype=float)
            if array.ndim == 0:
                array = array.reshape(1)
            if circuit.num_parameters == 1 and array.shape[-1] != 1:
                array = array[..., np.newaxis]  # one parameter: a plain list is a sweep
            data = {tuple(p.name for p in circuit.parameters): array}
            stored = array.tolist()
        bindings = BindingsArray.coerce(data)
        bindings.validate()
    except (TypeError, ValueError) as exc:
        _refuse(f"the parameter values cannot be read: {exc}", index=index)
    if not np.all(np.isfinite(bindings.as_array() if bindings.num_parameters else [0.0])):
        _refuse("parameter values must be finite numbers.", index=index)
    declared = {p.name for p in circuit.parameters}
    given = {name for names in bindings.data for name in names}
    if declared != given:
        missing, unknown = sorted(declared - given), sorted(given - declared)
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"not parameters of the program: {', '.join(unknown)}"] if unknown else []
        )
        _refuse(
            f"the parameter values do not match the program's inputs ({'; '.join(parts)}); "
            f"it takes {', '.join(sorted(declared)) or 'none'}.",
            index=index,
        )
    return bindings, stored


def _observables(raw: Any, index: int):
    """JSON observables → what ``ObservablesArray.coerce`` takes: a Pauli string, a
    ``{pauli: coeff}`` object, a ``[[pauli, coeff], ...]`` list (one ``SparsePauliOp``), or
    an array of those."""

    def is_term(item):
        return (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], (int, float))
            and not isinstance(item[1], bool)
        )

    def one(item):
        if isinstance(item, str):
            return {item: 1.0}
        if isinstance(item, dict):
            if not item or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in item.items()
            ):
                _refuse("an observable object maps Pauli strings to real numbers.", index=index)
            return {k: float(v) for k, v in item.items()}
        if isinstance(item, list) and item and all(is_term(t) for t in item):
            terms: dict[str, float] = {}
            for pauli, coeff in item:
                terms[pauli] = terms.get(pauli, 0.0) + float(coeff)
            return terms
        if isinstance(item, list) and item:
            return [one(x) for x in item]
        _refuse(
            "observables are a Pauli string ('ZZ'), an object {'ZZ': 1.0}, a list of "
            "[pauli, coefficient] pairs, or an array of those.",
            index=index,
        )

    return one(raw)


def _count_terms(obs) -> int:
    return len(obs) if isinstance(obs, dict) else sum(_count_terms(o) for o in obs)


def parse_pubs(
    primitive: str,
    pubs: Any,
    *,
    default_shots: int,
    default_precision: float | None = None,
    hardware=None,
) -> list[Pub]:
    """Validate a primitive job's PUBs (before anything is written): each program parses,
    its parameter values bind and broadcast, observables match its qubits, shots fit the
    device, precision is in range, and the job's limits hold."""
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit.primitives.containers.estimator_pub import EstimatorPub
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    if primitive not in PRIMITIVES:
        raise ValidationFailed(
            f"Unknown primitive {primitive!r}; use 'sampler' or 'estimator'.",
            details={"primitive": list(PRIMITIVES)},
        )
    if not isinstance(pubs, list) or not pubs:
        raise ValidationFailed(
            "A primitive job needs 'pubs': a non-empty list of PUBs.", details={"pubs": "required"}
        )
    if len(pubs) > MAX_PUBS:
        _over("max_pubs", len(pubs), MAX_PUBS, "PUBs")
    precision_default = DEFAULT_PRECISION if default_precision is None else default_precision
    parsed, bindings_total, terms_total = [], 0, 0
    for index, raw in enumerate(pubs):
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            _refuse("a PUB is a list: [program, ...].", index=index)
        longest = 3 if primitive == SAMPLER else 4
        if len(raw) > longest:
            _refuse(f"a {primitive} PUB has at most {longest} items.", index=index)
        source = raw[0]
        circuit = parse_parametric(source, index)
        try:
            if primitive == SAMPLER:
                values = raw[1] if len(raw) > 1 else None
                shots = raw[2] if len(raw) > 2 and raw[2] is not None else default_shots
                if hardware is not None:
                    try:
                        shots = check_shots(hardware, shots)
                    except ValidationFailed as exc:
                        _refuse(exc.message, index=index)
                elif isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
                    _refuse("shots must be a positive whole number.", index=index)
                bindings, stored_values = _bindings(circuit, values, index)
                qiskit_pub = SamplerPub(circuit, bindings, shots)
                stored = [source, stored_values, shots]
            else:
                if len(raw) < 2:
                    _refuse(
                        "an estimator PUB needs observables: [program, observables].", index=index
                    )
                observables = _observables(raw[1], index)
                terms_total += _count_terms(observables)
                values = raw[2] if len(raw) > 2 else None
                precision = raw[3] if len(raw) > 3 and raw[3] is not None else precision_default
                if isinstance(precision, bool) or not isinstance(precision, (int, float)):
                    _refuse("precision must be a number.", index=index)
                if not MIN_PRECISION <= precision <= 1:
                    _refuse(
                        f"precision must be between {MIN_PRECISION} and 1 (it is the target "
                        f"standard error; 1/precision^2 shots a measurement group); got "
                        f"{precision}.",
                        index=index,
                    )
                unmeasured = circuit.remove_final_measurements(inplace=False)
                if any(i.operation.name in ("measure", "reset") for i in unmeasured.data):
                    _refuse(
                        "an estimator PUB's circuit prepares a state: it cannot measure or "
                        "reset before its end (final measurements are removed).",
                        index=index,
                    )
                bindings, stored_values = _bindings(circuit, values, index)
                qiskit_pub = EstimatorPub.coerce((circuit, observables, bindings, float(precision)))
                stored = [source, observables, stored_values, float(precision)]
            qiskit_pub.validate()
        except ValidationFailed:
            raise
        except (TypeError, ValueError, KeyError) as exc:
            _refuse(str(exc).strip("'\"") or type(exc).__name__, index=index)
        pub = Pub(index, source, qiskit_pub, stored)
        bindings_total += pub.size
        parsed.append(pub)
    if bindings_total > MAX_BINDINGS:
        _over("max_bindings", bindings_total, MAX_BINDINGS, "parameter bindings")
    if terms_total > MAX_OBSERVABLE_TERMS:
        _over("max_observable_terms", terms_total, MAX_OBSERVABLE_TERMS, "observable terms")
    return parsed


def _groups(paulis: frozenset[str]) -> int:
    """Qubit-wise commuting groups of Pauli strings (BackendEstimatorV2's measurement
    circuits a binding)."""
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit.quantum_info import PauliList

    return len(PauliList(sorted(paulis)).group_commuting(qubit_wise=True))


def estimator_shots(pub: Pub) -> tuple[int, int]:
    """(circuits, shots each) BackendEstimatorV2 runs for an estimator PUB."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    qp = pub.qiskit
    shots = math.ceil(1.0 / qp.precision**2)
    shape = qp.parameter_values.shape
    indices = np.fromiter(np.ndindex(shape), dtype=object).reshape(shape)
    bc_ind, bc_obs = np.broadcast_arrays(indices, qp.observables)
    per_index: dict[Any, set[str]] = {}
    for where in np.ndindex(*bc_ind.shape):
        per_index.setdefault(bc_ind[where], set()).update(bc_obs[where])
    cache: dict[frozenset[str], int] = {}
    circuits = 0
    for paulis in per_index.values():
        key = frozenset(paulis)
        if key not in cache:
            cache[key] = _groups(key)
        circuits += cache[key]
    return circuits, shots


def billable_shots(primitive: str, pubs: list[Pub], device_like: bool) -> list[int]:
    """The shots each PUB is priced with (module docstring)."""
    out = []
    for pub in pubs:
        if primitive == SAMPLER:
            out.append(pub.qiskit.shots * pub.size)
        elif device_like:
            circuits, shots = estimator_shots(pub)
            out.append(circuits * shots)
        else:
            out.append(int(math.prod(pub.qiskit.parameter_values.shape)) or 1)
    return out


# -- submission -------------------------------------------------------------------------------


def check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValidationFailed(
            f"seed_simulator must be a whole number from 0 to {MAX_SEED}.",
            details={"seed_simulator": f"0 … {MAX_SEED}"},
        )
    return seed


@dataclass
class Submission:
    """What ``submission.submit_job`` writes for a primitive job."""

    primitive: str
    pubs: list[Pub]
    shots: int  # priced shots, over all PUBs
    pub_shots: list[int]
    figures: dict[str, Any]  # of the first PUB's circuit (the job page), with a summary

    @property
    def source(self) -> str:
        return self.pubs[0].source

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"shape": list(p.qiskit.shape), "bindings": p.size, "shots": s}
            for p, s in zip(self.pubs, self.pub_shots, strict=True)
        ]


def submission(
    hardware,
    primitive: str,
    pubs: Any,
    *,
    default_shots: int,
    default_precision: float | None = None,
    memory: bool = False,
) -> Submission:
    """Validate a primitive job for ``hardware``: every PUB fits the device (qubits, gates,
    memory: ``pricing.check_fits``) and the job its limits; the priced shots."""
    parsed = parse_pubs(
        primitive,
        pubs,
        default_shots=default_shots,
        default_precision=default_precision,
        hardware=hardware,
    )
    first = None
    for pub in parsed:
        figures = resource_figures(pub.circuit)
        try:
            figures["method"] = check_fits(hardware, figures)
        except ValidationFailed as exc:
            exc.message = f"PUB {pub.index}: {exc.message}"
            raise
        first = first or figures
    device_like = bool((hardware.backend_config or {}).get("device"))
    pub_shots = billable_shots(primitive, parsed, device_like)
    total = sum(pub_shots)
    if total > MAX_TOTAL_SHOTS:
        _over("max_total_shots", total, MAX_TOTAL_SHOTS, "shots over all PUBs and bindings")
    if primitive == SAMPLER and memory and total > MAX_MEMORY_SHOTS:
        _over("max_memory_shots", total, MAX_MEMORY_SHOTS, "per-shot samples")
    spec = Submission(primitive, parsed, total, pub_shots, first)
    spec.figures = {**first, "primitive": primitive, "pubs": spec.summary()}
    return spec


def check_memory(memory: Any, shots: int) -> bool:
    """``memory: true`` on a plain circuit job: within MAX_MEMORY_SHOTS."""
    if memory is None:
        return False
    if not isinstance(memory, bool):
        raise ValidationFailed("memory must be true or false.", details={"memory": "boolean"})
    if memory and shots > MAX_MEMORY_SHOTS:
        _over("max_memory_shots", shots, MAX_MEMORY_SHOTS, "per-shot samples")
    return memory


# -- the transpile preview --------------------------------------------------------------------


def transpile_preview(hardware, circuit, key: str) -> dict[str, Any]:
    """Depth, size and two-qubit gate count of ``circuit`` as it would run on ``hardware``:
    transpiled for a device-like entry (the worker's transpile, cached), as written (with
    user gates expanded) on a plain simulator."""
    work = circuit
    if work.num_clbits == 0:
        work = work.copy()
        work.measure_all()
    try:
        compiled, _ = backends.prepare(work, hardware.name, hardware.backend_config, key)
    except Exception as exc:  # the transpiler says what is wrong
        raise ValidationFailed(
            f"The circuit cannot be compiled for {hardware.name}: {exc}",
            code="transpile_error",
            details={"device": hardware.name},
        ) from None
    ops = compiled.count_ops()
    two_qubit = sum(
        1
        for inst in compiled.data
        if len(inst.qubits) == 2 and inst.operation.name not in ("barrier", "measure")
    )
    return {
        "device": hardware.name,
        "transpiled": backends.is_device_like(hardware.backend_config),
        "depth": compiled.depth(),
        "size": compiled.size(),
        "two_qubit_gates": two_qubit,
        "gate_counts": {str(k): int(v) for k, v in ops.items()},
    }


def estimate(hardware, data: dict[str, Any]) -> dict[str, Any]:
    """The estimate endpoint for a primitive job: the same validation and priced shots as
    submitting it, the price, and the first PUB's transpile preview."""
    options = data.get("options") or {}
    spec = submission(
        hardware,
        data["primitive"],
        data.get("pubs"),
        default_shots=options.get("default_shots") or data.get("shots") or 1024,
        default_precision=options.get("default_precision"),
        memory=bool(data.get("memory") or options.get("memory")),
    )
    return {
        "device": hardware.name,
        "shots": spec.shots,
        "estimated_cost": estimate_cost(hardware, spec.shots),
        "currency": "USD",
        "circuit": spec.figures,
        "primitive": {"kind": spec.primitive, "pubs": spec.summary(), "limits": limits()},
        "transpile": transpile_preview(hardware, spec.pubs[0].circuit, _key(spec.source)),
    }


def _key(source: str) -> str:
    return "parametric:" + hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


# -- running (the worker) ---------------------------------------------------------------------


def run_claimed(claimed) -> Any:
    """The worker's run of a claimed job: a primitive job, or a circuit job with its memory
    and seed (``backends.run_program``)."""
    primitive = getattr(claimed, "primitive", None)
    if not primitive:
        return backends.run_program(
            claimed.source,
            claimed.fmt,
            claimed.inputs,
            claimed.hardware_name,
            claimed.backend_config,
            claimed.shots,
            memory=bool(getattr(claimed, "memory", False)),
            seed=getattr(claimed, "seed_simulator", None),
        )
    return run_primitive(
        primitive,
        claimed.pubs,
        claimed.hardware_name,
        claimed.backend_config,
        memory=bool(getattr(claimed, "memory", False)),
        seed=getattr(claimed, "seed_simulator", None),
    )


def _nested(array, leaf) -> Any:
    """A numpy object array as nested JSON lists (its shape), ``leaf`` applied to each item."""
    if array.ndim == 0:
        return leaf(array[()])
    if array.ndim == 1:
        return [leaf(item) for item in array]
    return [_nested(array[i], leaf) for i in range(array.shape[0])]


def _prepared(pub: Pub, config: dict[str, Any], budget: int | None):
    """(circuit to run, the entry's config with its method, method) for one PUB."""
    circuit = pub.circuit.copy()
    method = backends.choose_method(config, resource_figures(circuit), budget or 2**40)
    refusal = budget and backends.memory_refusal(method, circuit.num_qubits, budget)
    if refusal:
        raise backends.SimulationError(refusal)
    if method != (config.get("method") or backends.AUTOMATIC):
        config = {**config, "method": method}
    return circuit, config, method


def _run_options(budget: int | None, seed: int | None) -> dict[str, Any]:
    options = dict(backends._run_options)
    if budget:
        options["max_memory_mb"] = budget
    if seed is not None:
        options["seed_simulator"] = seed
    return options


def _binds(compiled, bindings) -> tuple[list[dict] | None, int]:
    """Aer's ``parameter_binds`` for a circuit and a BindingsArray (one run for the sweep)."""
    size = int(math.prod(bindings.shape))
    params = list(compiled.parameters)
    if not params:
        return None, 1
    array = bindings.as_array([p.name for p in params]).reshape(-1, len(params))
    return [{p: array[:, i].tolist() for i, p in enumerate(params)}], size


def _aer_run(backend, circuit, binds, shots, options):
    try:
        kwargs = {"parameter_binds": binds} if binds else {}
        result = backend.run(circuit, shots=shots, **kwargs, **options).result()
    except MemoryError:
        raise backends.SimulationError(backends._memory_message(circuit, "this device"))
    except Exception as exc:
        raise backends.SimulationError(f"The simulator refused the circuit: {exc}")
    if not result.success:
        status = str(result.status or "")
        for experiment in getattr(result, "results", []) or []:
            status = str(getattr(experiment, "status", "") or status)
        raise backends.SimulationError(f"The simulator failed: {status.strip()}")
    return result


def _registers(compiled) -> list[tuple[str, list[int]]]:
    return [(reg.name, [compiled.find_bit(bit).index for bit in reg]) for reg in compiled.cregs]


def _value(whole: int, positions: list[int]) -> int:
    out = 0
    for j, pos in enumerate(positions):
        out |= ((whole >> pos) & 1) << j
    return out


# -- the sampler: NumPy sampling of ideal final states, Aer's shots otherwise -----------------

IDEAL_METHODS = ("statevector", "density_matrix", "matrix_product_state", "stabilizer")
MAX_IDEAL_QUBITS = 16  # measured qubits: 2^16 outcome probabilities a binding at most
MAX_IDEAL_PROBABILITIES = 2**22  # over a PUB's bindings (32 MB of float64)
RUNTIME_BIND_QUBITS = 14  # Aer's fusion threshold: below it, bind parameters at run time
_PROBABILITIES = "qh_probabilities"


def _ideal(config: dict[str, Any], backend, method: str) -> bool:
    """A noiseless entry whose method can report final-state probabilities."""
    if backends.is_device_like(config) or config.get("generic") or config.get("noise"):
        return False
    if getattr(backend.options, "noise_model", None) is not None:
        return False
    return method in IDEAL_METHODS


def _final_measurements(circuit) -> list[tuple[int, int]] | None:
    """The (qubit, clbit) pairs of a circuit whose measurements all come at its end, or None:
    gates (unitary), barriers and delays before them only, nothing but measurements and
    barriers on a qubit once measured, no reset, no classical control or classical data."""
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit.circuit import Gate

    measured: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for inst in circuit.data:
        name = inst.operation.name
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        if name == "measure":
            pairs.append((qubits[0], circuit.find_bit(inst.clbits[0]).index))
            measured.add(qubits[0])
            continue
        if name == "barrier":
            continue
        if inst.clbits or not (isinstance(inst.operation, Gate) or name == "delay"):
            return None  # reset, initialize, control flow, classical stores, save_* ...
        if measured.intersection(qubits):
            return None  # a gate after a measurement: mid-circuit
    return pairs


@dataclass
class _IdealPlan:
    """How one PUB samples in NumPy: the circuit that saves the measured qubits'
    probabilities, and each register's value for every outcome of those qubits."""

    run: Any  # the compiled circuit, measurements replaced by save_probabilities
    outcomes: int  # 2^(measured qubits)
    registers: list[tuple[str, int, Any, list[str], Any]]  # name, bits, inverse, keys, hex
    clbit_of: list[tuple[int, int]]  # (clbit, outcome bit) for the whole-clbit value


def _ideal_plan(compiled, config, backend, method: str, size: int) -> _IdealPlan | None:
    """The NumPy sampling plan of a PUB, or None where it must take Aer's shots: a noisy
    entry, a method without probabilities, a measurement before the end, too many measured
    qubits or probabilities, a register wider than 63 bits."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    if not _ideal(config, backend, method):
        return None
    pairs = _final_measurements(compiled)
    if not pairs or any(reg.size > 63 for reg in compiled.cregs):
        return None
    source = {clbit: qubit for qubit, clbit in pairs}  # the last measurement into a clbit wins
    qubits = sorted(set(source.values()))
    if len(qubits) > MAX_IDEAL_QUBITS or size * 2 ** len(qubits) > MAX_IDEAL_PROBABILITIES:
        return None
    bit_of = {q: j for j, q in enumerate(qubits)}  # outcome bit j is qubits[j]
    run = compiled.copy_empty_like()
    for inst in compiled.data:
        if inst.operation.name != "measure":
            run.append(inst)
    run.save_probabilities(qubits, label=_PROBABILITIES)
    outcome = np.arange(2 ** len(qubits), dtype=np.int64)
    registers = []
    for name, positions in _registers(compiled):
        values = np.zeros(outcome.shape, dtype=np.int64)
        for j, clbit in enumerate(positions):
            if clbit in source:  # a clbit never measured stays 0
                values |= ((outcome >> bit_of[source[clbit]]) & 1) << j
        unique, inverse = np.unique(values, return_inverse=True)
        width = len(positions)
        keys = [format(int(v), f"0{width}b") for v in unique]
        hexes = np.array([hex(int(v)) for v in unique], dtype=object)
        registers.append((name, width, inverse, keys, hexes))
    clbit_of = [(clbit, bit_of[qubit]) for clbit, qubit in sorted(source.items())]
    return _IdealPlan(run, 2 ** len(qubits), registers, clbit_of)


def _probabilities(plan: _IdealPlan, backend, binds, size: int, method: str, budget):
    """Each binding's outcome probabilities (size x 2^m), one Aer run at one shot."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    options = _run_options(budget, None)
    if binds and method != "stabilizer" and plan.run.num_qubits < RUNTIME_BIND_QUBITS:
        # One circuit bound at run time, not one copy a binding: half the run for small
        # circuits, whose runs are mostly per-binding set-up (wider ones keep Aer's default).
        options["runtime_parameter_bind_enable"] = True
    result = _aer_run(backend, plan.run, binds, 1, options)
    probs = np.empty((size, plan.outcomes))
    for k, experiment in enumerate(result.results):
        index = int((getattr(experiment, "metadata", None) or {}).get("bind_param_index", k))
        probs[index] = getattr(experiment.data, _PROBABILITIES)
    return probs, result


def _draw(cdf, uniforms):
    """Outcome indices: for each row, how many of its cumulative probabilities (all but the
    last, which is 1) each uniform reaches; an outcome of probability 0 is never drawn."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    rows, outcomes = cdf.shape
    if outcomes <= 16:  # a few comparisons a shot, all rows at once
        drawn = np.zeros(uniforms.shape, dtype=np.intp)
        for j in range(outcomes - 1):
            drawn += uniforms >= cdf[:, j : j + 1]
        return drawn
    return np.stack([np.searchsorted(cdf[k, :-1], uniforms[k], side="right") for k in range(rows)])


def _sample_ideal(plan: _IdealPlan, probs, shots: int, memory: bool, rng, compiled):
    """Counts (and samples) a register and binding, drawn from ``probs`` with ``rng``: the
    bindings in turn draw ``shots`` uniforms each from ``rng`` and look them up in their
    cumulative distributions, so the counts are the tally of the samples, memory or not."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    size = probs.shape[0]
    cdf = np.cumsum(np.clip(probs, 0.0, None), axis=1)
    cdf /= cdf[:, -1:]
    counts = {name: np.empty(size, dtype=object) for name, *_ in plan.registers}
    samples = {name: np.empty(size, dtype=object) for name, *_ in plan.registers}
    chunk = max(1, 2**20 // shots)  # bindings drawn at once: at most ~1M uniforms (8 MB)
    first: dict[int, int] = {}
    for start in range(0, size, chunk):
        rows = slice(start, min(size, start + chunk))
        drawn = _draw(cdf[rows], rng.random((rows.stop - start, shots)))
        if start == 0:
            tally = np.bincount(drawn[0], minlength=plan.outcomes)
            first = {int(o): int(tally[o]) for o in np.flatnonzero(tally)}
        n = rows.stop - start
        for name, _, inverse, keys, hexes in plan.registers:
            values = inverse[drawn]
            width = len(keys)
            offsets = (np.arange(n) * width)[:, None]
            tallies = np.bincount((values + offsets).ravel(), minlength=n * width)
            tallies = tallies.reshape(n, width).tolist()
            for i, row in enumerate(tallies):
                counts[name][start + i] = {keys[u]: c for u, c in enumerate(row) if c}
            if memory:
                for i, row in enumerate(hexes[values].tolist()):
                    samples[name][start + i] = row
    return counts, samples, _job_page_counts(first, plan, compiled)


def _job_page_counts(first: dict[int, int], plan: _IdealPlan, compiled) -> dict[str, int]:
    """The first binding's counts keyed as Aer's ``get_counts`` keys them (registers apart)."""
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit.result.postprocess import format_counts_memory

    header = {
        "creg_sizes": [[reg.name, reg.size] for reg in compiled.cregs],
        "memory_slots": compiled.num_clbits,
    }
    out: dict[str, int] = {}
    for o, n in first.items():
        whole = 0
        for clbit, bit in plan.clbit_of:
            whole |= ((o >> bit) & 1) << clbit
        key = format_counts_memory(hex(whole), header)
        out[key] = out.get(key, 0) + n
    return out


def _sample_aer(backend, compiled, binds, size, shots, memory, seed, budget, registers):
    """Counts (and samples) a register and binding from Aer's own shots."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    options = _run_options(budget, seed)
    if memory:
        options["memory"] = True
    result = _aer_run(backend, compiled, binds, shots, options)
    per_reg_counts = {name: np.empty(size, dtype=object) for name, _ in registers}
    per_reg_samples = {name: np.empty(size, dtype=object) for name, _ in registers}
    first_counts: dict[str, int] = {}
    for k in range(size):
        experiment = result.results[k]
        raw_counts = {int(h, 16): int(n) for h, n in experiment.data.counts.items()}
        if k == 0:
            first_counts = {
                str(key): int(n) for key, n in result.get_counts(0).items()
            }  # Aer's keys, for the job page
        for name, positions in registers:
            width = len(positions)
            tally: Counter[str] = Counter()
            for whole, n in raw_counts.items():
                tally[format(_value(whole, positions), f"0{width}b")] += n
            per_reg_counts[name][k] = dict(sorted(tally.items()))
            if memory:
                shots_hex = experiment.data.memory
                per_reg_samples[name][k] = [hex(_value(int(h, 16), positions)) for h in shots_hex]
    return per_reg_counts, per_reg_samples, first_counts, result


def _sampler_pub(pub, hardware_name, config, memory, seed, budget, rng):
    """One sampler PUB: (its result document, the first binding's counts for the job page,
    seconds). On a noiseless entry a circuit measured only at its end runs once at one shot
    for each binding's final-state probabilities, and its shots are drawn in NumPy from
    ``rng`` (``sampling: numpy``); otherwise Aer runs the shots (``sampling: aer``)."""
    circuit, config, method = _prepared(pub, config, budget)
    if circuit.num_clbits == 0:
        circuit.measure_all()
    compiled, cached = backends.prepare(circuit, hardware_name, config, _key(pub.source))
    backend = backends.backend_for(hardware_name, config)
    binds, size = _binds(compiled, pub.qiskit.parameter_values)
    shots = pub.qiskit.shots
    registers = _registers(compiled)
    started = time.perf_counter()
    plan = _ideal_plan(compiled, config, backend, method, size)
    if plan is not None:
        probs, result = _probabilities(plan, backend, binds, size, method, budget)
        per_reg_counts, per_reg_samples, first_counts = _sample_ideal(
            plan, probs, shots, memory, rng, compiled
        )
        seconds = time.perf_counter() - started  # Aer's probabilities and NumPy's shots
    else:
        per_reg_counts, per_reg_samples, first_counts, result = _sample_aer(
            backend, compiled, binds, size, shots, memory, seed, budget, registers
        )
        seconds = float(getattr(result, "time_taken", 0.0) or (time.perf_counter() - started))
    shape = tuple(pub.qiskit.shape)
    data: dict[str, Any] = {}
    for name, positions in registers:
        entry: dict[str, Any] = {
            "num_bits": len(positions),
            "counts": _nested(per_reg_counts[name].reshape(shape), lambda x: x),
        }
        if memory:
            entry["samples"] = _nested(per_reg_samples[name].reshape(shape), lambda x: x)
        data[name] = entry
    metadata = {
        "shots": shots,
        "shape": list(shape),
        "bindings": size,
        "method": method,
        "sampling": "numpy" if plan is not None else "aer",
        "transpiled": backends._figures(compiled),
        "transpile_cached": cached,
        "circuit_metadata": dict(pub.circuit.metadata or {}),
    }
    return {"data": data, "metadata": metadata}, first_counts, seconds


def _estimator_pub(pub, hardware_name, config, seed, budget) -> tuple[dict, float]:
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    circuit, config, method = _prepared(pub, config, budget)
    circuit.remove_final_measurements(inplace=True)
    qp = pub.qiskit
    started = time.perf_counter()
    if backends.is_device_like(config):
        # Shot estimates on the noisy backend: Qiskit's BackendEstimatorV2, transpiled first.
        from qiskit.primitives import BackendEstimatorV2

        key = _key(pub.source) + ":estimator"  # no measurements: not the sampler's
        compiled, cached = backends.prepare(circuit, hardware_name, config, key)
        backend = backends.backend_for(hardware_name, config)
        options = {"default_precision": qp.precision}
        if seed is not None:
            options["seed_simulator"] = seed
        estimator = BackendEstimatorV2(backend=backend, options=options)
        observables = qp.observables.apply_layout(compiled.layout)
        try:
            res = estimator.run(
                [(compiled, observables, qp.parameter_values, qp.precision)]
            ).result()[0]
        except Exception as exc:
            raise backends.SimulationError(f"The simulator refused the circuit: {exc}")
        evs, stds = np.asarray(res.data.evs, float), np.asarray(res.data.stds, float)
        circuits, shots = estimator_shots(pub)
        meta = {"shots": shots, "circuits": circuits, "exact": False}
        transpiled, cached_flag = backends._figures(compiled), cached
    else:
        # Exact values from the simulator's state (no shots).
        from qiskit.quantum_info import Pauli

        backend = backends.backend_for(hardware_name, config)
        run = backends._decompose_unknown(circuit, backend)
        paulis = sorted({p for obs in qp.observables.ravel() for p in obs})
        for pauli in paulis:
            run.save_expectation_value(Pauli(pauli), qubits=range(run.num_qubits), label=pauli)
        binds, size = _binds(run, qp.parameter_values)
        result = _aer_run(backend, run, binds, 1, _run_options(budget, seed))
        shape = qp.parameter_values.shape
        indices = np.fromiter(np.ndindex(shape), dtype=object).reshape(shape)
        flat = {t: i for i, t in enumerate(indices.ravel())}
        bc_ind, bc_obs = np.broadcast_arrays(indices, qp.observables)
        evs = np.zeros(bc_ind.shape, dtype=float)
        for where in np.ndindex(*bc_ind.shape):
            values = result.data(flat[bc_ind[where]])
            evs[where] = sum(float(np.real(values[p])) * c for p, c in bc_obs[where].items())
        stds = np.zeros(evs.shape)
        meta = {"shots": 0, "circuits": size, "exact": True}
        transpiled, cached_flag = backends._figures(run), False
    seconds = time.perf_counter() - started
    data = {
        "evs": evs.tolist(),
        "stds": stds.tolist(),
        "ensemble_standard_error": stds.tolist(),
    }
    metadata = {
        **meta,
        "target_precision": qp.precision,
        "shape": list(evs.shape),
        "method": method,
        "transpiled": transpiled,
        "transpile_cached": cached_flag,
        "circuit_metadata": dict(pub.circuit.metadata or {}),
    }
    return {"data": data, "metadata": metadata}, seconds


def run_primitive(
    primitive: str,
    pubs: list[Any],
    hardware_name: str,
    config: dict[str, Any] | None,
    *,
    memory: bool = False,
    seed: int | None = None,
) -> RunOutcome:
    """Run a primitive job's PUBs (each one Aer run) and shape the results as IBM's Runtime
    REST API does: ``results[i].data.<register>.counts/samples`` (sampler),
    ``results[i].data.evs/stds/ensemble_standard_error`` (estimator)."""
    # Deferred: numpy (with Qiskit) is imported on first use.
    import numpy as np

    config = config or {}
    budget = _budget_mb()
    parsed = parse_pubs(primitive, pubs, default_shots=1)  # stored PUBs are complete
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)  # recorded: any run can be repeated
    rng = np.random.default_rng(seed)  # the NumPy-sampled PUBs draw from it in turn
    results, seconds, counts = [], 0.0, {}
    started = time.perf_counter()
    for pub in parsed:
        if primitive == SAMPLER:
            doc, first, took = _sampler_pub(pub, hardware_name, config, memory, seed, budget, rng)
            counts = counts or first
        else:
            doc, took = _estimator_pub(pub, hardware_name, config, seed, budget)
        seconds += took
        results.append(doc)
    wall_ms = round((time.perf_counter() - started) * 1e3, 3)
    first_meta = results[0]["metadata"]
    return RunOutcome(
        counts=counts,
        execution_seconds=seconds,
        transpiled=first_meta.get("transpiled") or {},
        timings_ms={"run_ms": wall_ms},
        transpile_cached=bool(first_meta.get("transpile_cached")),
        method=first_meta.get("method"),
        extra={
            "primitive": primitive,
            "results": results,
            "seed_simulator": seed,
            "noise_model_version": noise_model_version(hardware_name, config),
        },
    )


def result_fields(job, data: dict[str, Any]) -> dict[str, Any]:
    """The result document's primitive and reproducibility fields (and the stored results
    moved out of ``metadata``, which keeps the run's figures only)."""
    return {
        "primitive": job.primitive,
        "results": data.pop("results", None),
        "memory": data.pop("memory", None),
        "seed_simulator": data.pop("seed_simulator", job.seed_simulator),
        "noise_model_version": data.pop("noise_model_version", job.noise_model_version),
    }


def quote_program(
    device: str, shots: Any, source: str, fmt: str | None, inputs: dict[str, Any] | None
) -> dict[str, Any]:
    """Price and transpile preview of one program on ``device`` (what the estimate endpoint
    answers for a circuit; the IDE shows it next to the Run button). ValidationFailed for a
    bad device, shots, program or a circuit that does not fit."""
    hardware = get_hardware(device)
    shots = check_shots(hardware, shots)
    circuit = parse_program(source, fmt, inputs)
    figures = resource_figures(circuit)
    figures["method"] = check_fits(hardware, figures)
    return {
        "device": hardware.name,
        "shots": shots,
        "estimated_cost": estimate_cost(hardware, shots),
        "currency": "USD",
        "circuit": figures,
        "transpile": transpile_preview(hardware, circuit, program_hash(source, fmt, inputs)),
    }
