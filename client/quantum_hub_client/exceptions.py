"""Typed errors for the API's error envelope ``{"error": {"code", "message", "details"}}``.

Every error the portal answers becomes one of these, carrying the HTTP status, the API's
machine ``code``, its ``message`` and ``details``; a program error keeps its ``line`` and
``column``. They are ``QiskitError`` subclasses, so code that catches Qiskit errors catches them.
"""

from __future__ import annotations

from typing import Any

from qiskit.exceptions import QiskitError
from qiskit.providers import JobError, JobTimeoutError


class QuantumHubError(QiskitError):
    """An error answered by the Quantum Hub API (or the connection to it)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details

    def __str__(self) -> str:
        prefix = f"[{self.status} {self.code}] " if self.status else ""
        return prefix + self.message


class HubConnectionError(QuantumHubError):
    """The portal could not be reached (refused, timed out, DNS)."""


class AuthenticationError(QuantumHubError):
    """401: no, a wrong or an expired token or key."""


class PaymentRequiredError(QuantumHubError):
    """402: the account cannot pay for the run."""


class PermissionDeniedError(QuantumHubError):
    """403: signed in, but not allowed (role, key scope)."""


class NotFoundError(QuantumHubError):
    """404: no such device or job (or not yours)."""


class ConflictError(QuantumHubError):
    """409: the job is in the wrong state (already finished, result not ready)."""


class RequestValidationError(QuantumHubError):
    """422: invalid fields, or the circuit does not fit the device."""


class ProgramError(RequestValidationError):
    """422 ``program_error``: the OpenQASM program cannot be read; ``line`` and ``column``
    (1-based) say where."""

    @property
    def line(self) -> int | None:
        return (self.details or {}).get("line")

    @property
    def column(self) -> int | None:
        return (self.details or {}).get("column")


class RateLimitError(QuantumHubError):
    """429: too many requests; ``retry_after`` seconds until the next may pass."""

    retry_after: int | None = None


class ServerError(QuantumHubError):
    """5xx: the portal failed or is unavailable."""


class JobFailedError(QuantumHubError, JobError):
    """The job ran and FAILED (``message`` is the portal's failure reason)."""


class JobCancelledError(QuantumHubError, JobError):
    """The job was CANCELLED before it finished; it has no result."""


class JobTimeout(QuantumHubError, JobTimeoutError):
    """``result(timeout=...)`` ran out before the job finished."""


_BY_STATUS = {
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: RequestValidationError,
    429: RateLimitError,
}


def error_from_response(status: int, body: Any, headers: Any = None) -> QuantumHubError:
    """The typed exception for an error response (``body`` is the decoded JSON, if any)."""
    envelope = body.get("error") if isinstance(body, dict) else None
    if isinstance(envelope, dict):
        code = envelope.get("code")
        message = envelope.get("message") or f"HTTP {status}"
        details = envelope.get("details")
    else:
        code, message, details = None, f"HTTP {status}: {str(body)[:200]}", None
    if code == "program_error":
        cls: type[QuantumHubError] = ProgramError
    elif status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, QuantumHubError)
    error = cls(message, status=status, code=code, details=details)
    if isinstance(error, RateLimitError) and headers is not None:
        retry = headers.get("Retry-After")
        error.retry_after = int(retry) if retry and retry.isdigit() else None
    return error
