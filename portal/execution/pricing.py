"""What a run costs and whether a device can take it: the estimate, the charge, the plan
fee rule, and the checks of shots, availability and fit (qubits, gates, memory).

Pure rules on a catalogue entry and a circuit's figures: no database or queue I/O. The
submission, the quote endpoints (``primitives``), the pages and the worker's charge all
price through here, so a price is computed one way.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from portal.core.errors import ValidationFailed
from portal.core.programs import CLIFFORD
from portal.execution.backends import choose_method, memory_refusal, state_bytes
from portal.execution.memory import memory_budget_mb
from portal.execution.models import Hardware, HardwareStatus

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def estimate_cost(hardware: Hardware, shots: int) -> Decimal:
    """Price before running: the per-job fee plus the per-shot price, rounded to cents."""
    per_job = hardware.cost_per_job or Decimal(0)
    per_shot = hardware.cost_per_shot or Decimal(0)
    return (per_job + per_shot * shots).quantize(CENT, rounding=ROUND_HALF_UP)


def actual_cost(hardware: Hardware, shots: int, seconds: float) -> Decimal:
    """What the run cost: the estimate plus compute time at the device's hourly price."""
    per_hour = hardware.cost_per_hour or Decimal(0)
    compute = per_hour * Decimal(str(round(seconds, 6))) / Decimal(3600)
    return (estimate_cost(hardware, shots) + compute).quantize(CENT, rounding=ROUND_HALF_UP)


def run_fee(device_fee: Decimal, subscription: Any) -> Decimal:
    """What a run costs its user in device fees. A Marketplace run under a subscription (trial,
    monthly, annual or pay-as-you-go, given as the subscription or its id) costs nothing: the
    plan's price includes the device fee, as every pricing card says. Any other run pays the
    device's fee."""
    return ZERO if subscription is not None else device_fee


def check_shots(hardware: Hardware, shots: Any) -> int:
    if isinstance(shots, bool) or not isinstance(shots, int):
        raise ValidationFailed("shots must be a whole number.", details={"shots": "integer"})
    low, high = hardware.min_shots or 1, hardware.max_shots or 100_000
    if not low <= shots <= high:
        raise ValidationFailed(
            f"{hardware.name} takes between {low} and {high} shots; you asked for {shots}.",
            details={"shots": f"between {low} and {high}"},
        )
    return shots


def check_available(hardware: Hardware) -> None:
    if hardware.status is not HardwareStatus.ONLINE:
        raise ValidationFailed(
            f"{hardware.name} is {hardware.status.value.lower()} and takes no jobs; pick an "
            "online device (GET /api/v1/hardware?status=ONLINE).",
            code="device_unavailable",
            details={"device": hardware.name, "status": hardware.status.value},
        )


def check_fits(hardware: Hardware, figures: dict[str, Any]) -> str:
    """The circuit must fit the device: qubits, Clifford gates on the stabilizer method, and
    its state in the workers' memory budget (QH_WORKER_MEMORY_MB) with the method it will run
    with. Returns that method (``backends.choose_method``)."""
    if hardware.qubits is not None and figures["qubits"] > hardware.qubits:
        raise ValidationFailed(
            f"The circuit uses {figures['qubits']} qubits but {hardware.name} has "
            f"{hardware.qubits}. Pick a larger device or use fewer qubits.",
            code="too_many_qubits",
            details={"qubits": figures["qubits"], "device_qubits": hardware.qubits},
        )
    method = (hardware.backend_config or {}).get("method")
    if method == "stabilizer":
        other = sorted(set(figures["gate_counts"]) - CLIFFORD)
        if other:
            raise ValidationFailed(
                f"{hardware.name} simulates Clifford circuits only; this one uses "
                f"{', '.join(other)}. Pick aer-simulator instead.",
                code="unsupported_gates",
                details={"gates": other},
            )
    budget = memory_budget_mb()
    chosen = choose_method(hardware.backend_config, figures, budget)
    refusal = memory_refusal(chosen, figures["qubits"], budget)
    if refusal:
        raise ValidationFailed(
            refusal,
            code="not_enough_memory",
            details={
                "qubits": figures["qubits"],
                "method": chosen,
                "state_bytes": state_bytes(chosen, figures["qubits"]),
                "memory_budget_mb": budget,
            },
        )
    return chosen
