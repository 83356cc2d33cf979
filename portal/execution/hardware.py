"""Reading the hardware catalogue: the devices a user may pick (filtered and paged), one by
id or name, and the device and shots a new run starts with.

The shipped entries and their seeding are ``catalogue``; prices and fit checks of an entry
are ``pricing``.
"""

from __future__ import annotations

import uuid

from portal.accounts.services import DEFAULT_PREFERENCES, preferences_for
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.paging import Page, paginate
from portal.execution.models import Hardware, HardwareStatus, HardwareTechnology


def list_hardware(
    *,
    status: HardwareStatus | None = None,
    technology: HardwareTechnology | None = None,
    min_qubits: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Catalogue entries matching the filters (retired ones only when asked)."""
    query = db.select(Hardware)
    if status is not None:
        query = query.where(Hardware.status == status)
    else:
        query = query.where(Hardware.status != HardwareStatus.RETIRED)
    if technology is not None:
        query = query.where(Hardware.technology_type == technology)
    if min_qubits is not None:
        query = query.where(Hardware.qubits >= min_qubits)
    return paginate(
        query.order_by(Hardware.technology_type, Hardware.qubits, Hardware.name), page, per_page
    )


def online_devices() -> list[Hardware]:
    """The devices a job can be sent to now, for pickers on the pages."""
    return list_hardware(status=HardwareStatus.ONLINE, per_page=100).items


def run_defaults(user) -> tuple[str, int]:
    """The device and shots a new run starts with: the user's preferences, else the
    portal's defaults."""
    prefs = preferences_for(user)
    device = prefs.get("default_device") or DEFAULT_PREFERENCES["default_device"]
    try:
        shots = int(prefs.get("default_shots") or DEFAULT_PREFERENCES["default_shots"])
    except (TypeError, ValueError):
        shots = DEFAULT_PREFERENCES["default_shots"]
    return device, shots


def get_hardware(ident: str | uuid.UUID) -> Hardware:
    """A catalogue entry by id or name; NotFound saying how to list them."""
    hardware = None
    try:
        hardware = db.session.get(Hardware, uuid.UUID(str(ident)))
    except ValueError:
        hardware = db.session.execute(
            db.select(Hardware).filter_by(name=str(ident))
        ).scalar_one_or_none()
    if hardware is None:
        raise NotFound(
            f"No device named {str(ident)!r}. GET /api/v1/hardware lists the devices.",
            details={"device": str(ident)},
        )
    return hardware
