"""``flask --app wsgi billing close-period [--period YYYY-MM]``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.core.errors import PortalError
from portal.extensions import db

billing_cli = AppGroup("billing", help="Bills and billing periods.")


@billing_cli.command("close-period")
@click.option("--period", default=None, help="Month to close, YYYY-MM (default: last month).")
def close_period_command(period: str | None) -> None:
    """Close every bill of a finished month (idempotent: closing twice changes nothing)."""
    from portal.billing import services

    try:
        bounds = services.parse_period(period)
        report = services.close_period(bounds[0] if bounds else None)
    except PortalError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(
        f"Period {report.period_start:%Y-%m}: closed {report.closed} bill(s) totalling "
        f"{report.total} {services.CURRENCY}; {report.already_closed} already closed."
    )
