"""Marshmallow schemas of the execution API (they validate and document in one place)."""

from __future__ import annotations

import decimal

from marshmallow import Schema, fields, validate

from portal.core.apipaging import PageArgs, PageMeta
from portal.core.inputs import Int
from portal.core.paging import MAX_PER_PAGE
from portal.execution.calibration import calibration_document
from portal.execution.models import HardwareStatus, HardwareTechnology, JobRunMode, JobStatus

GHZ_EXAMPLE = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\n'
    "h q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n"
)


class HardwareArgs(PageArgs):
    status = fields.Enum(HardwareStatus, metadata={"example": "ONLINE"})
    technology = fields.Enum(HardwareTechnology, metadata={"example": "SIMULATOR"})
    min_qubits = Int(validate=validate.Range(min=1), metadata={"example": 5})
    per_page = Int(load_default=50, validate=validate.Range(1, MAX_PER_PAGE))


class HardwareSchema(Schema):
    id = fields.UUID()
    name = fields.String(metadata={"example": "aer-simulator"})
    provider = fields.String(metadata={"example": "Qiskit Aer"})
    technology_type = fields.Enum(HardwareTechnology, data_key="technology")
    platform = fields.Function(lambda h: h.platform.value, metadata={"example": "AER"})
    description = fields.String()
    status = fields.Enum(HardwareStatus)
    qubits = fields.Integer(metadata={"example": 30})
    connectivity_map = fields.Raw(
        metadata={"description": "Directed qubit pairs [[a, b], ...]; null = all-to-all"}
    )
    gate_set = fields.List(fields.String(), metadata={"example": ["h", "cx", "measure"]})
    average_queue_time = fields.Integer(metadata={"description": "minutes"})
    cost_per_hour = fields.Decimal(as_string=True, metadata={"example": "1.00"})
    cost_per_shot = fields.Decimal(as_string=True, metadata={"example": "0.000010"})
    cost_per_job = fields.Decimal(as_string=True, metadata={"example": "0.01"})
    min_shots = fields.Integer()
    max_shots = fields.Integer()
    device_like = fields.Function(lambda h: bool((h.backend_config or {}).get("device")))
    error_figures = fields.Function(
        lambda h: _calibration(h),
        metadata={
            "description": "Device-like entries: per qubit t1_us, t2_us, readout_error, "
            "gate_error_1q; per coupling (edges) the 2-qubit gate's error; null for a "
            "noiseless simulator"
        },
    )
    documentation_url = fields.String()


def _calibration(hardware):
    return calibration_document(hardware)


class HardwarePageSchema(PageMeta):
    items = fields.List(fields.Nested(HardwareSchema))


class ProgramSchema(Schema):
    format = fields.String(
        validate=validate.OneOf(["qasm2", "qasm3"]), metadata={"example": "qasm2"}
    )
    source = fields.String(required=True, metadata={"example": GHZ_EXAMPLE})


SAMPLER_PUBS_EXAMPLE = [
    [
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nbit[2] c;\n'
        "qubit[2] q;\nrx(theta) q[0];\ncx q[0], q[1];\nc = measure q;\n",
        [[0.0], [1.5708], [3.1416]],
        1024,
    ]
]
PUBS_DESCRIPTION = (
    "With `primitive`: the PUBs, as IBM's Runtime REST API takes them. Sampler: "
    "`[<OpenQASM 3>, <parameter values>, <shots>]`; estimator: `[<OpenQASM 3>, "
    "<observables>, <parameter values>, <precision>]`. The program's `input float`/`angle` "
    "declarations are its parameters; parameter values are an array whose last axis has one "
    'value per parameter (sorted by name), or an object `{"theta": [...], "a,b": '
    "[[...]]}`; they broadcast as Qiskit's BindingsArray does (one job runs the whole sweep). "
    'Observables: `"ZZ"`, `{"ZZ": 1.0}`, `[["ZZ", 1.0], ["XX", 0.5]]` '
    "(SparsePauliOp list form) or an array of those. Shots default to `shots`, precision "
    "to `options.default_precision` (0.015625). Limits: docs/limits.md (max 100 PUBs, 10,000 "
    "bindings, 5,000,000 shots, 200,000 per-shot samples)."
)


class PrimitiveOptionsSchema(Schema):
    default_shots = Int(minimum=1, metadata={"example": 1024})
    default_precision = fields.Float(
        validate=validate.Range(min=0.001, max=1), metadata={"example": 0.015625}
    )
    seed_simulator = Int(minimum=0, maximum=2**63 - 1, metadata={"example": 42})
    memory = fields.Boolean(metadata={"description": "Return per-shot samples"})


