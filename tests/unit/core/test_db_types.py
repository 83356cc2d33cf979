from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.dialects import postgresql

from portal.core.db import UTCDateTime


def test_naive_values_are_taken_as_utc():
    column = UTCDateTime()
    stored = column.process_bind_param(datetime(2026, 1, 2, 3, 4, 5), postgresql.dialect())
    assert stored.tzinfo is UTC and stored.hour == 3


def test_other_zones_are_converted_to_utc():
    column = UTCDateTime()
    plus_two = datetime(2026, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=2)))
    stored = column.process_bind_param(plus_two, postgresql.dialect())
    assert stored.tzinfo is UTC and stored.hour == 3
    assert column.process_bind_param(None, postgresql.dialect()) is None
