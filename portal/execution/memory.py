"""The workers' memory budget (``QH_WORKER_MEMORY_MB``), shared by jobs and IDE build checks.

A state vector of n qubits takes 16 x 2^n bytes (complex128 amplitudes), a density matrix
16 x 4^n. Anything whose state would not fit the budget is refused in the request, with the
figure, before it reaches a worker; the worker also hands the budget to Aer
(``max_memory_mb``) so a run never grows into the worker's death.
"""

from __future__ import annotations

import math

from flask import current_app

BYTES_PER_AMPLITUDE = 16  # a complex128 amplitude


def statevector_bytes(qubits: int) -> int:
    return BYTES_PER_AMPLITUDE * 2**qubits


def density_matrix_bytes(qubits: int) -> int:
    return BYTES_PER_AMPLITUDE * 4**qubits


def memory_budget_mb() -> int:
    return int(current_app.config["WORKER_MEMORY_MB"])


def max_qubits(budget_mb: int) -> int:
    """The most qubits whose state vector fits ``budget_mb`` MiB."""
    return math.floor(math.log2(max(budget_mb, 1) * 2**20 / BYTES_PER_AMPLITUDE))


def size_text(n: int) -> str:
    """Bytes for people: 4 GiB, 1.5 GiB, 512 MiB."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            value = n / scale
            return (
                f"{value:,.0f} {unit}"
                if value >= 10 or value.is_integer()
                else f"{value:.1f} {unit}"
            )
    return f"{n} bytes"
