"""Marshmallow schemas of the execution API (they validate and document in one place)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.api.paging import PageArgs
from portal.core.inputs import Int
from portal.core.paging import MAX_PER_PAGE
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
    documentation_url = fields.String()


class HardwarePageSchema(Schema):
    items = fields.List(fields.Nested(HardwareSchema))
    total = fields.Integer(metadata={"example": 8})
    page = fields.Integer(metadata={"example": 1})
    per_page = fields.Integer(metadata={"example": 50})


class ProgramSchema(Schema):
    format = fields.String(
        validate=validate.OneOf(["qasm2", "qasm3"]), metadata={"example": "qasm2"}
    )
    source = fields.String(required=True, metadata={"example": GHZ_EXAMPLE})


class JobCreateSchema(Schema):
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


class EstimateArgs(Schema):
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

    def _tags(self, job) -> list[str]:
        return job.tags or []  # a job without tags stores NULL; the API always lists


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


class JobPageSchema(Schema):
    items = fields.List(fields.Nested(JobSchema))
    total = fields.Integer(metadata={"example": 1})
    page = fields.Integer(metadata={"example": 1})
    per_page = fields.Integer(metadata={"example": 20})


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
