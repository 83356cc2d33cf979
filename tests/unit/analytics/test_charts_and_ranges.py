from datetime import date
from decimal import Decimal

import pytest

from portal.analytics.charts import bar_chart
from portal.analytics.services import parse_range
from portal.core.errors import ValidationFailed
from portal.notifications.models import NotificationType
from portal.notifications.services import infer_event


def test_bar_chart_draws_one_bar_per_nonzero_point_with_exact_titles():
    svg = bar_chart(
        [(date(2025, 3, 1), Decimal("1.50")), (date(2025, 3, 2), Decimal("0")), ("b<x>", 3)],
        "Spend <per> day",
        money=True,
    )
    assert svg.count("<rect") == 2
    assert "2025-03-01: 1.50" in svg
    assert "b&lt;x&gt;" in svg and "<x>" not in svg  # labels are escaped
    assert 'aria-label="Spend &lt;per&gt; day: total 4.50 over 3 points"' in svg


def test_bar_chart_says_when_there_is_no_data():
    assert "No data in this range" in bar_chart([(date(2025, 3, 1), 0)], "Jobs")
    assert "No data in this range" in bar_chart([], "Jobs")


def test_parse_range_defaults_to_the_last_30_days():
    period = parse_range(None, None, today=date(2025, 3, 31))
    assert (period.start, period.end) == (date(2025, 3, 2), date(2025, 3, 31))
    assert len(period.days()) == 30


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [("2025-03-10", "2025-03-01", "swap"), ("yesterday", None, "date like"),
     ("2020-01-01", "2025-01-01", "at most")],
)  # fmt: skip
def test_parse_range_refuses_bad_ranges(start, end, message):
    with pytest.raises(ValidationFailed, match=message):
        parse_range(start, end, today=date(2025, 3, 31))


@pytest.mark.parametrize(
    ("type_", "title", "event"),
    [
        (NotificationType.JOB, "Job completed", "job.completed"),
        (NotificationType.JOB, "Job failed", "job.failed"),
        (NotificationType.SUBSCRIPTION, "Subscription active", "subscription.activated"),
        (NotificationType.SUBSCRIPTION, "Trial started", "subscription.activated"),
        (NotificationType.SUBSCRIPTION, "Subscription expiring soon", "subscription.expiring"),
        (NotificationType.SUBSCRIPTION, "Payment failed", "payment.failed"),
        (NotificationType.REVIEW, "Review received", "review.received"),
        (NotificationType.BUDGET, "Budget warning", "budget.warning"),
        (NotificationType.INFO, "Hello", None),
    ],
)
def test_events_are_inferred_for_callers_that_name_none(type_, title, event):
    assert infer_event(type_, title) == event
