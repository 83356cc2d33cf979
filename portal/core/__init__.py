"""What every domain shares: the database base, errors, operations, the layout."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """One blueprint per domain, registered explicitly, in navigation order."""
    from portal.core.views import bp as core_bp

    app.register_blueprint(core_bp)
    from portal.accounts.views import bp as accounts_bp
    from portal.admin.views import bp as admin_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    from portal.execution.views import hardware_bp, jobs_bp

    app.register_blueprint(jobs_bp)
    app.register_blueprint(hardware_bp)
    from portal.apps.views import bp as apps_bp
    from portal.apps.views import registry_bp

    app.register_blueprint(registry_bp)
    app.register_blueprint(apps_bp)
    from portal.marketplace.views import bp as marketplace_bp

    app.register_blueprint(marketplace_bp)
    from portal.projects.views import bp as projects_bp

    app.register_blueprint(projects_bp)
    from portal.analytics.views import bp as analytics_bp
    from portal.billing.views import bp as billing_bp
    from portal.notifications.views import bp as notifications_bp

    app.register_blueprint(billing_bp)
    app.register_blueprint(analytics_bp)
    app.register_blueprint(notifications_bp)
    from portal.webhooks.views import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
