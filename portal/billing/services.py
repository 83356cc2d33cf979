"""Billing rules: bills per user per calendar month (UTC), built from billing items.

Where items come from
- **Job charges**: every COMPLETED job with an ``actual_cost`` becomes one line (``kind="job"``,
  quantity = 1 run, unit price = amount = the job's recorded ``actual_cost``: per-job fee +
  shots x per-shot price + compute time x hourly price, which execution rounds once; the
  description spells the breakdown out). Runs under a subscription carry no device fee
  (``portal.execution.pricing.run_fee``: the plan's price includes it), so they add no job
  line.
  ``billing_items.job_id`` is unique, so a job is charged once even when two syncs race.
- **Subscription fees** (``kind="subscription"``): MONTHLY subscriptions are charged their rate
  in every month they overlap; ANNUAL ones in the month of each start anniversary; TRIAL
  ones never. These are prepaid through the subscription's own checkout / recurring payments,
  so they count as paid on the bill.
- **Pay-as-you-go usage** (``kind="usage"``): the subscription's rate x the number of jobs run
  under it in the month (recomputed while the month is open, frozen when it closes).

Money rule: ``Decimal`` everywhere; each line is computed exactly and rounded **once**, to
cents with ROUND_HALF_UP (``line_amount``). A bill's total is the plain sum of its lines; no
total is ever rounded again, so totals always equal the sum of the lines.

Open bills are brought up to date (``sync_bill``) whenever they are read; closing a period
(``close_period``, the CLI and the worker schedule hook) syncs each bill a last time, stamps
``closed_at`` and asks the payment provider for what is still due. Closed bills never change
again except for their payment status, which follows the provider's invoice events.
"""

from __future__ import annotations

import secrets
import time
import uuid
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
import structlog
from flask import current_app
from sqlalchemy.dialects.postgresql import insert

from portal.accounts.models import User
from portal.billing import policy
from portal.billing.models import BillingItem, UserBill
from portal.core.db import utcnow
from portal.core.errors import NotFound, PaymentRequired, ValidationFailed
from portal.core.extensions import db
from portal.core.paging import Page, paginate
from portal.core.payments import (
    LocalTestProvider,
    StripeProvider,
    apply_local_event,
    minor_units,
    provider,
)
from portal.core.uow import unit_of_work
from portal.execution.models import Job, JobStatus
from portal.marketplace.models import Subscription, SubscriptionStatus, SubscriptionType
from portal.notifications.models import Notification, NotificationType
from portal.notifications.services import notify

log = structlog.get_logger("portal.billing")

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CURRENCY = "USD"
DUE_DAYS = 14
BUDGET_WARN_RATIO = Decimal("0.8")
MAX_BUDGET = Decimal("1000000")

# Payment status of a bill.
OPEN, PENDING, PAID, FAILED = "OPEN", "PENDING", "PAID", "FAILED"
# Kinds of line.
JOB, SUBSCRIPTION, USAGE = "job", "subscription", "usage"
# Subscriptions that were live (paid for) at some point; PENDING ones never started.
BILLABLE_STATUSES = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.CANCELLED,
    SubscriptionStatus.EXPIRED,
)


def line_amount(quantity: int | Decimal, unit_price: Decimal) -> Decimal:
    """The one rounding rule: exact product, then ROUND_HALF_UP to cents, once per line."""
    return (Decimal(quantity) * Decimal(unit_price)).quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(CENT, rounding=ROUND_HALF_UP)


def format_unit(value: Decimal | None) -> str:
    """A unit price without trailing zeros ("0.00001"), or a dash when there is none."""
    return "—" if value is None else f"{Decimal(value).normalize():f}"


def line_columns(item: BillingItem) -> tuple[int, str]:
    """The quantity and unit price a bill line shows, so that quantity x unit price is its
    amount at the precision shown. Lines stored before job lines became "1 run at its price"
    (quantity = shots, unit = per-shot price, amount with the per-job fee) show as one run."""
    if item.unit_price is not None and line_amount(item.quantity, item.unit_price) == item.amount:
        return item.quantity, format_unit(item.unit_price)
    return 1, f"{money(item.amount)}"


# -- periods ---------------------------------------------------------------------------------