class PrimitiveFields(Schema):
    """The primitive and reproducibility fields shared by a submission and an estimate."""

    primitive = fields.String(
        validate=validate.OneOf(["sampler", "estimator"]),
        metadata={"description": "Run Qiskit primitive PUBs instead of one program"},
    )
    pubs = fields.List(
        fields.Raw(), metadata={"description": PUBS_DESCRIPTION, "example": SAMPLER_PUBS_EXAMPLE}
    )
    memory = fields.Boolean(
        metadata={
            "description": "Keep each shot's outcome: `memory` (hex) in a circuit job's "
            "result, `results[i].data.<register>.samples` in a sampler job's"
        }
    )
    seed_simulator = Int(
        allow_none=True,
        minimum=0,
        maximum=2**63 - 1,
        metadata={"description": "The same seed gives the same counts", "example": 42},
    )
    options = fields.Nested(
        PrimitiveOptionsSchema,
        metadata={"description": "Runtime-style options (default_shots, default_precision, "
                  "seed_simulator, memory)"},
    )  # fmt: skip


class JobCreateSchema(PrimitiveFields):
    program = fields.Nested(ProgramSchema)
    app_version_id = fields.UUID(metadata={"description": "Run a quantum app version instead"})
    inputs = fields.Dict(
        keys=fields.String(), metadata={"example": {}, "description": "QASM 3 input values"}
    )
    device = fields.String(required=True, metadata={"example": "aer-simulator"})
    shots = Int(load_default=1024, minimum=1, metadata={"example": 1024})
    run_mode = fields.Enum(JobRunMode, load_default=JobRunMode.ASYNC)
    tags = fields.List(fields.String(validate=validate.Length(max=50)), metadata={"example": []})
    notification_email = fields.Email(allow_none=True)
    name = fields.String(validate=validate.Length(max=100))
    webhook_url = fields.String(
        allow_none=True,
        metadata={
            "example": "https://example.com/hooks/quantum-hub",
            "description": "http(s) URL the job's final state is POSTed to, signed "
            "(QH-Signature, docs/webhooks.md); not with a subscription key",
        },
    )


class EstimateArgs(PrimitiveFields):
    device = fields.String(required=True, metadata={"example": "aer-simulator"})
    shots = Int(load_default=1024, minimum=1, metadata={"example": 1024})
    program = fields.Nested(ProgramSchema)
    inputs = fields.Dict(keys=fields.String())


class EstimateSchema(Schema):
    device = fields.String()
    shots = fields.Integer()
    estimated_cost = fields.Decimal(as_string=True, metadata={"example": "0.02"})
    currency = fields.String(metadata={"example": "USD"})
    circuit = fields.Dict(
        allow_none=True,
        metadata={"description": "qubits, depth, size, gate counts (null without a program)"},
    )
    transpile = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The circuit as it would run on the device (transpiled for a "
            "device-like entry): depth, size, two_qubit_gates, gate_counts",
            "example": {"device": "falcon-27-noisy", "transpiled": True, "depth": 7,
                        "size": 9, "two_qubit_gates": 1, "gate_counts": {"rz": 3}},
        },
    )  # fmt: skip
    primitive = fields.Dict(
        allow_none=True,
        metadata={"description": "For a primitive job: kind, per PUB shape, bindings and "
                  "priced shots, and the limits"},
    )  # fmt: skip


class JobSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    status = fields.Enum(JobStatus)
    device = fields.String(attribute="device_id", metadata={"example": "aer-simulator"})
    hardware_id = fields.UUID()
    subscription_id = fields.UUID(allow_none=True)
    app_version_id = fields.UUID(allow_none=True)
    program_format = fields.String()
    program_source = fields.String(
        attribute="shown_source",
        allow_none=True,
        dump_only=True,
        metadata={"description": "The OpenQASM program (job detail only); null for a job of "
                  "another developer's app, which shows as `app` instead"},
    )  # fmt: skip
    app = fields.String(
        attribute="app_label",
        allow_none=True,
        dump_only=True,
        metadata={"description": "For a job of an app version: 'app X, version Y'"},
    )
    shots = fields.Integer()
    run_mode = fields.Enum(JobRunMode)
    tags = fields.Method("_tags", metadata={"type": "array", "items": {"type": "string"}})
    inputs = fields.Dict(allow_none=True)
    notification_email = fields.String(allow_none=True)
    webhook_url = fields.String(allow_none=True)
    estimated_cost = fields.Decimal(as_string=True)
    actual_cost = fields.Decimal(as_string=True, allow_none=True)
    failure_reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()
    queued_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    queue_position = fields.Integer(allow_none=True, dump_only=True)
    estimated_wait_seconds = fields.Float(
        allow_none=True,
        dump_only=True,
        metadata={"description": "While queued: median recent run time * position / workers"},
    )
    result_url = fields.String(dump_only=True)
    primitive = fields.String(allow_none=True, metadata={"example": "sampler"})
    memory = fields.Boolean()
    seed_simulator = fields.Integer(allow_none=True)
    noise_model_version = fields.String(
        allow_none=True, metadata={"description": "What the device's noise came from"}
    )

    def _tags(self, job) -> list[str]:
        return job.tags or []  # a job without tags stores NULL; the API always lists


