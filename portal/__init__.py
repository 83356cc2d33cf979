"""Quantum Hub: a self-hostable portal for quantum software."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The application (``portal.app.create_app``)."""
    # Deferred: importing one module of the portal must not import every domain.
    from portal.app import create_app as build

    return build(config)