def period_bounds(moment: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month (UTC) containing ``moment``."""
    moment = (moment or utcnow()).astimezone(UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    return start, start + timedelta(days=monthrange(moment.year, moment.month)[1])


def previous_period(moment: datetime | None = None) -> tuple[datetime, datetime]:
    start, _ = period_bounds(moment)
    return period_bounds(start - timedelta(days=1))


def parse_period(text: str | None) -> tuple[datetime, datetime] | None:
    """ "2025-03" -> that month's bounds; None for an empty value; ValidationFailed otherwise."""
    if not text:
        return None
    try:
        moment = datetime.strptime(text.strip(), "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationFailed(
            f"Period {text!r} is not a month; write it as YYYY-MM (e.g. 2025-03).",
            details={"period": "YYYY-MM"},
        ) from None
    return period_bounds(moment)


# -- bills -----------------------------------------------------------------------------------


def _bill_for(user_id: uuid.UUID, period_start: datetime) -> UserBill:
    """The user's bill for the period, created if missing (race-safe on the unique key) and
    locked for this transaction so concurrent syncs of the same bill take turns."""
    start, end = period_bounds(period_start)
    now = utcnow()
    db.session.execute(
        insert(UserBill)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            period_start=start,
            period_end=end,
            billing_date=end,
            currency=CURRENCY,
            paid_amount=ZERO,
            pending_amount=ZERO,
            payment_status=OPEN,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "period_start"])
    )
    return db.session.execute(
        sa.select(UserBill)
        .where(UserBill.user_id == user_id, UserBill.period_start == start)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def bill_total(bill: UserBill) -> Decimal:
    """The sum of the lines (never rounded again)."""
    return sum((item.amount for item in bill.items), ZERO)


def prepaid_total(bill: UserBill) -> Decimal:
    return sum((i.amount for i in bill.items if i.kind == SUBSCRIPTION), ZERO)


def _job_line(job: Job, bill_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    hardware = job.hardware
    per_shot = (hardware.cost_per_shot if hardware else None) or Decimal(0)
    seconds = job.result.execution_time if job.result and job.result.execution_time else 0
    description = (
        f"Job {job.name or job.id} on {job.device_id or 'device'}: {job.shots} shots"
        f" x {per_shot.normalize():f}"
    )
    if hardware is not None and hardware.cost_per_job:
        description += f" + {money(hardware.cost_per_job)} per job"
    if hardware is not None and hardware.cost_per_hour:
        description += f" + {seconds:.3f} s x {money(hardware.cost_per_hour)}/h"
    return {
        "id": uuid.uuid4(),
        "bill_id": bill_id,
        "description": description[:255],
        # One run at its price: quantity x unit price is the amount at the precision shown
        # (the shots and per-shot price are in the description, not in the columns).
        "amount": money(job.actual_cost),
        "quantity": 1,
        "unit_price": money(job.actual_cost),
        "subscription_id": job.subscription_id,
        "job_id": job.id,
        "kind": JOB,
        "created_at": job.finished_at or now,
        "updated_at": now,
    }


def _add_job_items(bill: UserBill) -> list[UserBill]:
    """Charge the user's completed, costed, not yet charged jobs finished before the bill's
    period ends. Each goes on the bill of the month it finished in; if that bill is already
    closed (a job that finished just before the close committed after it), on ``bill``.
    Returns the other open bills that received lines."""
    jobs = (
        db.session.execute(
            sa.select(Job)
            .outerjoin(BillingItem, BillingItem.job_id == Job.id)
            .where(
                Job.user_id == bill.user_id,
                Job.status == JobStatus.COMPLETED,
                Job.actual_cost.is_not(None),
                # A plan's run is paid by the plan (no device fee): no zero line per run.
                sa.or_(Job.subscription_id.is_(None), Job.actual_cost != 0),
                Job.finished_at < bill.period_end,
                BillingItem.id.is_(None),
            )
            .order_by(Job.finished_at, Job.id)
        )
        .scalars()
        .all()
    )
    now = utcnow()
    bills = {bill.period_start: bill}
    for job in jobs:
        start, _ = period_bounds(job.finished_at)
        target = bills.get(start)
        if target is None:
            target = bills[start] = _bill_for(bill.user_id, start)
        if target.closed_at is not None:
            target = bill
        db.session.execute(
            insert(BillingItem)
            .values(**_job_line(job, target.id, now))
            .on_conflict_do_nothing(index_elements=["job_id"])
        )
    return [b for b in bills.values() if b is not bill and b.closed_at is None]


def _subscription_label(subscription: Subscription) -> str:
    app = subscription.app
    return getattr(app, "name", None) or f"subscription {subscription.id}"


def _anniversary_in(start: datetime, period_start: datetime, period_end: datetime) -> bool:
    if start >= period_end:
        return False
    return start.month == period_start.month


def _upsert_subscription_line(
    bill: UserBill, subscription: Subscription, kind: str, quantity: int, description: str
) -> None:
    rate = subscription.rate or ZERO
    existing = next(
        (i for i in bill.items if i.subscription_id == subscription.id and i.kind == kind), None
    )
    amount = line_amount(quantity, rate)
    if existing is None:
        if quantity <= 0:
            return
        bill.items.append(
            BillingItem(
                description=description[:255],
                amount=amount,
                quantity=quantity,
                unit_price=rate,
                subscription_id=subscription.id,
                kind=kind,
            )
        )
    elif existing.quantity != quantity or existing.amount != amount:
        existing.quantity, existing.amount, existing.unit_price = quantity, amount, rate
        existing.description = description[:255]


def _add_subscription_items(bill: UserBill) -> None:
    subscriptions = (
        db.session.execute(
            sa.select(Subscription).where(
                Subscription.user_id == bill.user_id,
                Subscription.status.in_(BILLABLE_STATUSES),
                Subscription.subscription_type != SubscriptionType.TRIAL,
                Subscription.start_date < bill.period_end,
                sa.or_(Subscription.end_date.is_(None), Subscription.end_date > bill.period_start),
            )
        )
        .scalars()
        .all()
    )
    month = bill.period_start.strftime("%Y-%m")
    for sub in subscriptions:
        if not sub.rate:
            continue
        label = _subscription_label(sub)
        if sub.subscription_type is SubscriptionType.MONTHLY:
            _upsert_subscription_line(
                bill, sub, SUBSCRIPTION, 1, f"{label}: monthly subscription, {month}"
            )
        elif sub.subscription_type is SubscriptionType.ANNUAL:
            if _anniversary_in(sub.start_date, bill.period_start, bill.period_end):
                _upsert_subscription_line(
                    bill, sub, SUBSCRIPTION, 1, f"{label}: annual subscription from {month}"
                )
        elif sub.subscription_type is SubscriptionType.PAY_AS_YOU_GO:
            runs = db.session.execute(
                sa.select(sa.func.count())
                .select_from(Job)
                .where(
                    Job.subscription_id == sub.id,
                    Job.status == JobStatus.COMPLETED,
                    Job.finished_at >= bill.period_start,
                    Job.finished_at < bill.period_end,
                )
            ).scalar_one()
            _upsert_subscription_line(
                bill, sub, USAGE, runs, f"{label}: {runs} pay-as-you-go runs in {month}"
            )


def _refresh_amounts(bill: UserBill) -> None:
    total = bill_total(bill)
    if bill.payment_status == PAID:
        bill.paid_amount, bill.pending_amount = total, ZERO
        return
    paid = prepaid_total(bill)
    bill.paid_amount, bill.pending_amount = paid, total - paid


def sync_bill(bill: UserBill) -> UserBill:
    """Bring an open bill up to date with jobs and subscriptions (flush). Closed: no-op."""
    if bill.closed_at is not None:
        return bill
    others = _add_job_items(bill)
    db.session.flush()
    for each in (bill, *others):
        db.session.refresh(each, attribute_names=["items"])
        _add_subscription_items(each)
        _refresh_amounts(each)
    db.session.flush()
    return bill


def current_bill(user: User, now: datetime | None = None) -> UserBill:
    """The user's open bill for this month, up to date."""
    start, _ = period_bounds(now)
    return sync_bill(_bill_for(user.id, start))


def list_bills(user: User, page: int = 1, per_page: int = 20) -> Page:
    """The user's bills, newest period first; the current month's is synced first."""
    current_bill(user)
    query = sa.select(UserBill).where(UserBill.user_id == user.id)
    return paginate(query.order_by(UserBill.period_start.desc()), page, per_page)


def get_bill(user: User, bill_id: Any) -> UserBill:
    """The user's bill (synced when open). Another user's bill or a bad id is NotFound."""
    try:
        key = uuid.UUID(str(bill_id))
    except ValueError:
        raise NotFound("No such bill.", details={"bill_id": str(bill_id)}) from None
    bill = db.session.get(UserBill, key)
    if bill is None or not policy.may_use_bill(user, bill):
        raise NotFound("No such bill.", details={"bill_id": str(bill_id)})
    if bill.closed_at is None:
        bill = sync_bill(_bill_for(user.id, bill.period_start))
    return bill


# -- closing ---------------------------------------------------------------------------------


@dataclass
class CloseReport:
    period_start: datetime
    closed: int = 0
    already_closed: int = 0
    total: Decimal = ZERO
    bill_ids: list[uuid.UUID] = field(default_factory=list)


def _users_with_activity(start: datetime, end: datetime) -> set[uuid.UUID]:
    jobs = db.session.execute(
        sa.select(Job.user_id)
        .outerjoin(BillingItem, BillingItem.job_id == Job.id)
        .where(
            Job.status == JobStatus.COMPLETED,
            Job.actual_cost.is_not(None),
            Job.finished_at < end,
            BillingItem.id.is_(None),
        )
        .distinct()
    ).scalars()
    subs = db.session.execute(
        sa.select(Subscription.user_id)
        .where(
            Subscription.status.in_(BILLABLE_STATUSES),
            Subscription.subscription_type != SubscriptionType.TRIAL,
            Subscription.rate > 0,
            Subscription.start_date < end,
            sa.or_(Subscription.end_date.is_(None), Subscription.end_date > start),
        )
        .distinct()
    ).scalars()
    bills = db.session.execute(
        sa.select(UserBill.user_id).where(UserBill.period_start == start)
    ).scalars()
    return set(jobs) | set(subs) | set(bills)


def close_period(period_start: datetime | None = None, now: datetime | None = None) -> CloseReport:
    """Close every bill of the period (default: last month). Idempotent: a closed bill is
    never touched again, so running it twice changes nothing. Refuses a period that has not
    ended yet. Flushes; the caller commits."""
    now = now or utcnow()
    start, end = period_bounds(period_start) if period_start else previous_period(now)
    if end > now:
        raise ValidationFailed(
            f"The period {start:%Y-%m} has not ended yet; it can be closed from {end:%Y-%m-%d}.",
            details={"period": f"{start:%Y-%m}"},
        )
    report = CloseReport(period_start=start)
    for user_id in sorted(_users_with_activity(start, end), key=str):
        bill = _bill_for(user_id, start)
        if bill.closed_at is not None:
            report.already_closed += 1
            continue
        sync_bill(bill)
        total = bill_total(bill)
        bill.closed_at = now
        bill.billing_date = end
        bill.due_date = end + timedelta(days=DUE_DAYS)
        bill.payment_status = PAID if bill.pending_amount <= 0 else PENDING
        db.session.flush()
        if bill.pending_amount > 0:
            issue_invoice(bill)
        report.closed += 1
        report.total += total
        report.bill_ids.append(bill.id)
    # The worker's schedule calls this every tick: say so only when a bill was closed.
    (log.info if report.closed else log.debug)(
        "billing period closed",
        period=f"{start:%Y-%m}",
        closed=report.closed,
        already_closed=report.already_closed,
        total=str(report.total),
    )
    return report


def scheduled_close(now: datetime | None = None) -> CloseReport:
    """Worker schedule hook: close last month's bills. Safe to call on every tick (closing is
    idempotent and cheap once done); its own unit of work."""
    with unit_of_work():
        return close_period(now=now)


# -- payment ---------------------------------------------------------------------------------


def issue_invoice(bill: UserBill) -> None:
    """Ask the provider to collect what the closed bill still owes. Stripe: an invoice with
    ``metadata.bill_id`` (its events come back through the webhook). Local test provider:
    nothing to do here; the bill page offers "Pay (test)", which sends the same event."""
    payments = provider()
    if not isinstance(payments, StripeProvider):
        return
    customer_id = db.session.execute(
        sa.select(Subscription.stripe_customer_id)
        .where(Subscription.user_id == bill.user_id, Subscription.stripe_customer_id.is_not(None))
        .limit(1)
    ).scalar_one_or_none()
    metadata = {"bill_id": str(bill.id)}
    try:
        client = payments.client.v1
        if not customer_id:
            user = db.session.get(User, bill.user_id)
            customer_id = client.customers.create(
                params={"email": user.email, "metadata": {"user_id": str(user.id)}},
                options={"idempotency_key": f"qh-customer-{bill.user_id}"},
            ).id
        invoice = client.invoices.create(
            params={
                "customer": customer_id,
                "currency": bill.currency.lower(),
                "collection_method": "send_invoice",
                "days_until_due": DUE_DAYS,
                "metadata": metadata,
            },
            options={"idempotency_key": f"qh-bill-{bill.id}"},
        )
        client.invoice_items.create(
            params={
                "customer": customer_id,
                "invoice": invoice.id,
                "currency": bill.currency.lower(),
                "amount": minor_units(bill.pending_amount, bill.currency),
                "description": f"Quantum Hub usage {bill.period_start:%Y-%m}",
                "metadata": metadata,
            },
            options={"idempotency_key": f"qh-bill-item-{bill.id}"},
        )
        finalized = client.invoices.finalize_invoice(invoice.id)
        bill.invoice_url = (getattr(finalized, "hosted_invoice_url", None) or "")[:255] or None
    except Exception as exc:  # the bill stays PENDING; the provider can be retried by hand
        log.warning("issuing the stripe invoice failed", bill_id=str(bill.id), error=str(exc))


def pay_locally(user: User, bill_id: Any) -> UserBill:
    """The local test provider's "Pay (test)": the same ``invoice.paid`` event Stripe sends."""
    bill = get_bill(user, bill_id)
    if not isinstance(provider(), LocalTestProvider):
        raise NotFound("Bills are paid through Stripe here; follow the invoice link.")
    if bill.closed_at is None:
        raise ValidationFailed("This month's bill is still open; it can be paid once closed.")
    if bill.payment_status == PAID:
        return bill
    event = {
        "id": f"evt_local_{secrets.token_hex(12)}",
        "object": "event",
        "type": "invoice.paid",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"in_local_{bill.id.hex[:20]}",
                "object": "invoice",
                "amount_paid": minor_units(bill.pending_amount, bill.currency),
                "currency": bill.currency.lower(),
                "metadata": {"bill_id": str(bill.id)},
            }
        },
    }
    apply_local_event(event)  # portal.billing.webhooks.process_event, as for Stripe's
    return bill


