"""``flask --app wsgi billing close-period [--period YYYY-MM]``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.billing import services
from portal.core.errors import PortalError
from portal.core.uow import unit_of_work

billing_cli = AppGroup("billing", help="Bills and billing periods.")


@billing_cli.command("close-period")
@click.option("--period", default=None, help="Month to close, YYYY-MM (default: last month).")
def close_period_command(period: str | None) -> None:
    """Close every bill of a finished month (idempotent: closing twice changes nothing)."""
    try:
        with unit_of_work():
            bounds = services.parse_period(period)
            report = services.close_period(bounds[0] if bounds else None)
    except PortalError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Period {report.period_start:%Y-%m}: closed {report.closed} bill(s) totalling "
        f"{report.total} {services.CURRENCY}; {report.already_closed} already closed."
    )
