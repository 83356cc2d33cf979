"""Pure billing rules: rounding, periods, budgets' parsing, the invoice-event router."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portal.billing import services
from portal.core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("quantity", "unit", "expected"),
    [
        (1000, "0.000010", "0.01"),
        (1, "0.005", "0.01"),  # half up, not banker's rounding
        (1, "0.015", "0.02"),
        (3, "0.333333", "1.00"),
        (7, "19.00", "133.00"),
        (0, "5.00", "0.00"),
    ],
)
def test_each_line_is_rounded_once_half_up_to_cents(quantity, unit, expected):
    assert services.line_amount(quantity, Decimal(unit)) == Decimal(expected)


def test_totals_are_the_plain_sum_of_rounded_lines():
    lines = [services.line_amount(1, Decimal("0.005")) for _ in range(3)]
    # Rounding the exact sum (0.015) would give 0.02; the bill says 0.03 = 3 x 0.01.
    assert sum(lines) == Decimal("0.03")


def test_period_bounds_are_calendar_months_in_utc():
    start, end = services.period_bounds(datetime(2024, 2, 29, 23, 59, tzinfo=UTC))
    assert (start, end) == (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    start, end = services.previous_period(datetime(2025, 1, 10, tzinfo=UTC))
    assert (start, end) == (datetime(2024, 12, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))


def test_parse_period():
    assert services.parse_period(None) is None
    assert services.parse_period("2025-03")[0] == datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed, match="YYYY-MM"):
        services.parse_period("March")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), (None, None), ("50", Decimal("50.00")), (" 12.5 ", Decimal("12.50"))],
)
def test_parse_budget_accepts(raw, expected):
    assert services.parse_budget(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("abc", "amount like"), ("-1", "between"), ("1.234", "two decimals"), ("NaN", "between"),
     ("2000000", "between")],
)  # fmt: skip
def test_parse_budget_refuses(raw, message):
    with pytest.raises(ValidationFailed, match=message):
        services.parse_budget(raw)


def test_format_unit():
    assert services.format_unit(Decimal("0.000010")) == "0.00001"
    assert services.format_unit(Decimal("19.00")) == "19"
    assert services.format_unit(None) == "—"


def test_invoice_events_are_routed_by_bill_metadata():
    seen = []
    handler = services.for_bills(
        lambda obj, created: seen.append(("bill", obj["id"])),
        lambda obj, created: seen.append(("other", obj["id"])),
    )
    handler({"id": "in_1", "metadata": {"bill_id": "x"}}, None)
    handler({"id": "in_2", "metadata": {"subscription_id": "y"}}, None)
    handler({"id": "in_3"}, None)
    assert seen == [("bill", "in_1"), ("other", "in_2"), ("other", "in_3")]