def _bill_of_invoice(invoice: dict[str, Any]) -> UserBill | None:
    try:
        key = uuid.UUID(str((invoice.get("metadata") or {}).get("bill_id")))
    except ValueError:
        return None
    return db.session.get(UserBill, key, with_for_update=True)


def on_invoice_paid(invoice: dict[str, Any], created: datetime) -> None:
    """``invoice.paid`` for a bill: everything on it is paid."""
    bill = _bill_of_invoice(invoice)
    if bill is None:
        log.info("invoice.paid for an unknown bill; ignored", invoice=invoice.get("id"))
        return
    bill.payment_status = PAID
    bill.paid_amount, bill.pending_amount = bill_total(bill), ZERO
    if invoice.get("hosted_invoice_url"):
        bill.invoice_url = str(invoice["hosted_invoice_url"])[:255]
    db.session.flush()


def on_invoice_payment_failed(invoice: dict[str, Any], created: datetime) -> None:
    """``invoice.payment_failed`` for a bill: mark it FAILED (a late failure never undoes a
    payment) and tell the user."""
    bill = _bill_of_invoice(invoice)
    if bill is None or bill.payment_status == PAID:
        return
    bill.payment_status = FAILED
    db.session.flush()
    notify(
        bill.user_id,
        "Payment failed",
        f"We could not collect {bill.pending_amount} {bill.currency} for your "
        f"{bill.period_start:%B %Y} bill. Please check your payment method.",
        type=NotificationType.PAYMENT,
        link=f"/billing/{bill.id}",
        event="payment.failed",
    )


