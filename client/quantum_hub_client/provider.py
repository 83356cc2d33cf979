"""The entry point: ``QuantumHubProvider(url, token=... | api_key=... | login=, password=)``."""

from __future__ import annotations

from typing import Any

from qiskit.providers import JobStatus

from quantum_hub_client.api import ApiSession
from quantum_hub_client.backend import QuantumHubBackend
from quantum_hub_client.job import STATUS, QuantumHubJob

PORTAL_STATUS = {qiskit: portal for portal, qiskit in STATUS.items()}

PER_PAGE = 100  # the API's largest page
SERVER_FILTERS = ("status", "technology", "min_qubits")


class QuantumHubProvider:
    """A Quantum Hub portal seen from Qiskit.

    Authenticate with a bearer ``token`` (plus ``refresh_token`` to renew it), a personal
    ``api_key`` (``X-API-Key``; needs the ``read`` scope to list and ``jobs`` to run), or
    ``login`` + ``password`` (signs in through ``POST /api/v1/auth/login`` and renews the
    short-lived access token with the refresh token when it expires).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        api_key: str | None = None,
        login: str | None = None,
        password: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
    ):
        if sum(x is not None for x in (token, api_key, login)) != 1:
            raise ValueError("give exactly one of token=, api_key= or login= (with password=)")
        self.session = ApiSession(
            url, token=token, api_key=api_key, refresh_token=refresh_token, timeout=timeout
        )
        if login is not None:
            if password is None:
                raise ValueError("login= needs password=")
            self.session.login(login, password)
        self._backends: dict[str, QuantumHubBackend] = {}

    def __repr__(self) -> str:
        return f"<QuantumHubProvider('{self.session.base}')>"

    def _pages(self, path: str, **params: Any):
        page = 1
        while True:
            body = self.session.get(path, page=page, per_page=PER_PAGE, **params)
            yield from body["items"]
            if page * body["per_page"] >= body["total"] or not body["items"]:
                return
            page += 1

    def _backend_of(self, device: dict[str, Any]) -> QuantumHubBackend:
        backend = self._backends.get(device["name"])
        if backend is None or backend.device != device:
            backend = QuantumHubBackend(self, device)
            self._backends[device["name"]] = backend
        return backend

    def backends(self, name: str | None = None, **filters: Any) -> list[QuantumHubBackend]:
        """Devices of the catalogue. ``status``, ``technology`` and ``min_qubits`` filter on
        the portal; any other keyword (``device_like=True``, ``provider=...``) compares the
        device's field of that name."""
        server = {k: filters.pop(k) for k in SERVER_FILTERS if k in filters}
        for key in ("status", "technology"):
            if key in server and server[key] is not None:
                server[key] = str(getattr(server[key], "value", server[key])).upper()
        found = []
        for device in self._pages("/hardware", **server):
            if name is not None and device["name"] != name:
                continue
            if any(device.get(k) != v for k, v in filters.items()):
                continue
            found.append(self._backend_of(device))
        return found

    def backend(self, name: str) -> QuantumHubBackend:
        """One device, by name (``NotFoundError`` if there is none)."""
        return self._backend_of(self.session.get(f"/hardware/{name}"))

    def job(self, job_id: str) -> QuantumHubJob:
        """A job back by its id (or a multi-circuit run's comma-joined ids).

        The API does not return the program, so the register names of a job fetched this
        way are ``c0``, ``c1``, ... (sizes from the counts); the job a ``run()`` returned
        keeps the circuit's own."""
        ids = [part.strip() for part in str(job_id).split(",") if part.strip()]
        docs = [self.session.get(f"/jobs/{i}") for i in ids]
        job = QuantumHubJob(self.backend(docs[0]["device"]), ids, shots=docs[0]["shots"])
        job._docs = {doc["id"]: doc for doc in docs}
        return job

    def jobs(
        self,
        tags: list[str] | str | None = None,
        status: str | JobStatus | None = None,
        device: str | None = None,
        limit: int | None = 20,
        offset: int = 0,
    ) -> list[QuantumHubJob]:
        """Your jobs, newest first. ``tags``: jobs carrying all of them (the API filters on
        one tag; the others are checked here). ``status``: the portal's (``"COMPLETED"``) or
        Qiskit's ``JobStatus`` (``JobStatus.DONE``). ``limit=None`` lists everything."""
        if isinstance(tags, str):
            tags = [tags]
        tags = list(tags or [])
        if isinstance(status, JobStatus):
            if status not in PORTAL_STATUS:
                raise ValueError(f"no portal job has the status {status.name}")
            status = PORTAL_STATUS[status]
        status = str(status).upper() if status else None
        params = {"status": status, "device": device, "tag": tags[0] if tags else None}
        found: list[QuantumHubJob] = []
        skipped = 0
        for doc in self._pages("/jobs", **params):
            if not set(tags) <= set(doc.get("tags") or []):
                continue
            if skipped < offset:
                skipped += 1
                continue
            if limit is not None and len(found) >= limit:
                break
            job = QuantumHubJob(self.backend(doc["device"]), [doc["id"]], shots=doc["shots"])
            job._docs = {doc["id"]: doc}
            found.append(job)
        return found
