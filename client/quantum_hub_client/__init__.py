"""Quantum Hub from Qiskit: the portal's devices as ``BackendV2`` backends with a ``Target``,
its jobs as ``JobV1`` jobs, its errors as typed exceptions.

    from quantum_hub_client import QuantumHubProvider
    hub = QuantumHubProvider("http://127.0.0.1:5000", api_key="qh_...")
    backend = hub.backend("aer-simulator")
"""

__version__ = "0.1.0"

from quantum_hub_client.backend import QuantumHubBackend, build_target
from quantum_hub_client.exceptions import (
    AuthenticationError,
    ConflictError,
    HubConnectionError,
    JobCancelledError,
    JobFailedError,
    JobTimeout,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    ProgramError,
    QuantumHubError,
    RateLimitError,
    RequestValidationError,
    ServerError,
)
from quantum_hub_client.job import QuantumHubJob
from quantum_hub_client.primitives import EstimatorV2, QuantumHubPrimitiveJob, SamplerV2
from quantum_hub_client.provider import QuantumHubProvider

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "EstimatorV2",
    "HubConnectionError",
    "JobCancelledError",
    "JobFailedError",
    "JobTimeout",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "ProgramError",
    "QuantumHubBackend",
    "QuantumHubError",
    "QuantumHubJob",
    "QuantumHubPrimitiveJob",
    "QuantumHubProvider",
    "RateLimitError",
    "RequestValidationError",
    "SamplerV2",
    "ServerError",
    "build_target",
]