def for_bills(bill_handler, other_handler):
    """An invoice-event handler that sends bill invoices (``metadata.bill_id``) to billing and
    every other invoice (subscriptions) to ``other_handler``."""

    def handle(invoice: dict[str, Any], created: datetime) -> None:
        if (invoice.get("metadata") or {}).get("bill_id"):
            bill_handler(invoice, created)
        elif other_handler is not None:
            other_handler(invoice, created)

    handle.__name__ = getattr(bill_handler, "__name__", "handle")
    return handle


# -- budgets ---------------------------------------------------------------------------------


def parse_budget(raw: Any) -> Decimal | None:
    """A budget from a form or JSON: empty = no budget; else 0..1,000,000 with cents."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            "The budget must be an amount like 50 or 49.99 (leave it empty for no budget).",
            details={"monthly_budget": "amount"},
        ) from None
    if not value.is_finite() or value < 0 or value > MAX_BUDGET:
        raise ValidationFailed(
            f"The budget must be between 0 and {MAX_BUDGET:,}.",
            details={"monthly_budget": f"0..{MAX_BUDGET}"},
        )
    if value != value.quantize(CENT):
        raise ValidationFailed(
            "The budget can have at most two decimals (cents).",
            details={"monthly_budget": "cents"},
        )
    return value.quantize(CENT)


def set_monthly_budget(user: User, raw: Any) -> Decimal | None:
    user.monthly_budget = parse_budget(raw)
    db.session.flush()
    return user.monthly_budget


def month_spend(user_id: uuid.UUID, now: datetime | None = None) -> Decimal:
    """What this month's jobs cost or will cost: completed jobs' actual cost plus the estimate
    of jobs still waiting or running (so a burst of submissions cannot overrun the budget)."""
    start, end = period_bounds(now)
    done = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Job.actual_cost), 0)).where(
            Job.user_id == user_id,
            Job.status == JobStatus.COMPLETED,
            Job.finished_at >= start,
            Job.finished_at < end,
        )
    ).scalar_one()
    waiting = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Job.estimated_cost), 0)).where(
            Job.user_id == user_id,
            Job.status.in_((JobStatus.PROVISIONING, JobStatus.QUEUED, JobStatus.RUNNING)),
        )
    ).scalar_one()
    return money(Decimal(done) + Decimal(waiting))


def _warned_this_month(user_id: uuid.UUID, now: datetime | None) -> bool:
    start, _ = period_bounds(now)
    return (
        db.session.execute(
            sa.select(Notification.id)
            .where(
                Notification.user_id == user_id,
                Notification.type == NotificationType.BUDGET,
                Notification.created_at >= start,
            )
            .limit(1)
        ).first()
        is not None
    )


def check_budget(user: User, estimated_cost: Decimal, now: datetime | None = None) -> None:
    """Refuse a job that would take this month's spend past the user's budget (402, saying
    how much is left); warn once a month when spend reaches 80 % of it."""
    budget = user.monthly_budget
    if budget is None:
        return
    # One submission per user at a time past this point (the lock lasts until the job's
    # transaction commits), so two concurrent jobs cannot both spend the last of the budget.
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    estimated = money(estimated_cost)
    spent = month_spend(user.id, now)
    left = max(ZERO, budget - spent)
    if estimated > left:
        raise PaymentRequired(
            f"This job would cost {estimated} {CURRENCY} but only {left} {CURRENCY} is left of "
            f"your monthly budget of {budget} {CURRENCY}. Raise the budget on the billing page "
            "or wait for next month.",
            code="budget_exceeded",
            details={
                "monthly_budget": str(budget),
                "spent": str(spent),
                "left": str(left),
                "estimated_cost": str(estimated),
            },
        )
    reaches_warning = budget > 0 and spent + estimated >= budget * BUDGET_WARN_RATIO
    if reaches_warning and not _warned_this_month(user.id, now):
        notify(
            user.id,
            "Budget warning",
            f"You have used {spent + estimated} of your {budget} {CURRENCY} monthly budget "
            f"(80 % or more). {left - estimated} {CURRENCY} is left this month.",
            type=NotificationType.BUDGET,
            link="/billing/budget",
            event="budget.warning",
        )


def seller() -> dict[str, str]:
    """Who issues the invoices (``BILLING_SELLER_*`` settings, with a self-hosted default)."""
    config = current_app.config
    return {
        "name": config.get("BILLING_SELLER_NAME", "Quantum Hub"),
        "address": config.get("BILLING_SELLER_ADDRESS", "Self-hosted instance"),
        "email": config.get("BILLING_SELLER_EMAIL", config.get("MAIL_FROM") or ""),
    }
