"""Quantum Hub: a self-hostable portal for quantum software."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from portal.core.uow import PortalFlask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, CLI. No I/O happens here
    beyond reading settings; migrations and demo data are CLI commands."""
    from portal import api, cli, core
    from portal.accounts import auth  # noqa: F401 - registers the user loader
    from portal.config import load_config
    from portal.core import errors, jobmetrics, ops, tracing, web
    from portal.core.db import ping_idle_connections
    from portal.extensions import csrf, db, htmx, login_manager, migrate

    app = PortalFlask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_mapping(load_config(app.instance_path, config))
    ops.configure_logging(app.config["LOG_LEVEL"], app.config["LOG_JSON"])

    db.init_app(app)
    with app.app_context():
        ping_idle_connections(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)

    ops.init_app(app)
    tracing.init_app(app)
    jobmetrics.init_app(app)
    errors.init_app(app)
    web.init_app(app)
    core.register_blueprints(app)
    api.init_app(app)
    cli.init_app(app)
    return app