def _text(value) -> str | None:
    return None if value is None else str(value)


def _decimal(value) -> str | None:
    return None if value is None else format(decimal.Decimal(str(value)), "f")


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def job_item(job) -> dict:
    """What ``JobSchema().dump(job)`` gives, built without marshmallow's per-field machinery
    (a list page dumps 20 jobs: that was a third of the request's CPU). Keep the two in step:
    tests/unit/execution/test_job_item.py compares them field by field."""
    return {
        "id": _text(job.id),
        "name": _text(job.name),
        "status": None if job.status is None else job.status.name,
        "device": _text(job.device_id),
        "hardware_id": _text(job.hardware_id),
        "subscription_id": _text(job.subscription_id),
        "app_version_id": _text(job.app_version_id),
        "program_format": _text(job.program_format),
        "program_source": _text(job.shown_source),
        "app": _text(job.app_label),
        "shots": None if job.shots is None else int(job.shots),
        "run_mode": None if job.run_mode is None else job.run_mode.name,
        "tags": job.tags or [],
        "inputs": None if job.inputs is None else dict(job.inputs),
        "notification_email": _text(job.notification_email),
        "webhook_url": _text(job.webhook_url),
        "estimated_cost": _decimal(job.estimated_cost),
        "actual_cost": _decimal(job.actual_cost),
        "failure_reason": _text(job.failure_reason),
        "attempts": None if job.attempts is None else int(job.attempts),
        "created_at": _iso(job.created_at),
        "queued_at": _iso(job.queued_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "queue_position": None if job.queue_position is None else int(job.queue_position),
        "estimated_wait_seconds": (
            None if job.estimated_wait_seconds is None else float(job.estimated_wait_seconds)
        ),
        "result_url": _text(job.result_url),
        "primitive": _text(job.primitive),
        "memory": job.memory,
        "seed_simulator": None if job.seed_simulator is None else int(job.seed_simulator),
        "noise_model_version": _text(job.noise_model_version),
    }


class JobListArgs(PageArgs):
    status = fields.Enum(JobStatus)
    device = fields.String(validate=validate.Length(max=100))
    tag = fields.String(validate=validate.Length(max=50))
    app_id = fields.UUID(metadata={"description": "Jobs of any version of this app"})
    date_from = fields.Date(
        data_key="from", metadata={"description": "Submitted on or after this day (UTC)"}
    )
    date_to = fields.Date(data_key="to", metadata={"description": "Submitted on or before (UTC)"})
    q = fields.String(
        validate=validate.Length(max=100),
        metadata={"description": "A part of the name or a tag, or the job id"},
    )


class JobTagsSchema(Schema):
    tags = fields.List(
        fields.String(validate=validate.Length(max=50)),
        required=True,
        metadata={"example": ["bell", "paper-2"], "description": "Replaces the job's tags"},
    )


class JobPageSchema(PageMeta):
    items = fields.List(fields.Nested(JobSchema))


class ResultSchema(Schema):
    job_id = fields.String()
    status = fields.String(metadata={"example": "COMPLETED"})
    device = fields.String()
    shots = fields.Integer()
    counts = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"example": {"000": 511}}
    )
    execution_time = fields.Float(metadata={"description": "seconds on the simulator"})
    transpiled_depth = fields.Integer(allow_none=True)
    transpiled_size = fields.Integer(allow_none=True)
    metadata = fields.Dict()
    error = fields.String(allow_none=True)
    primitive = fields.String(allow_none=True, metadata={"example": "sampler"})
    results = fields.List(
        fields.Dict(),
        allow_none=True,
        metadata={
            "description": "A primitive job's results, one per PUB (IBM Runtime REST shape). "
            "Sampler: `data.<register>` = {num_bits, counts, samples (hex, with memory)}, "
            "counts and samples nested in the PUB's shape; estimator: `data` = {evs, stds, "
            "ensemble_standard_error} in the PUB's shape. `metadata`: shots, "
            "target_precision, exact, shape, method, transpiled figures; a sampler PUB's "
            "sampling: numpy (an ideal simulator's final-state probabilities, shots drawn "
            "with NumPy from the seed) or aer (Aer's shots)",
            "example": [{"data": {"c": {"num_bits": 2, "counts": {"00": 3, "11": 1},
                                        "samples": ["0x0", "0x3", "0x0", "0x0"]}},
                         "metadata": {"shots": 4, "shape": []}}],
        },
    )  # fmt: skip
    memory = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "Per-shot outcomes (hex) of a circuit job run with memory"},
    )
    seed_simulator = fields.Integer(allow_none=True, metadata={"description": "Aer's seed"})
    noise_model_version = fields.String(allow_none=True)
