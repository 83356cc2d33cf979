"""Command-line entry points: ``flask --app wsgi <command>``."""

from __future__ import annotations

import click
from flask import Flask

from portal.billing.cli import billing_cli
from portal.core.crypto import rotate_all
from portal.core.extensions import db
from portal.core.uow import unit_of_work
from portal.demo import load_demo_data
from workers.cli import reconcile_command, worker_command


@click.command("demo-data")
def demo_data_command() -> None:
    """Create demo accounts, the simulator catalogue and sample apps (idempotent)."""
    with unit_of_work():
        created = load_demo_data()
    if created:
        click.echo("Demo accounts created (shown once; change them on a shared machine):")
        for username, password in created.items():
            click.echo(f"  {username:<10} password: {password}")
    else:
        click.echo("Demo data already present; nothing changed.")


@click.command("rotate-encryption")
def rotate_encryption_command() -> None:
    """Re-encrypt every encrypted value with the newest key of QH_ENCRYPTION_KEYS."""
    with unit_of_work():
        changed = rotate_all(db.session, db.metadata)
    click.echo(f"Re-encrypted {changed} value(s) with the newest key.")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_data_command)
    app.cli.add_command(rotate_encryption_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(reconcile_command)
    app.cli.add_command(billing_cli)
