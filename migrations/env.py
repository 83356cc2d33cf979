"""Alembic environment for Flask-Migrate (PostgreSQL)."""

import logging

from alembic import context
from flask import current_app

import portal.models  # noqa: F401 - every model must be imported for autogenerate
from portal.core.crypto import EncryptedText
from portal.core.db import UTCDateTime, include_object

logger = logging.getLogger("alembic.env")
config = context.config
target_db = current_app.extensions["migrate"].db


def render_item(type_, obj, autogen_context):
    """Write the portal's own column types as plain SQLAlchemy types in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EncryptedText):
        return "sa.Text()"
    return False


def configure_args() -> dict:
    return {
        "target_metadata": target_db.metadata,
        "compare_type": True,
        "render_item": render_item,
        "include_object": include_object,
    }


def run_migrations_offline():
    context.configure(url=str(target_db.engine.url), literal_binds=True, **configure_args())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    connectable = config.attributes.get("connection") or target_db.engine
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            process_revision_directives=process_revision_directives,
            **configure_args(),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
