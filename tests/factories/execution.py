"""Factories for the execution domain: catalogue entries and jobs."""

from decimal import Decimal

import factory

from portal.core.db import utcnow
from portal.execution.models import (
    Hardware,
    HardwarePlatform,
    HardwareStatus,
    HardwareTechnology,
    Job,
    JobRunMode,
    JobStatus,
)
from tests.factories import BaseFactory
from tests.factories.accounts import UserFactory

BELL_QASM2 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
    "h q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"
)


class HardwareFactory(BaseFactory):
    class Meta:
        model = Hardware

    name = factory.Sequence(lambda n: f"test-sim-{n}")
    provider = "Qiskit Aer"
    technology_type = HardwareTechnology.SIMULATOR
    platform = HardwarePlatform.AER
    status = HardwareStatus.ONLINE
    qubits = 10
    gate_set = factory.LazyFunction(lambda: ["h", "cx", "measure"])
    cost_per_hour = Decimal("1.00")
    cost_per_shot = Decimal("0.000010")
    cost_per_job = Decimal("0.01")
    min_shots = 1
    max_shots = 10_000
    backend_config = factory.LazyFunction(lambda: {"method": "automatic"})


class JobFactory(BaseFactory):
    class Meta:
        model = Job

    user = factory.SubFactory(UserFactory)
    hardware = factory.SubFactory(HardwareFactory)
    platform = "AER"
    device_id = factory.LazyAttribute(lambda j: j.hardware.name)
    run_mode = JobRunMode.ASYNC
    status = JobStatus.QUEUED
    program_format = "qasm2"
    program_source = BELL_QASM2
    shots = 100
    estimated_cost = Decimal("0.01")
    queued_at = factory.LazyFunction(utcnow)
    name = "bell"
