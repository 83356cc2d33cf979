"""The application factory: settings, extensions, every domain's blueprints (pages and API),
the receivers of cross-domain signals (``portal.subscribers``) and the CLI.

The factory is the one module that knows every domain: ``portal.core`` knows none, and a
domain knows only the layers below it (docs/architecture.md, "Layers").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from portal import api, cli, subscribers
from portal.accounts import auth  # noqa: F401 - registers the user loader
from portal.accounts.api import blueprints as accounts_api
from portal.accounts.views import bp as accounts_bp
from portal.admin.views import bp as admin_bp
from portal.analytics.views import bp as analytics_bp
from portal.apps.api import blp as apps_api
from portal.apps.api import registry_blp as registry_api
from portal.apps.views import bp as apps_bp
from portal.apps.views import registry_bp
from portal.billing.api import blp as bills_api
from portal.billing.views import bp as billing_bp
from portal.billing.webhooks import blp as payments_webhook_api
from portal.config import load_config
from portal.core import errors, ops, tracing, web
from portal.core.db import ping_idle_connections
from portal.core.extensions import csrf, db, htmx, login_manager, migrate
from portal.core.uow import PortalFlask
from portal.core.views import bp as core_bp
from portal.execution import metrics as job_metrics
from portal.execution.api import hardware_blp, jobs_blp
from portal.execution.views import hardware_bp, jobs_bp
from portal.marketplace.api import blueprints as marketplace_api
from portal.marketplace.views import bp as marketplace_bp
from portal.notifications.views import bp as notifications_bp
from portal.projects.api import blp as projects_api
from portal.projects.views import bp as projects_bp
from portal.webhooks.api import blueprints as webhooks_api
from portal.webhooks.views import bp as webhooks_bp

ROOT = Path(__file__).resolve().parent.parent

# One blueprint per domain, registered explicitly, in navigation order.
PAGES = (
    core_bp,
    accounts_bp,
    admin_bp,
    jobs_bp,
    hardware_bp,
    registry_bp,
    apps_bp,
    marketplace_bp,
    projects_bp,
    billing_bp,
    analytics_bp,
    notifications_bp,
    webhooks_bp,
)
# Each domain's API blueprint, in the order they appear in the docs.
API = (
    *accounts_api,
    apps_api,
    registry_api,
    hardware_blp,
    jobs_blp,
    *webhooks_api,
    projects_api,
    *marketplace_api,
    payments_webhook_api,
    bills_api,
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, CLI. No I/O happens here
    beyond reading settings; migrations and demo data are CLI commands."""
    app = PortalFlask(
        "portal",
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
    job_metrics.init_app(app)
    errors.init_app(app)
    web.init_app(app)
    for blueprint in PAGES:
        app.register_blueprint(blueprint)
    api.init_app(app, API)
    subscribers.connect()
    cli.init_app(app)
    return app
