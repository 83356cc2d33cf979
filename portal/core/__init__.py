"""What every domain shares: the database base, errors, operations, the layout."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """One blueprint per domain, registered explicitly, in navigation order."""
    from portal.core.views import bp as core_bp

    app.register_blueprint(core_bp)
