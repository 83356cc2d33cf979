"""Execution fixtures: the shipped catalogue, and a real worker process."""

from __future__ import annotations

import pytest

from portal.execution.catalogue import ensure_catalogue
from tests.worker_process import ROOT, start_worker, worker_env  # noqa: F401 - shared


@pytest.fixture
def catalogue(db_session):
    entries = ensure_catalogue()
    db_session.commit()
    return {h.name: h for h in entries}
